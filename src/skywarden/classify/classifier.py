"""Recursive naive-Bayes classification of tracks: drone, bird, aircraft, helicopter, unknown.

Model. Each feature f (see :mod:`.features`) is binned; ``log_lik[f][b, c]`` is
the trained log-probability of bin b given class c (a smoothed histogram, so no
shape is assumed). At every call the per-scan log-likelihood of track i is

    l_i,c = sum_f log p(bin_f(i) | c)              (missing features skipped)

and the track's evidence is its exponentially forgotten average

    L_i,c <- a L_i,c + (1 - a) l_i,c,   a = exp(-dt / tau_s)

so that evidence builds up over about ``tau_s`` seconds and old evidence fades
(a wrong early call recovers). Posterior:

    p(c | track) = softmax_c( log_prior_c + w L_i,c + identity_c )

with ``w`` (``evidence_weight``) fitted on held-out data so that probabilities
are calibrated despite the features not being independent. ``identity_c`` is a
fixed log-likelihood for a cooperative identity (a Remote ID serial says
drone, an ICAO address says manned aircraft) and is dropped when the
cooperative report is judged spoofed (:mod:`.spoof`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import msgspec
import numpy as np

from ..geodesy import LocalFrame, SensorGeometry, azimuth_window_pairs, wrap_angle
from ..tracking.measure import sigma_of
from ..types import (
    CLASSES,
    COASTING,
    CONFIRMED,
    DELETED,
    Association,
    Detection,
    Sensor,
    SiteEvent,
    TrackTable,
    present,
)
from .features import EXTRA_DEPTH, FEATURES, HISTOGRAM_FEATURES, TrackHistory, scan_inputs
from .spoof import SpoofConfig, SpoofMonitor

log = logging.getLogger(__name__)
_HELICOPTER = CLASSES.index("helicopter")
_BIRD = CLASSES.index("bird")
_AIRCRAFT = CLASSES.index("aircraft")
_CLIMB = FEATURES.index("climb_mps")
_SPEED = FEATURES.index("speed_mps")
_NET_CLIMB = FEATURES.index("net_climb_mps")
_HEIGHT = FEATURES.index("height_m")
_STRAIGHTNESS = FEATURES.index("straightness")


#: Allowed ranges of :class:`ClassifierParams`' scalar fields: (low, low exclusive, high).
_POS = (0.0, True, math.inf)
_NONNEG = (0.0, False, math.inf)
_FRAC = (0.0, False, 1.0)
_ANY = (-math.inf, False, math.inf)
_RANGES: dict[str, tuple[float, bool, float]] = {
    "evidence_weight": _POS,
    "tau_s": _POS,
    "window_s": _POS,
    "settle_s": _NONNEG,
    "max_feature_llr": _POS,
    "drone_p_max_kinematic": _FRAC,
    "rf_emitter_frac": _FRAC,
    "drone_p_max_rf": _FRAC,
    "drone_p_max_unsigned": _FRAC,
    "bird_speed_max_mps": _POS,
    "fast_hysteresis_mps": _NONNEG,
    "fast_latch_frac": _FRAC,
    "fast_tau_s": _POS,
    "bird_cruise_max_mps": _NONNEG,
    "cruise_tau_s": _POS,
    "climb_sigma_max_mps": _NONNEG,
    "bird_ground_speed_max_mps": _POS,
    "fast_bird_llr": _ANY,
    "unsigned_drone_llr": _ANY,
    "slow_share_tau_s": _NONNEG,
    "unsigned_helicopter_llr": _ANY,
    "unsigned_helicopter_speed_max_mps": _POS,
    "hover_signature_frac": _NONNEG,
    "hover_fix_max_s": _NONNEG,
    "hover_latch_s": _NONNEG,
    "hover_latch_frac": _FRAC,
    "rcs_signature_min_dbsm": _ANY,
    "rf_ambiguity_n_sigma": _POS,
    "rf_cross_window_s": _NONNEG,
    "fixed_wing_rcs_max_dbsm": _ANY,
    "fixed_wing_straightness_min": _FRAC,
    "emitter_llr": _NONNEG,
    "soaring_straightness_max": _FRAC,
    "soaring_net_climb_min_mps": _NONNEG,
    "soaring_height_min_m": _ANY,
    "soaring_latch_s": _NONNEG,
    "multirotor_llr": (-math.inf, False, 0.0),
}


def _log_probs(rows: list[list[float]]) -> bool:
    a = np.asarray(rows, float)
    return bool(np.all(np.isfinite(a)) and np.all(a <= 0.0))


class ClassifierParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Trained parameters of the classifier (shipped as ``classify/params.json``).

    ``edges[f]`` are the interior bin edges of feature f (k edges give k + 1
    bins); ``log_lik[f]`` is (k + 1, 5) log p(bin | class) in ``CLASSES`` order.
    ``log_prior`` (5,), ``identity_log_lik`` maps ``"remoteid"`` / ``"icao24"``
    to (5,) log-likelihoods. ``tau_s`` the evidence time constant, ``window_s``
    the feature window, ``evidence_weight`` the calibration factor.
    """

    classes: tuple[str, ...] = CLASSES
    features: tuple[str, ...] = HISTOGRAM_FEATURES
    edges: dict[str, list[float]]
    log_lik: dict[str, list[list[float]]]
    log_prior: list[float]
    #: A drone subclass with histograms of its own (empty: none): ``multirotor_log_lik[f]``
    #: (k + 1,) is log p(bin | multirotor) for every feature of ``features``. Real
    #: multirotors hover, loiter and cruise at a soaring raptor's speed, which the
    #: fixed-wing attack drones the drone class also stands for never do; learnt into the
    #: one drone histogram, either the multirotors read bird or the fixed-wing drones lose
    #: their straight, steady evidence (docs/classifier.md). Kept apart, each with its own
    #: evidence, the drone class's evidence is the better of the two, the subclass's
    #: ``multirotor_llr`` lower. The better, not a mixture: a mixture with share s would
    #: cost every fixed-wing drone log(1 / (1 - s)) of its evidence, and the silent ones
    #: sit near the alert threshold (a share of 0.5 cut the hostile drones' median lead
    #: in the real-flight scenarios from 120-160 s to 90-124 s).
    multirotor_log_lik: dict[str, list[float]] = msgspec.field(default_factory=dict)
    multirotor_llr: float = 0.0
    evidence_weight: float = 1.0
    tau_s: float = 10.0
    window_s: float = 20.0
    #: A track's first seconds (filter transient) give no evidence.
    settle_s: float = 5.0
    #: Largest log-likelihood ratio one feature may contribute per scan.
    max_feature_llr: float = 3.0
    #: Highest drone probability from kinematics and radar signature alone ...
    drone_p_max_kinematic: float = 0.85
    #: ... lifted to ``drone_p_max_rf`` when at least this fraction of recent scans had an RF update
    rf_emitter_frac: float = 0.15
    #: (a bearing-only direction finder's hits go to anything on the bearing, birds
    #: included), and to 1 by a believed Remote ID.
    drone_p_max_rf: float = 0.9
    #: Highest drone probability of a track slower than ``bird_speed_max_mps`` with no
    #: signature at all (no radar cross-section, no RF emitter, no Remote ID): within a
    #: bird's speeds, flight style alone cannot tell a drone, and real birds fly long
    #: straight legs at steady speed. Below the threat stage's ``drone_p`` (0.6), so
    #: such a track is never warned of as a drone on kinematics alone. Weighed by the
    #: track's share of slow scans (``slow_share_tau_s``) between this and
    #: ``drone_p_max_kinematic``: a track slow for 13 s or more stays below 0.6.
    drone_p_max_unsigned: float = 0.5
    bird_speed_max_mps: float = 25.0
    #: A track whose speed has been at ``bird_speed_max_mps`` or more in at least
    #: ``fast_latch_frac`` of its recent scans (weighted with time constant
    #: ``fast_tau_s``) stays faster than a bird while its speed stays within this of
    #: it: a fixed-wing drone cruising at 25 m/s has a speed estimate that dips below
    #: 25 every few scans, and each dip made it a bird (cap, base-rate penalty, style
    #: rules) and cost it the threat stage's fast rule; two such drones entered their
    #: zones unwarned (real-eval-03 seed 6). A bird at 23 m/s whose estimate pokes above
    #: 25 now and then stays below the fraction. 0: no hysteresis. Without a camera the
    #: speed estimate of a drone cruising at 24-28 m/s dips below 21 m/s every minute or
    #: so, and with a 4 m/s band each dip reset the fraction and read the drone as a bird
    #: for the next half minute; two such drones were warned at entry and not at all
    #: (real-eval-01 and -03 seed 6 without the camera). With no band at all a bird
    #: track whose speed jumped to 28 m/s for a few scans (a stray plot) stayed "fast" at
    #: 9 m/s and was warned of (real-train-03 seed 3); a drop below 15 m/s ends it.
    fast_hysteresis_mps: float = 10.0
    fast_latch_frac: float = 0.35
    fast_tau_s: float = 10.0
    #: A track is faster than a bird only while its speed averaged since its settle
    #: time with time constant ``cruise_tau_s`` is at least this (or its speed is at
    #: least ``bird_ground_speed_max_mps``): real homing pigeons (1 Hz GPS) cruise at
    #: 15-20 m/s over the ground and burst to 25-30 m/s for up to 40 s; each burst read
    #: them ``drone`` 0.6-0.8 within 10 s and raised them as drones heading for a zone.
    #: A fixed-wing drone at 25 m/s keeps its average there. 0: off.
    bird_cruise_max_mps: float = 23.0
    cruise_tau_s: float = 30.0
    #: The climb feature counts only while the track's vertical speed is known to
    #: within this (its filter's standard deviation, m/s): a radar that measures
    #: elevation at 10 km leaves a new track's vertical speed uncertain by 10-25 m/s,
    #: and the "climbs" of 12-20 m/s that came of it read recorded helicopters as
    #: diving drones at 0.7 in their first half minute (real-train-08). At this
    #: uncertainty an estimate cannot tell one of the histogram's bins (0.25 to 12 m/s)
    #: from another. 0: off.
    climb_sigma_max_mps: float = 10.0
    #: Log-likelihood added to ``bird`` for a track steadily faster over the ground than
    #: this (its window's speed less the speed's standard deviation): no bird flies
    #: level at it, even with a strong wind behind it. The speed feature alone is
    #: clipped at ``max_feature_llr``, which left a 41 m/s fixed-wing drone at 280 m
    #: reading ``bird`` 0.3 and ``drone`` under 0.5 for a minute (real-train-01).
    bird_ground_speed_max_mps: float = 35.0
    fast_bird_llr: float = -3.0
    #: Log-likelihood added to ``drone`` for such a track, before the cap: slow flyers
    #: with no signature are birds far more often than drones (the base rate the
    #: simulated training set, with as many drones as birds, does not carry). Without
    #: it a bird whose flight style looks drone-like reads ``drone`` at the cap.
    unsigned_drone_llr: float = -1.5
    #: The penalty and the cap ``drone_p_max_unsigned`` weigh by the share of the
    #: track's recent scans slower than a bird (time constant, s), not by the scan's own
    #: flag: a real pigeon cruising at 21-24 m/s read ``drone`` 0.14 -> 0.42 -> 0.14 in
    #: three scans as its speed estimate poked above 25 m/s for one (real-eval-06).
    #: Counted from the settle time plus ``window_s``. 0: the scan's own flag.
    slow_share_tau_s: float = 10.0
    #: ... and to ``helicopter`` when it also gives no ICAO address: a helicopter slower
    #: than a bird with no transponder and no echo size is rarer still, and without it
    #: the drone penalty handed recorded hovering quadcopters to ``helicopter``.
    unsigned_helicopter_llr: float = -1.5
    #: ... and up to this speed, not only a bird's: a helicopter in transit cruises at
    #: 50-75 m/s (the recorded tour helicopters of the corpus), a fixed-wing attack drone
    #: at 25-45 m/s, and without a transponder or echo size the two fly alike. Without it
    #: the synthetic fixed-wing drones of the real-flight scenarios read ``helicopter``
    #: until a camera saw them (real-eval-05: warned 17 s ahead instead of 163 s). The
    #: top of the drones' range: at 40 m/s, drones cruising at 40-43 m/s still read
    #: ``helicopter`` in stretches (settled accuracy on the real-flight scenarios'
    #: simulated drones 92.5 -> 93.4 %, on recorded helicopters 70.8 -> 70.3 %).
    unsigned_helicopter_speed_max_mps: float = 45.0
    #: A track that hovers (slower than ``HOVER_SPEED_MPS``) for at least this fraction
    #: of the feature window is not such a flyer: birds do not stand still in the air
    #: for ten seconds and more, multirotors do. It keeps its drone evidence (no
    #: ``unsigned_drone_llr``) and the kinematic cap, so that a hovering quadcopter with
    #: no RF and no echo size can be warned of (the helicopter penalty still holds).
    #: The same fraction of the window must have found it that slow while its track was
    #: held (confirmed), not coasting on the filter's guess. Above 1: off.
    hover_signature_frac: float = 0.5
    #: ... and only while its position was fixed (a radar plot, a position report)
    #: within this many seconds: a ghost track at the crossing of a camera's bearing on
    #: a distant bird and a direction finder's on a drone stood still inside a zone for
    #: 20 s and was raised ``critical`` as a hovering drone (real-train-01 seed 1).
    hover_fix_max_s: float = 5.0
    #: A track that has hovered so (fixed) for this many seconds in all keeps the
    #: signature when it moves on: a recorded quadcopter of held-out real-train-07 hovered
    #: 80 s at 1.3 km reading drone 0.85, then flew in at 5-10 m/s a few metres up,
    #: read as a bird (no signature, slow) and entered its zone unwarned. Counted only
    #: once the feature window lies wholly past the track's settle time. 0: off.
    hover_latch_s: float = 10.0
    #: ... counting only seconds when at least this fraction of the window hovered:
    #: a gull flying into a headwind hangs at 2-3 m/s over the ground, below the hover
    #: speed in half its samples (bird-wind stress test).
    hover_latch_frac: float = 0.9
    #: A mean radar cross-section at least this large is a signature. Smaller echoes
    #: overlap between large birds (and flocks, whose tracks hop between members)
    #: and small multirotors, and tell neither.
    rcs_signature_min_dbsm: float = -15.0
    #: An RF bearing counts as the track's own emission only when no other track lies
    #: within this many sigmas of it (a direction finder's bearing passes through every
    #: bird between it and the drone).
    rf_ambiguity_n_sigma: float = 3.0
    #: Where a second direction finder covers the track (within its range), the hit
    #: counts only if that one also had the track within this long: an emitter is
    #: heard by every direction finder in range, a bird on one bearing by one only.
    rf_cross_window_s: float = 5.0
    #: A direction finder gives one bearing per emitter and scan: a bearing fitting a
    #: likelier emitter that got a bearing of its own from the same finder in the same
    #: scan is a second emitter's, and counts for the track it went to (two drones in
    #: line, one with Remote ID: the other lost its RF credit to it and read ``bird``).
    rf_one_bearing_per_emitter: bool = True
    #: Flight-style features that cannot tell a fixed-wing drone from a manned aircraft
    #: or helicopter in transit: all fly straight. For a track flying straight
    #: (``straightness`` >= ``fixed_wing_straightness_min``) faster than a bird with a
    #: drone-sized radar echo (``rcs_signature_min_dbsm`` .. ``fixed_wing_rcs_max_dbsm``),
    #: these give ``drone`` at least the support of the likelier of ``aircraft`` and
    #: ``helicopter``, so that the signature (cross-section, transponder, Remote ID)
    #: decides. Learnt mostly from wandering multirotors, they would otherwise read a
    #: straight-flying attack drone as an aircraft. A larger echo is a manned aircraft's
    #: or helicopter's, and circling (a glider in a thermal) is evidence as trained.
    #: With ``fixed_wing_unsigned`` the same holds for a track with no radar echo size at
    #: all (a radar that reports none, or RF and cameras only): straight flight is then
    #: no evidence either way, and the class is left to what else is known.
    fixed_wing_neutral_features: tuple[str, ...] = ("turn_rate_dps", "straightness")
    fixed_wing_rcs_max_dbsm: float = 5.0
    fixed_wing_straightness_min: float = 0.95
    fixed_wing_unsigned: bool = True
    #: For a track faster than a bird with no radar echo size measured, the style
    #: features do not count against ``aircraft`` at any straightness (it gets the best
    #: of the drone, aircraft and helicopter terms): the simulated manned aircraft of the
    #: training set fly ruler-straight, real ones (a glider between thermals, a light
    #: aircraft in a circuit) wander 2-3 degrees a second, which the trained histograms
    #: hold against ``aircraft`` alone. Speed, height and climb then decide. (Lifting
    #: ``helicopter`` the same way handed unsigned fixed-wing drones to it.)
    fast_unsigned_style_neutral: bool = True
    #: For a track faster than a bird, the style features give ``bird`` no more support
    #: than the best of drone, aircraft and helicopter: the bird histograms were learnt at
    #: bird speeds, where wander is a bird's; at 30 m/s and more it is a fixed-wing
    #: drone's track noise at long range, which otherwise read ``bird`` (the speed term
    #: alone is clipped at ``max_feature_llr``).
    fast_style_not_bird: bool = True
    #: With ``fast_style_not_bird``, these features too give ``bird`` no more support
    #: than the best of the powered classes on a track faster than a bird. Every bird
    #: histogram was learnt at bird speeds; once the speed says "no bird", a bird's
    #: height (the simulated flocks fly 200-450 m up), its steady speed, its silence to
    #: the direction finders are no evidence that this object is one. A fixed-wing
    #: drone cruising at 25-28 m/s 250 m up with no RF read ``bird`` 0.55 on them
    #: (real-eval-03 seed 6). The radar cross-section is not among them: an echo size is
    #: the object's own.
    fast_not_bird_features: tuple[str, ...] = (
        "height_m",
        "climb_mps",
        "speed_std_mps",
        "hover_frac",
        "rf_frac",
    )
    #: The same for a track heard as an emitter of its own (``rf_frac`` at least
    #: ``rf_emitter_frac``: every direction finder in range heard it, and no likelier
    #: emitter lay on the bearing): birds do not emit, and at a bird's speed a slow
    #: fixed-wing drone's height and gentle turns read ``bird``. One at 20-24 m/s,
    #: 230 m up, heard on both finders for two minutes, read ``drone`` 0.4-0.55 and was
    #: warned 13 s after it entered its zone (real-eval-03 with slow drones, seed 2).
    emitter_style_not_bird: bool = True
    #: Speeds (m/s, from, to) where the drone's speed term is at least the lower of its
    #: best terms in the bins wholly below and wholly above. The simulated drones are
    #: multirotors up to 18 m/s and fixed-wing drones from 27 m/s, and the gap between
    #: read as evidence against a drone there; real drones fly every speed between (a
    #: small fixed-wing drone cruises at 20-28 m/s). Filled only from a bird's top speed
    #: (``bird_speed_max_mps``) up: from 18 m/s, gulls flying 21-27 m/s over the ground
    #: in a tailwind read ``drone`` 0.6-0.7 and were warned of (the bird-wind stress
    #: test, README). (0, 0): as trained.
    drone_speed_gap_mps: tuple[float, float] = (25.0, 27.0)
    #: For a track slower than a bird's top speed, the style features give ``unknown`` no
    #: more support than the better of drone and bird. ``unknown`` was learnt from
    #: synthetic balloons drifting with the wind, whose heading at a few metres a second
    #: wanders widely; real birds soaring and multirotors manoeuvring wander as much
    #: and read ``unknown`` on wander alone. Speed, height and climb still tell a balloon.
    slow_style_not_unknown: bool = True
    #: For a track slower than a bird's top speed, ``unknown``'s climb term is read at the
    #: track's net climb (``net_climb_mps``: the window's mean vertical speed, sign kept),
    #: the other classes' at its mean absolute climb (``climb_mps``). ``unknown`` was
    #: learnt from balloons, which drift at 2-12 m/s and rise steadily, so the two are
    #: the same for them; a height that only wanders is no balloon's.
    #: Without a camera, a radar's elevation alone leaves a slow bird's height wandering
    #: tens of metres up and down: its mean absolute climb read 1.8 m/s (median; 0.5
    #: with the camera) and put it in the balloons' bins, while its net climb stayed at
    #: 0.5 (real-train-02 seed 1). Such birds read ``unknown`` and were warned of
    #: inside zones as unidentified objects.
    unknown_net_climb: bool = True
    #: For a track slower than a bird's top speed, the speed term gives ``unknown`` no
    #: more support than the better of drone and bird. The balloons ``unknown`` was
    #: learnt from drift at 2-12 m/s, where the simulated birds never fly (8 m/s at the
    #: least) and its speed term led ``bird``'s by 3 nats; recorded gulls hang at 2-8 m/s
    #: over the ground. Without a camera such a gull read ``unknown`` 0.6-0.8 on its speed
    #: and was warned of inside a zone as an unidentified object (real-train-01 seeds 3-4,
    #: real-train-05 seeds 1, 3, 4, 6). A balloon is still told by its climb and height.
    slow_speed_not_unknown: bool = True
    #: Within this band of heights (m above the site origin) the height term gives
    #: ``helicopter`` no less support than the better of drone and aircraft; (0, 0): as
    #: trained. The simulated helicopters the histograms were learnt from fly 100-500 m
    #: up, and above 600 m the term put a helicopter 3 nats below drone and aircraft.
    #: Recorded helicopters fly up to 1,800 m above the site (tour flights over a
    #: volcano, relocated; real-train-08); without a transponder such a helicopter read
    #: ``aircraft`` or ``drone``, and at drone 0.25-0.36 was warned of as an unidentified
    #: fast object about to enter a zone. Below 600 m the trained term stands: there a
    #: helicopter's term lifted to the drone's took drone evidence from low-flying
    #: quadcopters and fixed-wing drones (warned 10-160 s later, one not at all).
    helicopter_height_band_m: tuple[float, float] = (600.0, 2000.0)
    #: Within this band of heights (m above the site origin) the height term gives
    #: ``bird`` no less support than ``aircraft``; (0, 0): as trained. The simulated
    #: birds fly up to 450 m, so above 400 m the term put a bird 2-3 nats below an
    #: aircraft; real soaring birds (vultures, eagles, a condor at Rocamadour; the corpus
    #: source ``roca``) climb in thermals to 1-2 km at 8-16 m/s and read ``aircraft`` in
    #: more than half of their lines. Speed still tells a glider (22-40 m/s) from them.
    bird_height_band_m: tuple[float, float] = (400.0, 3000.0)
    #: A track slower than a bird, at ``soaring_speed_mps`` (m/s, from, to), at least
    #: ``soaring_height_min_m`` up, circling (``straightness`` below
    #: ``soaring_straightness_max``) and climbing or sinking steadily (``net_climb_mps``
    #: at least ``soaring_net_climb_min_mps``) flies as a soaring bird does; on it these
    #: features give ``bird`` no less support than ``aircraft``. The simulated birds never
    #: circle or climb, so circling, climbing and a wide speed spread were learnt as a
    #: glider's; real vultures, eagles and a condor thermalling at 8-16 m/s (the corpus
    #: source ``roca``) read ``aircraft`` in half their lines. Only ``bird`` is lifted:
    #: lowering ``aircraft`` instead raised a real gull hanging at 4 m/s (its ``aircraft``
    #: share had held its drone share down), and a multirotor's wander, level or low
    #: (a quadcopter circling 11 m up read ``bird`` without the climb and height guards),
    #: keeps its terms. Empty: as trained.
    soaring_style_features: tuple[str, ...] = (
        "turn_rate_dps",
        "straightness",
        "climb_mps",
        "speed_std_mps",
    )
    soaring_speed_mps: tuple[float, float] = (6.0, 18.0)
    soaring_straightness_max: float = 0.6
    soaring_net_climb_min_mps: float = 0.8
    soaring_height_min_m: float = 100.0
    #: A track that has soared so for this long in all (seconds, at a cruise speed, the
    #: ``cruise_tau_s`` average, within ``soaring_speed_mps`` too) keeps the lift for its
    #: life while slower than a bird and at least ``soaring_height_min_m`` up: a vulture
    #: gliding straight between thermals at 18-25 m/s read ``aircraft`` (straight flight
    #: is an aircraft's in the histograms). The cruise guard keeps a sailplane, whose
    #: speed over the ground dips below 18 m/s in a thermal drifting in the wind but
    #: averages 22-28, from latching. 0: off.
    soaring_latch_s: float = 30.0
    identity_log_lik: dict[str, list[float]] = msgspec.field(default_factory=dict)
    #: The class an ADS-B emitter category (DO-260B) names: the category is set in the
    #: transponder for the airframe, so it says what flight style cannot (a helicopter
    #: cruising at 70 m/s flies like a light aircraft). Categories not listed (reserved,
    #: space vehicle) are no evidence.
    emitter_class: dict[str, str] = msgspec.field(
        default_factory=lambda: {
            **{f"A{k}": "aircraft" for k in range(1, 7)},
            "A7": "helicopter",
            "B1": "aircraft",  # glider, sailplane
            "B2": "unknown",  # lighter than air
            "B3": "unknown",  # parachutist, skydiver
            "B4": "aircraft",  # ultralight, hang-glider, paraglider
            "B6": "drone",  # unmanned aerial vehicle
            **{f"C{k}": "unknown" for k in range(1, 8)},  # surface vehicles, obstacles
        }
    )
    #: Log-likelihood an emitter category adds to the class it names, on a track with a
    #: believed ADS-B identity: stronger than any flight style (at most
    #: ``max_feature_llr`` per feature, times ``evidence_weight``, can stand against it).
    emitter_llr: float = 10.0
    spoof: SpoofConfig = msgspec.field(default_factory=SpoofConfig)
    #: Free-form description of the training run (data, seeds, measured accuracy).
    trained_on: dict[str, object] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        # Checked on every construction (decode, ``structs.replace``, by hand): a
        # hand-edited file with ``tau_s: 0`` or a fraction of 5 would otherwise give
        # NaN probabilities or a rule that never fires, not an error.
        if tuple(self.classes) != CLASSES:
            raise ValueError(f"classifier params have classes {self.classes}, expected {CLASSES}")
        for f in self.features:
            if f not in FEATURES:
                raise ValueError(f"classifier params use unknown feature '{f}'")
            if f not in HISTOGRAM_FEATURES:
                raise ValueError(f"feature '{f}' feeds a rule only and takes no histogram")
            if f not in self.edges or f not in self.log_lik:
                raise ValueError(f"feature '{f}': edges and log_lik required")
            e = np.asarray(self.edges[f], float)
            if not (np.all(np.isfinite(e)) and np.all(np.diff(e) > 0)):
                raise ValueError(f"feature '{f}': edges must be finite and increasing")
            if len(self.log_lik[f]) != len(e) + 1:
                raise ValueError(f"feature '{f}': {len(e) + 1} bins expected")
            if any(len(row) != len(CLASSES) for row in self.log_lik[f]):
                raise ValueError(f"feature '{f}': {len(CLASSES)} log-likelihoods per bin expected")
            if not _log_probs(self.log_lik[f]):
                raise ValueError(f"feature '{f}': log-likelihoods must be finite and <= 0")
        if self.multirotor_log_lik:
            if set(self.multirotor_log_lik) != set(self.features):
                raise ValueError("multirotor_log_lik: one histogram per feature expected")
            for f, col in self.multirotor_log_lik.items():
                if len(col) != len(self.edges[f]) + 1 or not _log_probs([col]):
                    raise ValueError(
                        f"multirotor_log_lik[{f!r}]: {len(self.edges[f]) + 1} finite "
                        "log-likelihoods <= 0 expected"
                    )
        for name in (
            "drone_speed_gap_mps",
            "helicopter_height_band_m",
            "bird_height_band_m",
            "soaring_speed_mps",
        ):
            lo, hi = getattr(self, name)
            if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo <= hi):
                raise ValueError(f"{name} = {(lo, hi)!r}: 0 <= from <= to expected")
        for f in (
            *self.fast_not_bird_features,
            *self.fixed_wing_neutral_features,
            *self.soaring_style_features,
        ):
            if f not in FEATURES:
                raise ValueError(f"classifier params name unknown feature '{f}'")
        if len(self.log_prior) != len(CLASSES) or not _log_probs([self.log_prior]):
            raise ValueError(f"log_prior: {len(CLASSES)} finite values <= 0 expected")
        for kind, ll in self.identity_log_lik.items():
            if len(ll) != len(CLASSES) or not all(math.isfinite(v) for v in ll):
                raise ValueError(
                    f"identity_log_lik[{kind!r}]: {len(CLASSES)} finite values expected"
                )
        for code, c in self.emitter_class.items():
            if c not in CLASSES:
                raise ValueError(f"emitter_class[{code!r}] = {c!r}: not one of {CLASSES}")
        for name, (lo, lo_open, hi) in _RANGES.items():
            v = getattr(self, name)
            if not (math.isfinite(v) and (v > lo if lo_open else v >= lo) and v <= hi):
                bound = f"{'>' if lo_open else '>='} {lo}" + (
                    f" and <= {hi}" if hi < math.inf else ""
                )
                raise ValueError(f"classifier parameter {name} = {v!r}: must be {bound}")

    @classmethod
    def load(cls, path: str | Path | None = None) -> ClassifierParams:
        """Parameters from a JSON file; the shipped defaults when ``path`` is None.

        Raises ``msgspec.ValidationError`` (a ``ValueError``) naming the field when a
        value is out of range or the histograms do not fit their edges.
        """
        if path is None:
            raw = resources.files(__package__).joinpath("params.json").read_bytes()
        else:
            raw = Path(path).read_bytes()
        return msgspec.json.decode(raw, type=cls)

    def dump(self, path: str | Path) -> None:
        """Write as indented JSON."""
        Path(path).write_bytes(msgspec.json.format(msgspec.json.encode(self), indent=1) + b"\n")


@dataclass(frozen=True, slots=True)
class ClassResult:
    """Class probabilities of the tracks of one table, row-aligned with it.

    ``p`` (n, 5) probabilities in ``CLASSES`` order, ``label`` (n,) object the most
    probable class, ``cooperative`` (n,) bool a believed Remote ID / ADS-B
    identity, ``spoof`` (n,) bool a cooperative report judged false, ``fast`` (n,) bool
    faster than a bird by the classifier's hysteresis (None: not worked out).
    """

    p: np.ndarray
    label: np.ndarray
    cooperative: np.ndarray
    spoof: np.ndarray
    fast: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.p.shape[0])

    def as_dict(self, i: int) -> dict[str, float]:
        """Row i as ``{class: probability}`` for a track line's ``class_p``."""
        return {c: float(v) for c, v in zip(CLASSES, self.p[i], strict=True)}

    @classmethod
    def empty(cls) -> ClassResult:
        return cls(
            p=np.empty((0, len(CLASSES))),
            label=np.empty(0, object),
            cooperative=np.empty(0, bool),
            spoof=np.empty(0, bool),
        )


def _unknown_at_most_drone_or_bird(term: np.ndarray, rows: np.ndarray) -> None:
    """Cap ``unknown``'s column of one feature's terms (n, 5 or 6) at the better of drone
    and bird on ``rows``, in place: where the balloons it was learnt from share a
    feature's range with slow birds and multirotors (rules 12 and 20)."""
    best = np.maximum(term[:, 0], term[:, 1])
    term[:, 4] = np.where(rows, np.minimum(term[:, 4], best), term[:, 4])


def _bird_at_least_aircraft(term: np.ndarray, rows: np.ndarray) -> None:
    """Lift ``bird``'s column of one feature's terms (n, 5 or 6) to ``aircraft``'s on ``rows``,
    in place: where real soaring birds share with gliders what the simulated birds never
    did (height, rule 23; circling and climbing, rule 24)."""
    term[rows, _BIRD] = np.maximum(term[rows, _BIRD], term[rows, _AIRCRAFT])


class Classifier:
    """Classifies every track of each table from its accumulated history."""

    def __init__(
        self,
        params: ClassifierParams | None = None,
        *,
        frame: LocalFrame | None = None,
        sensors: dict[str, Sensor] | None = None,
    ) -> None:
        """``frame`` and ``sensors`` (the scenario header's) enable the Remote ID
        position cross-check; without them only impossible broadcasts are caught."""
        self.params = p = params or ClassifierParams.load()
        #: Evidence columns: the classes, then the multirotor subclass if it has histograms.
        self.n_columns = len(CLASSES) + bool(p.multirotor_log_lik)
        self.history = TrackHistory(
            depth=max(8, int(np.ceil(p.window_s)) + EXTRA_DEPTH), n_evidence=self.n_columns
        )
        self.spoof = SpoofMonitor(frame, sensors, p.spoof)
        self._feat_idx = np.array([FEATURES.index(f) for f in p.features], np.int64)
        self._edges = [np.asarray(p.edges[f], float) for f in p.features]
        # Each bin's terms clipped to max_feature_llr below its best class, once; the
        # subclass's too, but it lifts no other: it is one more way to be a drone only.
        self._ll = []
        for f in p.features:
            t = np.asarray(p.log_lik[f], float)
            floor = t.max(axis=1, keepdims=True) - p.max_feature_llr
            if p.multirotor_log_lik:
                t = np.column_stack([t, p.multirotor_log_lik[f]])
            self._ll.append(np.maximum(t, floor))
        self._drone_gap_floor = (
            _gap_floor(
                self._ll[list(p.features).index("speed_mps")][:, 0],
                np.asarray(p.edges["speed_mps"], float),
                *p.drone_speed_gap_mps,
            )
            if "speed_mps" in p.features
            else -np.inf
        )
        self._style = np.array([f in p.fixed_wing_neutral_features for f in p.features])
        self._not_bird = self._style | np.array([f in p.fast_not_bird_features for f in p.features])
        self._soaring = np.array([f in p.soaring_style_features for f in p.features])
        self._prior = np.asarray(p.log_prior, float)
        nc = len(CLASSES)
        self._id_rid = np.asarray(p.identity_log_lik.get("remoteid", [0.0] * nc), float)
        self._id_icao = np.asarray(p.identity_log_lik.get("icao24", [0.0] * nc), float)
        self._frame = frame
        self._sensors = sensors if sensors is not None else {}
        self._rf_geom: dict[str, tuple[SensorGeometry, float, float]] = {}
        self._rf_last: dict[int, dict[str, float]] = {}  # track -> RF sensor -> last hit
        self._last_pd: dict[int, float] = {}  # track -> drone probability at the last scan
        self._emitter_cls = {code: CLASSES.index(c) for code, c in p.emitter_class.items()}
        self._emitter: dict[int, int] = {}  # track -> class its ADS-B emitter category names

    def emitter_classes(
        self, table: TrackTable, by_track: dict[int, list[tuple[Detection, str]]]
    ) -> np.ndarray:
        """Per track (n,) the class index its latest ADS-B emitter category names, or -1;
        ``by_track`` the scan's cooperative reports per track (:func:`scan_inputs`)."""
        for tid, reports in by_track.items():
            for det, kind in reports:
                c = self._emitter_cls.get(det.emitter_cat or "") if kind == "adsb" else None
                if c is not None:
                    self._emitter[tid] = c
        out = np.full(len(table), -1, np.int64)
        if not self._emitter:
            return out
        # Few tracks are cooperative: match ids with arrays, not a lookup per track.
        known = np.fromiter(self._emitter, np.int64, len(self._emitter))
        cls = np.fromiter(self._emitter.values(), np.int64, len(self._emitter))
        o = np.argsort(known)
        at = np.minimum(np.searchsorted(known, table.id, sorter=o), known.shape[0] - 1)
        found = known[o[at]] == table.id
        out[found] = cls[o[at[found]]]
        for tid in table.id[table.status == DELETED].tolist():
            self._emitter.pop(tid, None)
        return out

    def own_emission(self, table: TrackTable, assoc: Association, rf: np.ndarray) -> np.ndarray:
        """RF flags (n,) without the hits whose bearing (and elevation, when given) fits
        another confirmed track that was more drone-like at the last scan: a bearing says
        "something on it emits", not which; the likeliest emitter on it keeps the credit,
        so a bird between a direction finder and a drone gains none. A track keeps its
        flag when any one of its hits is its own. (Tentative tracks, mostly clutter, do
        not compete.)"""
        if self._frame is None or not rf.any():
            return rf
        n = len(table)
        hits = np.flatnonzero(np.asarray(assoc.kinds) == "rf")
        order = np.argsort(table.id, kind="stable")
        pos_ = np.minimum(np.searchsorted(table.id, assoc.track_id[hits], sorter=order), n - 1)
        rows = np.where(table.id[order[pos_]] == assoc.track_id[hits], order[pos_], -1)
        others = (table.status == CONFIRMED) | (table.status == COASTING)
        pos = table.x[:, :3]
        out = rf.copy()
        t = table.t_s
        last_pd = np.zeros(n)
        if self._last_pd:
            known = np.fromiter(self._last_pd, np.int64, len(self._last_pd))
            pd_known = np.fromiter(self._last_pd.values(), float, len(self._last_pd))
            o = np.argsort(known)
            at = np.minimum(np.searchsorted(known, table.id, sorter=o), known.shape[0] - 1)
            found = known[o[at]] == table.id
            last_pd[found] = pd_known[o[at[found]]]
        dets = [assoc.detections[j] for j in hits]
        for j, det in zip(hits, dets, strict=True):
            self._rf_last.setdefault(int(assoc.track_id[j]), {})[det.sensor] = t
        # Per direction finder: every track's bearing once, then all its hits at once.
        usable = [h for h in range(hits.shape[0]) if rows[h] >= 0 and dets[h].az_deg is not None]
        blocked = np.zeros(hits.shape[0], bool)
        judged = np.zeros(hits.shape[0], bool)  # hits of a sensor with known geometry
        for sid in {dets[h].sensor for h in usable}:
            g = self._geometry(sid)
            if g is None:
                continue
            geom, s_az, s_el = g
            mine = np.array([h for h in usable if dets[h].sensor == sid])
            _, az, el = geom.to_aer(pos)
            nsig = self.params.rf_ambiguity_n_sigma
            az_d = np.radians([dets[h].az_deg for h in mine])
            i_h = rows[mine]
            judged[mine] = True
            # Tracks on the hit's bearing (a window in the tracks' sorted azimuths, then
            # a cheap wrap, then the exact test on what passes) ...
            hh, tt = azimuth_window_pairs(az_d, nsig * s_az * (1.0 + 1e-6) + 2e-9, az)
            dw = np.abs(wrap_angle(az[tt] - az_d[hh]))
            # ... more drone-like than the hit's own, confirmed, not itself ...
            keep = (dw <= nsig * s_az + 1e-9) & others[tt] & (last_pd[tt] > last_pd[i_h[hh]])
            keep &= tt != i_h[hh]
            if self.params.rf_one_bearing_per_emitter:
                # ... that had no bearing of its own from this direction finder in this
                # scan (with its own, this one is a second emitter's) ...
                keep &= ~np.isin(tt, i_h)
            hh, tt = hh[keep], tt[keep]
            near = np.abs(np.angle(np.exp(1j * (az[tt] - az_d[hh])))) <= nsig * s_az
            # ... and in elevation, when the hit has one.
            el_d = np.array([np.nan if dets[h].el_deg is None else dets[h].el_deg for h in mine])
            el_d = np.radians(el_d)
            has_el = np.isfinite(el_d[hh])
            near &= ~has_el | (np.abs(el[tt] - el_d[hh]) <= nsig * s_el)
            blocked[mine[np.unique(hh[near])]] = True
        # A track keeps its flag if any of its hits is its own: one direction finder's
        # bearing may pass another emitter while the other's does not.
        own = np.zeros(n, bool)
        for h in np.flatnonzero(judged & ~blocked):
            i = int(rows[h])
            own[i] |= self._cross_heard(int(table.id[i]), dets[h].sensor, pos[i], t)
        out[rows[judged]] = 0.0
        out[own] = rf[own]
        live = set(table.id.tolist())
        self._rf_last = {k: v for k, v in self._rf_last.items() if k in live}
        return out

    def _cross_heard(self, tid: int, sensor_id: str, pos: np.ndarray, t: float) -> bool:
        """Whether every other RF sensor whose range covers ``pos`` had the track too,
        within ``rf_cross_window_s``."""
        last = self._rf_last.get(tid, {})
        for sid, s in self._sensors.items():
            if sid == sensor_id or s.kind != "rf" or s.max_range_m is None:
                continue
            g = self._geometry(sid)
            if g is None or np.linalg.norm(pos - g[0].pos_enu_m) > s.max_range_m:
                continue
            if t - last.get(sid, -np.inf) > self.params.rf_cross_window_s:
                return False
        return True

    def _geometry(self, sensor_id: str) -> tuple[SensorGeometry, float, float] | None:
        """The sensor's geometry and one-sigma azimuth/elevation errors (rad), cached."""
        g = self._rf_geom.get(sensor_id)
        if g is None:
            s = self._sensors.get(sensor_id)
            if s is None or self._frame is None:
                return None
            g = (
                SensorGeometry.from_sensor(self._frame, s),
                np.radians(sigma_of(s, "sigma_az_deg")),
                np.radians(sigma_of(s, "sigma_el_deg")),
            )
            self._rf_geom[sensor_id] = g
        return g

    def on_site_event(self, event: SiteEvent) -> None:
        """A sensor or zone change from the site registry (the spoof check needs sensors)."""
        self.spoof.on_site_event(event)

    def soaring(self, feats: np.ndarray, fast: np.ndarray) -> np.ndarray:
        """(n,) bool: feature rows of tracks soaring as a bird does (the ``soaring_*``
        parameters; ``fast`` (n,) as for :meth:`log_likelihood`). NaN features compare
        False: a track soars only on measured evidence."""
        p = self.params
        lo, hi = p.soaring_speed_mps
        speed = feats[:, _SPEED]
        return (
            ~fast
            & (speed >= lo)
            & (speed < hi)
            & (feats[:, _STRAIGHTNESS] < p.soaring_straightness_max)
            & (feats[:, _NET_CLIMB] >= p.soaring_net_climb_min_mps)
            & (feats[:, _HEIGHT] >= p.soaring_height_min_m)
        )

    def log_likelihood(
        self, feats: np.ndarray, fast: np.ndarray | None = None, soared: np.ndarray | None = None
    ) -> np.ndarray:
        """Per-scan log-likelihoods (n, :attr:`n_columns`) of feature rows (n, len(FEATURES)),
        in ``CLASSES`` order then the multirotor subclass's (if any); NaN skipped.
        ``fast`` (n,) bool: faster than a bird (default: ``speed_mps`` at
        ``bird_speed_max_mps`` or more; :meth:`update` passes its hysteresis). ``soared``
        (n,) bool: tracks that have soared for ``soaring_latch_s`` (:meth:`update` keeps
        the count; default none).

        Each feature's term is clipped to ``max_feature_llr`` below its best
        class, so that no single feature can rule a class out on its own; for a
        fast, straight track with a drone-sized radar echo (or none measured, with
        ``fixed_wing_unsigned``), the style features (``fixed_wing_neutral_features``)
        do not count against ``drone``; for a fast track with no echo size measured
        (``fast_unsigned_style_neutral``) they do not count against ``aircraft`` either;
        for any track faster than a bird (``fast_style_not_bird``) they give ``bird`` no
        more than the best of drone, aircraft and helicopter; within
        ``bird_height_band_m`` height gives ``bird`` no less than ``aircraft``; on a track
        soaring as a bird does (slow, high, circling, climbing or sinking: the
        ``soaring_*`` parameters) the ``soaring_style_features`` do too.
        """
        p = self.params
        ll = np.zeros((feats.shape[0], self.n_columns))
        rcs = feats[:, FEATURES.index("rcs_dbsm")]
        no_rcs = np.isnan(rcs)
        sized = (rcs >= p.rcs_signature_min_dbsm) & (rcs <= p.fixed_wing_rcs_max_dbsm)
        if p.fixed_wing_unsigned:
            sized |= no_rcs
        if fast is None:
            fast = feats[:, FEATURES.index("speed_mps")] >= p.bird_speed_max_mps
        fast_signed = (
            fast
            & sized
            & (feats[:, FEATURES.index("straightness")] >= p.fixed_wing_straightness_min)
        )
        fast_unsized = fast & no_rcs & p.fast_unsigned_style_neutral
        emitting = (feats[:, FEATURES.index("rf_frac")] >= p.rf_emitter_frac) & (
            p.emitter_style_not_bird
        )
        fast_not_bird = (fast | emitting) & p.fast_style_not_bird
        slow_not_unknown = ~fast & p.slow_style_not_unknown
        slow_speed_not_unknown = ~fast & p.slow_speed_not_unknown
        soaring = self.soaring(feats, fast)
        if soared is not None:
            soaring |= soared & ~fast & (feats[:, _HEIGHT] >= p.soaring_height_min_m)
        for j, edges, table, style, not_bird, soar in zip(
            self._feat_idx,
            self._edges,
            self._ll,
            self._style,
            self._not_bird,
            self._soaring,
            strict=True,
        ):
            v = feats[:, j]
            ok = np.isfinite(v)
            b = np.searchsorted(edges, np.where(ok, v, 0.0), side="right")
            # Indexed with an array: a copy of the table's rows, free to change below.
            term = table[b]
            if j == _CLIMB and p.unknown_net_climb:
                net = feats[:, _NET_CLIMB]
                has = ok & np.isfinite(net) & ~fast
                bn = np.searchsorted(edges, net[has], side="right")
                # Clipped against the row the other classes read, as every term is.
                term[has, 4] = np.maximum(
                    table[bn, 4], term[has, : len(CLASSES)].max(axis=1) - p.max_feature_llr
                )
            if j == _SPEED:
                _unknown_at_most_drone_or_bird(term, slow_speed_not_unknown)
                lo, hi = p.drone_speed_gap_mps
                gap = (v >= lo) & (v < hi)
                term[gap, 0] = np.maximum(term[gap, 0], self._drone_gap_floor)
            if j == _HEIGHT:
                lo, hi = p.helicopter_height_band_m
                reach = (v >= lo) & (v < hi)
                term[reach, _HELICOPTER] = np.maximum(
                    term[reach, _HELICOPTER], np.maximum(term[reach, 0], term[reach, 2])
                )
                lo, hi = p.bird_height_band_m
                _bird_at_least_aircraft(term, (v >= lo) & (v < hi))
            if not_bird:
                # The best of drone, aircraft and helicopter.
                powered = np.maximum(term[:, 0], np.maximum(term[:, 2], term[:, 3]))
                term[:, 1] = np.where(fast_not_bird, np.minimum(term[:, 1], powered), term[:, 1])
            if style:
                term[:, 0] = np.where(fast_signed, powered, term[:, 0])
                term[:, 2] = np.where(fast_unsized, powered, term[:, 2])
                _unknown_at_most_drone_or_bird(term, slow_not_unknown)
            if soar:
                # Last, so that no other class's term is bounded by the lifted one.
                _bird_at_least_aircraft(term, soaring)
            ll += np.where(ok[:, None], term, 0.0)
        return ll

    def update(self, table: TrackTable, assoc: Association) -> ClassResult:
        """Take one scan's tracks and associations; return probabilities aligned with ``table``."""
        n = len(table)
        if n == 0:
            self.history.slots(table.id)
            self.spoof.update(table.id, np.empty((0, 3)), {})
            return ClassResult.empty()
        p = self.params
        rcs, rf, by_track, fixed = scan_inputs(table, assoc)
        rf = self.own_emission(table, assoc, rf)
        h = self.history
        slots = h.slots(table.id)
        h.push(slots, table.t_s, table.x, rcs, rf, table.status == CONFIRMED)
        h.last_fix_t_s[slots[fixed]] = table.t_s
        t_start = table.t_first_s + p.settle_s
        feats = h.features(slots, table.t_s, p.window_s, t_start)
        if p.climb_sigma_max_mps > 0.0:
            vu_sd = np.sqrt(np.maximum(table.P[:, 5, 5], 0.0))
            feats[vu_sd > p.climb_sigma_max_mps, _CLIMB] = np.nan
        dt = np.where(np.isfinite(h.last_t_s[slots]), table.t_s - h.last_t_s[slots], 1.0)
        elapsed = np.maximum(dt, 0.0)
        speed = np.hypot(table.x[:, 3], table.x[:, 4])
        cruise = h.cruise_mps[slots]
        wc = np.where(np.isfinite(cruise), np.exp(-elapsed / p.cruise_tau_s), 0.0)
        cruise = np.where(
            table.t_s >= t_start, wc * np.nan_to_num(cruise) + (1.0 - wc) * speed, np.nan
        )
        h.cruise_mps[slots] = cruise
        # A burst above a bird's limit is no cruise: a homing pigeon's speed over the
        # ground tops 25 m/s for up to 40 s at a time; a drone cruising that fast keeps it.
        bursting = (cruise < p.bird_cruise_max_mps) & (speed < p.bird_ground_speed_max_mps)
        above = (speed >= p.bird_speed_max_mps) & ~bursting
        in_band = speed >= p.bird_speed_max_mps - p.fast_hysteresis_mps
        w = np.exp(-elapsed / p.fast_tau_s)
        h.fast_frac[slots] = np.where(in_band, w * h.fast_frac[slots] + (1.0 - w) * above, 0.0)
        fast = above | (in_band & (h.fast_frac[slots] >= p.fast_latch_frac))
        soared = h.soared_s[slots] >= p.soaring_latch_s if p.soaring_latch_s > 0.0 else None
        ll = self.log_likelihood(feats, fast, soared)
        if soared is not None:
            cruising = cruise < p.soaring_speed_mps[1]
            h.soared_s[slots] += np.where(
                self.soaring(feats, fast) & cruising & (table.t_s >= t_start),
                np.minimum(dt, 1.0),
                0.0,
            )
        # Evidence only from tracks past their filter transient; younger ones keep the prior.
        ll[table.t_s < t_start] = 0.0
        a = np.exp(-elapsed / p.tau_s)[:, None]
        # L <- a L + (1 - a) l   (exponential forgetting of per-scan evidence)
        h.evidence[slots] = a * h.evidence[slots] + (1.0 - a) * ll
        h.last_t_s[slots] = table.t_s

        spoof = self.spoof.update(table.id, table.x[:, 3:6], by_track)
        # "kind:value" of the few cooperative tracks (str() of an Identity).
        has_id = np.flatnonzero(present(table.identity))
        ident = [str(v) for v in table.identity[has_id]]
        rid, icao = np.zeros(n, bool), np.zeros(n, bool)
        rid[has_id] = [v.startswith("remoteid:") for v in ident]
        icao[has_id] = [v.startswith("icao24:") for v in ident]
        rid &= ~spoof
        icao &= ~spoof
        # Kinematics and radar signature alone never make a drone certain: the
        # training birds are simulated, real ones are more varied. An RF emitter
        # on the track's bearing lifts the cap a little, a believed Remote ID fully.
        emitter = feats[:, FEATURES.index("rf_frac")] >= p.rf_emitter_frac
        rcs = feats[:, FEATURES.index("rcs_dbsm")]
        rcs_none = ~(rcs >= p.rcs_signature_min_dbsm)  # NaN (no radar RCS) included
        slow = ~fast
        # "No signature" is itself evidence only once the track has been watched.
        watched_unsigned = (table.t_s >= t_start) & rcs_none & ~emitter & ~rid
        # The base rate of slow flyers (penalty and cap below) weighs by the share of the
        # track's recent scans that were slow, not by this scan's flag: a bird's speed
        # estimate that pokes above a bird's limit for a scan must not flip its reading.
        # Counted only once the feature window is past the filter transient: a new
        # track's first speeds are no measure of the object (a 37 m/s drone's new track
        # settled at 21 m/s and would have kept a bird's share for ten seconds).
        prev = h.slow_share[slots]
        ws = np.exp(-elapsed / p.slow_share_tau_s) if p.slow_share_tau_s > 0.0 else np.zeros(n)
        share = np.where(np.isfinite(prev), ws * prev + (1.0 - ws) * slow, slow)
        h.slow_share[slots] = np.where(table.t_s >= t_start + p.window_s, share, np.nan)
        hover_frac = feats[:, FEATURES.index("hover_frac")]
        hovering = hover_frac >= p.hover_signature_frac
        # Only a track whose position is measured: one held by bearings alone (a camera's
        # on a bird far along its line, crossing another sensor's) has no measured
        # velocity, and stands still because nothing moves it.
        hovering &= table.t_s - h.last_fix_t_s[slots] <= p.hover_fix_max_s
        # ... and that stood still while held, not while coasting: a bird turning back
        # on its path leaves a filter's speed near zero for a few scans, and a track
        # coasting on that guess stands still for as many more (real-train-05 seed 8).
        cand = np.flatnonzero(hovering)
        if cand.shape[0]:
            held = h.held_still_frac(slots[cand], table.t_s, p.window_s, t_start[cand])
            hovering[cand] = held >= p.hover_signature_frac
        if p.hover_latch_s > 0.0:
            # Only once the whole window is past the filter transient: a new track's
            # velocity starts at zero and a bird's first seconds read as hovering.
            settled = table.t_s >= t_start + p.window_s
            still = hover_frac >= p.hover_latch_frac
            h.hovered_s[slots] += np.where(hovering & settled & still, np.minimum(dt, 1.0), 0.0)
            hovering |= h.hovered_s[slots] >= p.hover_latch_s
        ev = p.evidence_weight * h.evidence[slots]
        if self.n_columns > len(CLASSES):
            ev[:, 0] = np.maximum(ev[:, 0], ev[:, 5] + p.multirotor_llr)
        logits = (
            self._prior[None]
            + ev[:, : len(CLASSES)]
            + rid[:, None] * self._id_rid[None]
            + icao[:, None] * self._id_icao[None]
        )
        logits[:, 0] += (watched_unsigned & ~hovering) * share * p.unsigned_drone_llr
        # Steadily so: the window's speed less its spread (a new track's speed, or one
        # jumping between two birds' plots, is no measure of the object's).
        steady = (
            feats[:, FEATURES.index("speed_mps")] - feats[:, FEATURES.index("speed_std_mps")]
        ) >= p.bird_ground_speed_max_mps
        logits[:, 1] += steady * p.fast_bird_llr
        not_transit = speed < p.unsigned_helicopter_speed_max_mps
        logits[:, _HELICOPTER] += (
            watched_unsigned & not_transit & ~icao
        ) * p.unsigned_helicopter_llr
        named = self.emitter_classes(table, by_track)
        rows = np.flatnonzero(icao & (named >= 0))
        logits[rows, named[rows]] += p.emitter_llr
        logits -= logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=1, keepdims=True)
        cap = np.where(
            emitter,
            p.drone_p_max_rf,
            np.where(
                rcs_none & ~hovering,
                p.drone_p_max_kinematic
                - share * (p.drone_p_max_kinematic - p.drone_p_max_unsigned),
                p.drone_p_max_kinematic,
            ),
        )
        prob = _cap_drone(prob, np.where(rid, 1.0, cap))
        label = np.asarray(CLASSES, dtype=object)[np.argmax(prob, axis=1)]
        h.forget(table.id[table.status == DELETED])
        live = table.status != DELETED
        self._last_pd = dict(zip(table.id[live].tolist(), prob[live, 0].tolist(), strict=True))
        return ClassResult(p=prob, label=label, cooperative=rid | icao, spoof=spoof, fast=fast)


def _gap_floor(term: np.ndarray, edges: np.ndarray, lo: float, hi: float) -> float:
    """The lower of the best terms (one per bin of ``edges``) among the bins wholly
    below ``lo`` and among those wholly above ``hi``; -inf if either side has none."""
    lower = np.concatenate(([-np.inf], edges))
    upper = np.concatenate((edges, [np.inf]))
    below, above = term[upper <= lo], term[lower >= hi]
    if lo >= hi or below.shape[0] == 0 or above.shape[0] == 0:
        return -np.inf
    return float(min(below.max(), above.max()))


def _cap_drone(prob: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Probabilities (n, 5) with the drone column limited to ``cap`` (n,); the excess
    is shared among the other classes in proportion to their probabilities."""
    pd_ = prob[:, 0]
    over = pd_ > cap
    if not over.any():
        return prob
    out = prob.copy()
    rest = 1.0 - pd_[over]
    scale = (1.0 - cap[over]) / np.maximum(rest, 1e-300)
    out[over, 1:] *= scale[:, None]
    out[over, 0] = cap[over]
    # A row with all mass on drone has nothing to scale: give the excess to unknown.
    flat = over.copy()
    flat[over] = rest <= 1e-300
    out[flat, 1:] = 0.0
    out[flat, -1] = 1.0 - cap[flat]
    return out
