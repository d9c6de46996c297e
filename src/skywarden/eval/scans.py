"""Track tables from a scenario, for classifier training and evaluation.

:func:`pseudo_scans` filters truth positions at the scan times plus measurement
noise with a per-axis constant-velocity Kalman filter: cheap, and independent
of the tracker. :func:`tracker_scans` runs the real
:class:`~skywarden.pipeline.Engine`. Either yields one ``(TrackTable,
Association)`` per scan, its detections keeping their simulator ``truth`` key.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator

import numpy as np

from ..geodesy import LocalFrame
from ..scenario import Header
from ..sim.synthetic import SITE
from ..types import (
    CONFIRMED,
    DELETED,
    TENTATIVE,
    Association,
    Detection,
    Identity,
    Record,
    TrackTable,
    TruthPoint,
)


def pseudo_scans(
    header: Header,
    records: Iterable[Record],
    rng: np.random.Generator,
    *,
    dt_s: float = 1.0,
    sigma_m: float = 12.0,
    sigma_a_mps2: float = 2.0,
    pd: float = 0.9,
    confirm_hits: int = 3,
) -> Iterator[tuple[TrackTable, Association]]:
    """Pseudo-tracks from truth: one (TrackTable, Association) per scan of ``dt_s``.

    Each truth object is measured at the scan times with probability ``pd`` and
    isotropic noise ``sigma_m``, and filtered per axis by a constant-velocity
    Kalman filter (white acceleration ``sigma_a_mps2``). Detections with a
    ``truth`` key are associated to that object's track within their scan.
    """
    frame = LocalFrame.from_site(header.site or SITE)
    truth: dict[str, list[TruthPoint]] = defaultdict(list)
    dets: dict[tuple[str, int], list[Detection]] = defaultdict(list)
    detections: list[Detection] = []
    for r in records:
        if isinstance(r, TruthPoint):
            truth[r.id].append(r)
        elif isinstance(r, Detection) and r.truth is not None:
            detections.append(r)
    if not truth:
        return
    t_min = min(p[0].t for p in truth.values())
    t_max = max(p[-1].t for p in truth.values())
    t_grid = t_min + dt_s * np.arange(int((t_max - t_min) / dt_s) + 1)
    kind_of = {sid: s.kind for sid, s in header.sensors.items()}
    for d in detections:
        k = math.floor((d.t - t_min) / dt_s + 1e-9)
        dets[(d.truth, max(k, 0))].append(d)  # type: ignore[index]

    ids = sorted(truth)
    n = len(ids)
    pos = np.full((n, len(t_grid), 3), np.nan)
    for i, oid in enumerate(ids):
        pts = truth[oid]
        tt = np.array([p.t for p in pts])
        enu = frame.to_enu(
            np.array([p.lat for p in pts]),
            np.array([p.lon for p in pts]),
            np.array([p.alt_m for p in pts]),
        ).reshape(-1, 3)
        inside = (t_grid >= tt[0]) & (t_grid <= tt[-1])
        for a in range(3):
            pos[i, inside, a] = np.interp(t_grid[inside], tt, enu[:, a])

    # Per-axis CV Kalman filter state, all objects at once: x = [p, v], P = [[a, b], [b, c]].
    xp = np.full((n, 3), np.nan)
    xv = np.zeros((n, 3))
    Pa = np.full((n, 3), sigma_m**2)
    Pb = np.zeros((n, 3))
    Pc = np.full((n, 3), 30.0**2)
    hits = np.zeros(n, np.int64)
    t_first = np.full(n, np.nan)
    t_last = np.full(n, np.nan)
    identity = np.full(n, None, dtype=object)
    alive = np.zeros(n, bool)
    R = sigma_m**2
    q = sigma_a_mps2**2
    for k, tk in enumerate(t_grid):
        present = np.isfinite(pos[:, k, 0])
        seen = present & (rng.random(n) < pd)
        z = pos[:, k] + rng.normal(0, sigma_m, (n, 3))
        # Predict: x = F x, P = F P F' + Q (F = [[1, dt], [0, 1]], Q white acceleration).
        dt = dt_s
        xp = xp + xv * dt
        Pa, Pb, Pc = (
            Pa + 2 * dt * Pb + dt * dt * Pc + q * dt**3 / 3,
            Pb + dt * Pc + q * dt**2 / 2,
            Pc + q * dt,
        )
        new = seen & ~np.isfinite(xp[:, 0])
        xp[new] = z[new]
        xv[new] = 0.0
        Pa[new], Pb[new], Pc[new] = R, 0.0, 30.0**2
        upd = seen & ~new
        # K = P H' / (H P H' + R), H = [1, 0]; x += K (z - p); P = (I - K H) P.
        s = Pa + R
        ka, kb = Pa / s, Pb / s
        r = z - xp
        xp = np.where(upd[:, None], xp + ka * r, xp)
        xv = np.where(upd[:, None], xv + kb * r, xv)
        Pa, Pb, Pc = (
            np.where(upd[:, None], (1 - ka) * Pa, Pa),
            np.where(upd[:, None], (1 - ka) * Pb, Pb),
            np.where(upd[:, None], Pc - kb * Pb, Pc),
        )
        hits += seen
        t_first = np.where(new, tk, t_first)
        t_last = np.where(seen, tk, t_last)
        was = alive.copy()
        alive = np.isfinite(xp[:, 0]) & present
        gone = was & ~alive

        track_id, adets, kinds = [], [], []
        for i in np.flatnonzero(alive).tolist():
            for d in dets.get((ids[i], k), ()):
                kind = kind_of.get(d.sensor, "position")
                track_id.append(i + 1)
                adets.append(d)
                kinds.append(kind)
                if kind == "remoteid" and d.uas_id:
                    identity[i] = Identity("remoteid", d.uas_id)
                elif kind == "adsb" and d.icao24 and identity[i] is None:
                    identity[i] = Identity("icao24", d.icao24.lower())
        rows = np.flatnonzero(alive | gone)
        status = np.where(hits[rows] >= confirm_hits, CONFIRMED, TENTATIVE).astype(np.int8)
        status[gone[rows]] = DELETED
        P = np.zeros((len(rows), 6, 6))
        for a in range(3):
            P[:, a, a] = Pa[rows, a]
            P[:, a, a + 3] = P[:, a + 3, a] = Pb[rows, a]
            P[:, a + 3, a + 3] = Pc[rows, a]
        yield (
            TrackTable(
                t_s=float(tk),
                id=(rows + 1).astype(np.int64),
                status=status,
                x=np.concatenate([xp[rows], xv[rows]], axis=1),
                P=P,
                identity=identity[rows].copy(),
                n_updates=hits[rows].copy(),
                t_first_s=t_first[rows].copy(),
                t_last_update_s=t_last[rows].copy(),
                mode_p=np.ones((len(rows), 1)),
            ),
            Association(
                track_id=np.asarray(track_id, np.int64), detections=tuple(adets), kinds=tuple(kinds)
            ),
        )
        # A deleted object's filter is reset so that it appears once as DELETED.
        xp[gone] = np.nan
        hits[gone] = 0


def tracker_scans(
    header: Header, records: Iterable[Record]
) -> Iterator[tuple[TrackTable, Association]]:
    """Tracks from the real tracker (:class:`~skywarden.pipeline.Engine`), one pair per output tick."""
    from ..pipeline import Engine

    out: list[tuple[TrackTable, Association]] = []
    engine = Engine(header, on_tracks=lambda table, assoc: out.append((table, assoc)))
    for r in records:
        if isinstance(r, Detection):
            engine.push(r)
            yield from out
            out.clear()
    engine.flush()
    yield from out
