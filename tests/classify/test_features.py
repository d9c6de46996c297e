"""The classifier's window features on histories with known answers (can fail)."""

import math

import numpy as np

from skywarden.classify.features import FEATURES, MIN_SAMPLES, TrackHistory

T0 = 1_767_225_600.0
F = {name: i for i, name in enumerate(FEATURES)}


def fly(h: TrackHistory, ids, states, rcs=None, rf=None, t0=T0):
    """Push one sample per second: states (T, n, 6) for tracks ``ids``."""
    ids = np.asarray(ids)
    for k, x in enumerate(states):
        slots = h.slots(ids)
        n = len(ids)
        r = np.full(n, np.nan) if rcs is None else rcs[k]
        f = np.zeros(n) if rf is None else rf[k]
        h.push(slots, t0 + k, x, r, f)
    return h.slots(ids)


def circle(speed, rate_dps, t):
    """Level flight at ``speed`` m/s turning at ``rate_dps``, sampled at times t (s)."""
    w = math.radians(rate_dps)
    hdg = w * t
    out = np.zeros((t.shape[0], 6))
    if w:
        out[:, 0] = speed / w * (1 - np.cos(hdg))
        out[:, 1] = speed / w * np.sin(hdg)
    else:
        out[:, 1] = speed * t
    out[:, 2] = 120.0
    out[:, 3] = speed * np.sin(hdg)
    out[:, 4] = speed * np.cos(hdg)
    return out


def test_straight_turning_and_hovering_tracks():
    t = np.arange(20.0)
    straight = circle(15.0, 0.0, t)
    turning = circle(15.0, 12.0, t)
    hover = np.zeros((20, 6))
    hover[:, 2] = 40.0
    hover[:, 5] = np.where(t % 2 == 0, 1.0, -1.0)  # bobbing up and down at 1 m/s
    h = TrackHistory(depth=32)
    slots = fly(h, [1, 2, 3], np.stack([straight, turning, hover], axis=1))
    f = h.features(slots, T0 + 19, 10.0, np.full(3, -np.inf))
    assert np.allclose(f[:, F["speed_mps"]], [15.0, 15.0, 0.0])
    assert np.allclose(f[:, F["height_m"]], [120.0, 120.0, 40.0])
    assert np.allclose(f[:, F["climb_mps"]], [0.0, 0.0, 1.0])
    # Bobbing up and down goes nowhere: the window's 11 samples (t = 9..19) net one.
    assert np.allclose(f[:, F["net_climb_mps"]], [0.0, 0.0, 1.0 / 11.0])
    assert np.allclose(f[:, F["speed_std_mps"]], 0.0, atol=1e-9)
    assert math.isclose(f[0, F["turn_rate_dps"]], 0.0, abs_tol=1e-9)
    assert math.isclose(f[1, F["turn_rate_dps"]], 12.0, rel_tol=1e-9)
    assert math.isnan(f[2, F["turn_rate_dps"]])  # too slow for a heading
    assert math.isclose(f[0, F["straightness"]], 1.0, rel_tol=1e-12)
    # 10 s at 12 deg/s is a third of a circle: chord / arc.
    arc = math.radians(12.0 * 10)
    assert math.isclose(f[1, F["straightness"]], 2 * math.sin(arc / 2) / arc, rel_tol=2e-3)
    assert math.isnan(f[2, F["straightness"]])  # no path
    assert np.allclose(f[:, F["hover_frac"]], [0.0, 0.0, 1.0])


def test_net_climb_keeps_the_sign_of_each_sample():
    t = np.arange(20.0)
    rising = circle(5.0, 0.0, t)
    rising[:, 5] = np.where(t % 4 == 0, -1.0, 3.0)  # up 3 m/s, down 1 m/s every fourth
    sinking = circle(5.0, 0.0, t)
    sinking[:, 5] = -2.0
    h = TrackHistory(depth=32)
    slots = fly(h, [1, 2], np.stack([rising, sinking], axis=1))
    f = h.features(slots, T0 + 19, 7.5, np.full(2, -np.inf))
    # Window t = 12..19: samples 3, 3, 3, -1 twice over.
    assert np.allclose(f[:, F["climb_mps"]], [2.5, 2.0])
    assert np.allclose(f[:, F["net_climb_mps"]], [2.0, 2.0])


def test_window_transient_and_too_few_samples():
    t = np.arange(12.0)
    h = TrackHistory(depth=16)
    # Track 1 accelerates 10 -> 21 m/s; track 2 is born at the 10th push.
    acc = circle(10.0, 0.0, t)
    acc[:, 4] = 10.0 + t
    fly(h, [1], acc[:10, None])
    slots = fly(h, [1, 2], np.stack([acc[10:], acc[10:]], axis=1), t0=T0 + 10)
    f = h.features(slots, T0 + 11, 5.0, np.array([-np.inf, -np.inf]))
    # Window: pushes within 5 s of the last, t = 6..11, speeds 16..21.
    assert math.isclose(f[0, F["speed_std_mps"]], np.std(np.arange(16.0, 22.0)), rel_tol=1e-12)
    assert math.isnan(f[1, F["climb_mps"]])  # 2 samples < MIN_SAMPLES
    assert MIN_SAMPLES == 3
    assert math.isclose(f[1, F["speed_mps"]], 21.0)
    # A transient end at t = 9 leaves samples 9..11 only.
    g = h.features(slots[:1], T0 + 11, 5.0, np.array([T0 + 9]))
    assert math.isclose(g[0, F["speed_std_mps"]], np.std([19.0, 20.0, 21.0]), rel_tol=1e-12)


def test_radar_cross_section_and_rf_fraction():
    n = 10
    x = np.zeros((n, 2, 6))
    x[:, :, 4] = 12.0
    rcs = np.full((n, 2), np.nan)
    rcs[::2, 0] = [-20.0, -22.0, -18.0, -20.0, -20.0]  # every other scan, track 1 only
    rf = np.zeros((n, 2))
    rf[-4:, 1] = 1.0  # track 2 heard in the last 4 of the window's 9 samples (t = 1..9)
    h = TrackHistory(depth=32)
    slots = fly(h, [1, 2], x, rcs=rcs, rf=rf)
    f = h.features(slots, T0 + n - 1, 8.0, np.full(2, -np.inf))
    assert math.isclose(f[0, F["rcs_dbsm"]], -20.0)
    assert math.isclose(f[0, F["rcs_std_db"]], math.sqrt(np.mean(np.square([0, 2, 2, 0, 0]))))
    assert math.isnan(f[1, F["rcs_dbsm"]]) and math.isnan(f[1, F["rcs_std_db"]])
    assert math.isclose(f[1, F["rf_frac"]], 4 / 9)
    assert f[0, F["rf_frac"]] == 0.0


def test_no_history_gives_nan():
    h = TrackHistory(depth=8)
    f = h.features(h.slots(np.array([5])), T0, 10.0, np.array([-np.inf]))
    assert f.shape == (1, len(FEATURES)) and np.isnan(f).all()


def test_standing_still_counts_only_while_held():
    """``held_still_frac`` takes the window as the features do and counts a still sample
    only where the track was held (fixed), not where it coasted on its filter's guess;
    ``hover_frac`` counts both. Too few samples: NaN."""
    hover = np.zeros((20, 1, 6))
    hover[:, 0, 2] = 40.0
    h = TrackHistory(depth=32)
    ids = np.array([1])
    for k in range(20):
        held = np.array([k % 4 == 0 or k < 10])  # held for 10 s, then 1 scan in 4
        h.push(h.slots(ids), T0 + k, hover[k], np.full(1, np.nan), np.zeros(1), held)
    slots = h.slots(ids)
    since = np.full(1, -np.inf)
    # Window t = 10..19: held at 12 and 16 only.
    assert h.held_still_frac(slots, T0 + 19, 9.0, since)[0] == 0.2
    assert h.features(slots, T0 + 19, 9.0, since)[0, F["hover_frac"]] == 1.0
    # Window t = 5..19: 5..9, 12, 16 held of 15.
    assert math.isclose(h.held_still_frac(slots, T0 + 19, 14.0, since)[0], 7 / 15)
    assert math.isnan(h.held_still_frac(slots, T0 + 19, 9.0, np.array([T0 + 18.0]))[0])
