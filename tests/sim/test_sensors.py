"""Sensor models against their configured performance: Pd, noise, clutter, coverage."""

from __future__ import annotations

import math

import numpy as np

from skywarden.coverage import in_coverage
from skywarden.geodesy import wrap_angle
from skywarden.sim import Simulation
from skywarden.sim.sensors import radar_snr_db, snr_ref_for_pd, swerling1_pd

from .helpers import run, spec, targets, truth_at

T0 = 1767225600.0


def _position_sensor(**kw):
    return {
        "id": "pos",
        "kind": "position",
        "pos_enu_m": [0.0, 0.0, 0.0],
        "pd": 0.9,
        "update_s": 1.0,
        "max_range_m": 50_000.0,
        "sigma_pos_m": 10.0,
        **kw,
    }


def _radar(**kw):
    return {
        "id": "r",
        "kind": "radar",
        "pos_enu_m": [0.0, 0.0, 10.0],
        "pd": 0.9,
        "max_range_m": 30_000.0,
        "ref_range_m": 12_000.0,
        "pfa": 1e-6,
        "sigma_range_m": 12.0,
        "sigma_az_deg": 0.4,
        "sigma_el_deg": 0.6,
        "sigma_range_rate_mps": 0.8,
        **kw,
    }


def test_swerling1_formula_round_trip():
    # The calibration SNR gives back the configured Pd, and Pd rises with SNR.
    for pd, pfa in [(0.9, 1e-6), (0.5, 1e-4), (0.99, 1e-8)]:
        snr_db = 10 * math.log10(snr_ref_for_pd(pd, pfa))
        assert math.isclose(float(swerling1_pd(np.array(snr_db), pfa)), pd, rel_tol=1e-9)
    p = swerling1_pd(np.array([0.0, 10.0, 20.0, 30.0]), 1e-6)
    assert np.all(np.diff(p) > 0)
    # Radar equation: 12 dB less SNR at twice the range.
    s = radar_snr_db(np.array([5e3, 1e4]), np.zeros(2), pd_ref=0.9, ref_range_m=1e4, pfa=1e-6)
    assert math.isclose(s[0] - s[1], 40 * math.log10(2), rel_tol=1e-9)


def test_position_sensor_detection_rate_matches_pd():
    sim = Simulation(
        spec([_position_sensor()], [targets(100, 0, 0, 10_000, agl_m=[100, 1000])]), seed=4
    )
    dets = run(sim)["pos"]
    n_opportunities = len(sim.population) * sim.sensors[0].n_scans
    rate = len(dets) / n_opportunities
    # 6100 opportunities: binomial sd 0.004; 0.02 is five sd.
    assert abs(rate - 0.9) < 0.02


def _expected_radar_pd(sim: Simulation, duration_s: int) -> np.ndarray:
    """The model's own Pd for every (object, scan) pair, from true ranges."""
    pos, _, _ = sim.population.sample(np.arange(len(sim.population)), np.arange(duration_s + 1.0))
    rng_m, _, _ = sim.sensors[0].geom.to_aer(pos)
    snr_db = radar_snr_db(rng_m, 0.0, pd_ref=0.9, ref_range_m=12_000.0, pfa=1e-6)
    return swerling1_pd(snr_db, 1e-6)


def test_radar_detection_rate_matches_swerling_model():
    # Near-stationary 0 dBsm targets at the reference range: Pd is the sensor's pd.
    near = [targets(60, 0, 12_000, 200, speed_mps=[0, 0.5], agl_m=[800, 900], rcs_dbsm=[0, 0])]
    # At twice the range the model's own (much lower) Pd must hold too.
    far = [targets(60, 0, 24_000, 200, speed_mps=[0, 0.5], agl_m=[1500, 1600], rcs_dbsm=[0, 0])]
    counts = []
    for objs, seed in ((near, 7), (far, 8)):
        sim = Simulation(spec([_radar()], objs, duration_s=100), seed=seed)
        n_det = len(run(sim)["r"])
        pd = _expected_radar_pd(sim, 100)
        sd = math.sqrt(float((pd * (1 - pd)).sum()))
        assert abs(n_det - pd.sum()) < 5 * sd
        counts.append((n_det, pd.mean()))
    assert abs(counts[0][1] - 0.9) < 0.01
    assert counts[1][1] < 0.5
    assert counts[1][0] < 0.6 * counts[0][0]


def test_radar_noise_matches_sigmas_and_range_rate_sign():
    objs = [targets(80, 0, 0, 8_000, speed_mps=[10, 40], agl_m=[500, 1500], rcs_dbsm=[10, 20])]
    sim = Simulation(spec([_radar()], objs, duration_s=120), seed=11)
    dets = [d for d in run(sim)["r"] if d.truth is not None]
    assert len(dets) > 5000
    pos, vel = truth_at(sim, dets)
    geom = sim.sensors[0].geom
    r, az, el = geom.to_aer(pos)
    res_r = np.array([d.range_m for d in dets]) - r
    res_az = np.degrees(wrap_angle(np.radians([d.az_deg for d in dets]) - az))
    res_el = np.array([d.el_deg for d in dets]) - np.degrees(el)
    # Range rate from the truth path itself: central difference of range.
    r_plus, _, _ = geom.to_aer(pos + 0.5 * vel)
    r_minus, _, _ = geom.to_aer(pos - 0.5 * vel)
    res_rr = np.array([d.range_rate_mps for d in dets]) - (r_plus - r_minus)
    for res, sigma in [(res_r, 12.0), (res_az, 0.4), (res_el, 0.6), (res_rr, 0.8)]:
        assert abs(res.mean()) < 0.1 * sigma
        assert abs(res.std() / sigma - 1.0) < 0.06


def test_position_noise_matches_sigma():
    sim = Simulation(
        spec([_position_sensor()], [targets(50, 0, 0, 10_000, agl_m=[100, 1000])]), seed=5
    )
    dets = run(sim)["pos"]
    pos, _ = truth_at(sim, dets)
    meas = sim.frame.to_enu(
        np.array([d.lat for d in dets]),
        np.array([d.lon for d in dets]),
        np.array([d.alt_m for d in dets]),
    )
    res = meas - pos
    assert np.all(np.abs(res.mean(axis=0)) < 1.0)
    assert np.all(np.abs(res.std(axis=0) / 10.0 - 1.0) < 0.06)


def test_clutter_rate_matches_configured_mean():
    sensors = [
        _radar(clutter_per_scan=5.0, fov={"el_min_deg": 0.0, "el_max_deg": 60.0}),
        _position_sensor(clutter_per_scan=3.0),
    ]
    sim = Simulation(spec(sensors, [targets(2, 0, 0, 1000)], duration_s=2000), seed=2)
    dets = run(sim)
    for m, lam in zip(sim.sensors, (5.0, 3.0), strict=True):
        n_clutter = sum(d.truth is None for d in dets[m.spec.id])
        assert n_clutter == m.n_clutter
        # Poisson: sd of the count is sqrt(lam * scans), about 1% here; allow four.
        assert abs(n_clutter - lam * m.n_scans) < 4 * math.sqrt(lam * m.n_scans)
    radar_clutter = [d for d in dets["r"] if d.truth is None]
    assert all(0.0 <= d.el_deg <= 2.0 for d in radar_clutter)
    assert all(d.range_m <= 30_000.0 for d in radar_clutter)
    assert all(d.snr_db > 10.0 * math.log10(-math.log(1e-6) - 1) - 1e-6 for d in radar_clutter)


def test_camera_field_of_view_and_max_range_respected():
    camera = {
        "id": "cam",
        "kind": "camera",
        "pos_enu_m": [0.0, 0.0, 10.0],
        "pd": 1.0,
        "update_s": 1.0,
        "max_range_m": 4_000.0,
        # A 60 degree sector through north.
        "fov": {"az_min_deg": 330.0, "az_max_deg": 30.0, "el_min_deg": -5.0, "el_max_deg": 30.0},
        "sigma_az_deg": 0.05,
        "sigma_el_deg": 0.05,
    }
    sim = Simulation(
        spec([camera], [targets(300, 0, 0, 6_000, agl_m=[50, 300])], duration_s=30), seed=9
    )
    dets = run(sim)["cam"]
    pos, _ = truth_at(sim, dets)
    line = sim.sensors[0].sensor
    assert np.all(in_coverage(line, sim.sensors[0].geom, pos))
    az = np.array([d.az_deg for d in dets])
    assert np.all((az >= 329.8) | (az <= 30.2))
    # With pd = 1 every covered (object, scan) pair is detected, and only those.
    all_pos, _, ok = sim.population.sample(np.arange(300), np.arange(31.0))
    covered = in_coverage(line, sim.sensors[0].geom, all_pos.reshape(-1, 3)) & ok.ravel()
    assert len(dets) == int(covered.sum())
    assert 0 < covered.sum() < 0.5 * covered.size


def test_rf_reports_only_radio_drones_and_dropouts_silence_a_sensor():
    rf = {
        "id": "rf",
        "kind": "rf",
        "pos_enu_m": [0.0, 0.0, 10.0],
        "pd": 1.0,
        "max_range_m": 20_000.0,
        "sigma_az_deg": 2.0,
        "dropouts": [{"from_s": 20.0, "to_s": 40.0}],
    }
    objects = [
        {"kind": "quadcopter", "count": 3, "area": {"radius_m": 2_000.0}},
        {"kind": "bird", "count": 10, "area": {"radius_m": 2_000.0}},
    ]
    sim = Simulation(spec([rf], objects, duration_s=60), seed=3)
    dets = run(sim)["rf"]
    assert {d.truth for d in dets} == {"drone-001", "drone-002", "drone-003"}
    t = np.array([d.t for d in dets]) - T0
    assert not np.any((t >= 20.0) & (t < 40.0))
    assert len(dets) == 3 * (61 - 20)
    res = np.degrees(
        wrap_angle(
            np.radians([d.az_deg for d in dets])
            - sim.sensors[0].geom.to_aer(truth_at(sim, dets)[0])[1]
        )
    )
    assert abs(res.std() / 2.0 - 1.0) < 0.15
