"""Tracker parameters (one typed struct; the site YAML's ``tracker`` section)."""

from __future__ import annotations

from typing import Literal

import msgspec


class TrackerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Tracker parameters, SI units.

    Motion: ``imm`` mixes one nearly-constant-velocity model per entry of
    ``sigma_a_mps2`` (white-noise acceleration, one sigma) with mean sojourn
    times ``tau_s``; ``cv`` uses only the first model.
    """

    motion: Literal["imm", "cv"] = "imm"
    #: Process noise per mode: a cruise model and a high-manoeuvre model (about 2.5 g).
    #: Tuned on ``bench`` (NCV targets) and the 3 g turn test: see README.
    sigma_a_mps2: tuple[float, ...] = (1.5, 25.0)
    #: Mean time spent in each mode before switching, seconds.
    tau_s: tuple[float, ...] = (120.0, 5.0)
    #: Initial mode probabilities of a new track.
    mode_p0: tuple[float, ...] = (0.95, 0.05)
    #: One-sigma speed uncertainty of a new track with no velocity measurement.
    init_speed_sigma_mps: float = 80.0
    #: The same for the vertical speed: air objects climb and sink far slower than they fly.
    init_vspeed_sigma_mps: float = 25.0
    #: A sensor's detections only pair with (and bearings only triangulate into) tracks
    #: within this factor of its max range. [1, 10]
    range_margin: float = 1.2
    #: Gate: probability mass of the chi-square validation region.
    gate_p: float = 0.9997
    #: The k-d tree prefilter looks for radar plots within this many gates of a track
    #: (in chi-square units, over a ball that bounds the gate ellipsoid): a margin, as a
    #: plot's converted position covariance only approximates its gate. (Position and
    #: bearing gates are bounded exactly and need none.) [1, 100]
    prefilter_gate_factor: float = 4.0
    #: A detection carrying a track's own cooperative identity associates with it within
    #: this many gates (a different identity never does). [1, 1e4]
    identity_gate_factor: float = 100.0
    #: Cost added to a tentative track's pairs, so that a detection goes to an
    #: established track first (negative log-likelihood units). [0, 100]
    tentative_cost: float = 10.0
    #: One-sigma speed error of a new track started from a Remote ID / ADS-B report
    #: that gives speed and course, m/s. (0, 50]
    cooperative_speed_sigma_mps: float = 5.0
    #: Association: global nearest neighbour, or JPDA in clusters with several tracks.
    association: Literal["gnn", "jpda"] = "gnn"
    #: Detection probability and clutter density assumed by JPDA (per m^dim).
    jpda_pd: float = 0.9
    jpda_clutter_density: float = 1e-9
    #: JPDA: a track whose detections carry more than this total probability counts
    #: as updated (hits, identity, classification evidence). (0, 1)
    jpda_update_p: float = 0.5
    #: JPDA: a detection with more than this probability on some track is used (starts
    #: no new track). (0, 1)
    jpda_used_p: float = 0.1
    #: A tentative track is confirmed after this many updates ...
    confirm_hits: int = 3
    #: ... once its speed is known this well (one sigma, RMS over axes): three
    #: quick hits from a camera and a radar alone do not pin down a velocity.
    confirm_max_vel_std_mps: float = 30.0
    #: ... and its updates span at least this long (a velocity needs a baseline).
    confirm_min_span_s: float = 1.5
    #: ... within this time of its first detection, else deleted.
    confirm_window_s: float = 8.0
    #: A tentative track with no update for this long is deleted.
    tentative_timeout_s: float = 3.5
    #: A confirmed track with no update for this long is coasting ...
    coast_after_s: float = 3.0
    #: ... and is deleted after this long without an update. Both count only updates
    #: that fix the position: bearings of one sensor alone leave the range unknown.
    delete_after_s: float = 15.0
    #: Bearings of two sensors this close in time fix a track's position ...
    bearing_fix_window_s: float = 3.0
    #: ... when they leave its horizontal position one-sigma at most this many times
    #: what it was after the previous fix, or within ``bearing_fix_sd_m``: a track
    #: that has lost its object takes stray bearings of whatever lies on them, and
    #: two such from sensors close together "fix" it while its uncertainty grows
    #: (mass-raid: a track kept alive 110 s so, its sigma 2 -> 110 m, drifting 1.6 km
    #: from its drone). 0 turns the check off. [0, 100]
    bearing_fix_max_growth: float = 2.0
    #: ... [0, 1e5]
    bearing_fix_sd_m: float = 30.0
    #: A direction finder's bearings stop pairing with a track once the running mean
    #: (weight ``rf_bias_alpha`` per bearing) of their azimuth residuals passes this
    #: many of the finder's sigmas plus three of the track's own after
    #: ``rf_bias_min_n`` bearings: another emitter's (``Tracker._rf_unbiased``). 0
    #: turns it off. [0, 100]
    rf_bias_max: float = 1.0
    #: ... A turn's lag lasts seconds, another emitter's offset minutes: at 0.1 (and 5
    #: bearings) an attack drone's radar-held track refused its own bearings in a turn,
    #: a neighbour's track took them and was held heading at a zone 48 s after its
    #: drone turned away (mass-raid seed 2). (0, 1]
    rf_bias_alpha: float = 0.05
    #: ... [1, 10000]
    rf_bias_min_n: int = 10
    #: ... for a track a radar plot or position report updated within this long. [0, 600]
    rf_bias_fix_s: float = 5.0
    #: Delete any track whose position one-sigma (RMS over axes) exceeds this.
    max_pos_std_m: float = 2_500.0
    #: A track lost in a manoeuvre (coasting) is continued by a track confirmed where the
    #: lost one could have flown since its last fix, turning at up to this acceleration:
    #: the new track takes the lost one's id (and with it its class evidence and alerts)
    #: instead of the object showing up as a second object. 0 turns this off. [0, 100]
    continue_accel_mps2: float = 30.0
    #: ... at most this far from the lost track's straight-line prediction. [0, 1e5]
    continue_max_m: float = 1_500.0
    #: ... by a track first seen at most this long ago. [0, 600]
    continue_window_s: float = 10.0
    #: ... unless the lost track is predicted more than this far below the site's
    #: origin, metres (up is negative): it came down. [-1e5, 0]
    continue_min_up_m: float = -300.0
    #: Two established tracks within ``merge_max_m`` of each other (horizontally and
    #: vertically), at velocities within ``merge_max_dv_mps``, with no third track that
    #: close, that each had ``merge_fixes`` position fixes over the same span with no
    #: batch fixing both, are one object seen twice: no sensor's scan gave two plots
    #: there, each radar's plot went to one of them (two radars kilometres apart
    #: disagree by tens of metres). The better-fixed track carries on under the older
    #: id. Two objects that close are both in most scans of every radar that sees
    #: them. 0 turns this off. [0, 16]
    merge_fixes: int = 4
    #: ... [0, 1e4]
    merge_max_m: float = 150.0
    #: ... [0, 1e3]
    merge_max_dv_mps: float = 10.0
    #: Delete any track below this altitude above the ellipsoid (no ground is lower).
    min_alt_m: float = -500.0
    #: Late detections within this window of the newest one are still used in order.
    #: Every detection waits this long before use, so live latency includes it.
    reorder_window_s: float = 0.1
    #: Bearings from different sensors closer in time than this may be triangulated.
    triangulation_window_s: float = 1.0
    #: Least angle between two bearing rays for a usable intersection.
    triangulation_min_angle_deg: float = 5.0
    #: A crossing that uses a direction finder's bearing starts a track only if every
    #: other direction finder whose range covers the crossing gave a bearing through
    #: it (within ``rf_corroborate_n_sigma`` of its own and the crossing's angular
    #: sigma) in the last ``rf_corroborate_window_s``: an emitter there is heard by
    #: all of them. A camera's bearing on a far bird crossed a finder's on a far
    #: drone 180 m from both sensors and started a ghost that stood still inside the
    #: main site (held-out real-train-02 seed 4). Such a crossing likewise fixes an
    #: existing track only where every other finder in range hears it (a track below
    #: the radar's beam, held by a camera's bearings on a bird crossing a finder's on a
    #: drone, was raised critical in the main site: real-eval-05 seed 1 under the
    #: bird-wind stress test). 0 turns this off. [0, 600]
    rf_corroborate_window_s: float = 3.0
    #: ... (0, 100]
    rf_corroborate_n_sigma: float = 3.0
    #: A radar that has reported in the last ``radar_cover_window_s`` sees whatever
    #: flies within this range of it and inside its field of view: bearings crossing
    #: there start no track, and fix the position of no track that a radar plot (or
    #: a position report) has not updated within that window. Bearings of two sensors
    #: a hundred metres apart on two far objects in different directions cross a few
    #: hundred metres from both; a ghost there, kept alive by the crossings, stood
    #: still inside the main site with a direction finder's drone credit and was
    #: raised ``critical`` (real-eval-01 seed 7). 0 turns this off. [0, 100000]
    radar_cover_range_m: float = 3000.0
    #: ... and within this fraction of the radar's ``max_range_m`` (where it has one):
    #: a radar's stated range is where it still sees the objects it is there for, a
    #: small drone well inside it. [0, 1]
    radar_cover_max_frac: float = 0.25
    #: ... (0, 600]
    radar_cover_window_s: float = 4.0
    #: Altitude assumed (with a wide sigma) for a triangulation without elevation.
    triangulation_default_up_m: float = 150.0
    #: ... and its one-sigma, metres. (0, 5000]
    triangulation_default_up_sigma_m: float = 500.0
