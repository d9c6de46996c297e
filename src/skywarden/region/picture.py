"""The regional picture: the tracks of every site in one frame, associated and fused.

Each site reports its own tracks (``TracksMsg``). Here they are put in the
region's East-North-Up frame, predicted to a common time with a constant-velocity
model, associated track to track, and fused into regional tracks.

- **Association** is sticky: a site track once joined to a regional track stays
  with it (a site's own track id is stable). A new site track is gated against
  every regional track on position *and* velocity, with the sum of both
  covariances (squared Mahalanobis distance in 6 dimensions below ``gate_chi2``),
  and assigned by the Hungarian method (``scipy.optimize.linear_sum_assignment``),
  one site at a time, so two sites' new tracks of one drone meet in one regional track.
- **Fusion** is covariance intersection with the fast trace weights
  (w_i proportional to 1/trace(P_i)). Two sites' estimates of one drone are not
  independent (common process noise, the same drone's past, sites that share
  sensors), and their cross-covariance is unknown; covariance intersection is
  consistent for *any* cross-correlation, where a Kalman-style product would be
  over-confident.
- **Handover**: a regional track whose members have all gone coasts (predicted)
  for ``coast_s``; the next site's new track of the same drone is gated against
  it and takes the same regional id.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from ..geodesy import LocalFrame
from .schema import TracksMsg

__all__ = ["Picture", "RegionalTrack", "Report", "covariance_intersection"]

#: chi-square, 6 degrees of freedom, 0.999.
GATE_CHI2_6 = 22.46

Key = tuple[str, str]


@dataclass(slots=True)
class Report:
    """A site track's latest state in the regional frame."""

    site: str
    track: str
    t: float
    x: np.ndarray
    P: np.ndarray
    class_: str
    identity: dict[str, str] | None
    class_p: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class RegionalTrack:
    rid: int
    t: float
    x: np.ndarray
    P: np.ndarray
    last_seen: float
    members: list[Key] = field(default_factory=list)
    class_: str = "unknown"
    identity: dict[str, str] | None = None
    class_p: dict[str, float] = field(default_factory=dict)

    @property
    def sites(self) -> list[str]:
        return sorted({s for s, _ in self.members})


def predict_many(
    x: np.ndarray, P: np.ndarray, dt: np.ndarray, q: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`predict` of n states (n, 6), (n, 6, 6) over their own ``dt`` (n,) at once."""
    dt = np.maximum(dt, 0.0)
    n = len(dt)
    F = np.broadcast_to(np.eye(6), (n, 6, 6)).copy()
    for i in range(3):
        F[:, i, 3 + i] = dt
    Q = np.zeros((n, 6, 6))
    for i in range(3):
        Q[:, i, i] = dt**3 / 3
        Q[:, i, 3 + i] = Q[:, 3 + i, i] = dt**2 / 2
        Q[:, 3 + i, 3 + i] = dt
    xp = np.einsum("nij,nj->ni", F, x)
    Pp = F @ P @ F.transpose(0, 2, 1) + q * Q
    return xp, Pp


def covariance_intersection(
    xs: list[np.ndarray], Ps: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Fuse estimates of unknown cross-correlation (fast CI: weights ~ 1/trace(P))."""
    if len(xs) == 1:
        return xs[0], Ps[0]
    w = np.array([1.0 / np.trace(P) for P in Ps])
    w /= w.sum()
    infos = [wi * np.linalg.inv(P) for wi, P in zip(w, Ps, strict=True)]
    P = np.linalg.inv(sum(infos))
    x = P @ sum(info @ xi for info, xi in zip(infos, xs, strict=True))
    return x, (P + P.T) / 2


class Picture:
    """Site reports in, regional tracks out. ``track_map`` (site, site track) -> regional id
    is the picture's memory across restarts (the region store keeps it)."""

    def __init__(
        self,
        frame: LocalFrame,
        *,
        gate_chi2: float = GATE_CHI2_6,
        coast_s: float = 10.0,
        stale_s: float = 5.0,
        q: float = 4.0,
        next_rid: int = 1,
        track_map: dict[Key, int] | None = None,
    ) -> None:
        self.frame = frame
        self.gate_chi2 = gate_chi2
        self.coast_s = coast_s
        self.stale_s = stale_s
        self.q = q
        self.next_rid = next_rid
        self.track_map: dict[Key, int] = dict(track_map or {})
        #: Time each mapped site track was last reported (the pruning age of the map).
        self.last_report: dict[Key, float] = {}
        #: Mappings made since the caller last took them (to persist).
        self.new_mappings: list[tuple[Key, int]] = []
        self.reports: dict[Key, Report] = {}
        self.tracks: dict[int, RegionalTrack] = {}
        self.t = 0.0
        self._rot: dict[tuple[float, float], np.ndarray] = {}

    def add_tracks(self, msg: TracksMsg) -> None:
        """Take one site scan: live tracks replace their last report, deleted ones go."""
        rot = self._rot.get((msg.lat, msg.lon))
        if rot is None:
            rot = self._rot[(msg.lat, msg.lon)] = self.frame.rotation_from(msg.lat, msg.lon)
        live = [t for t in msg.tracks if t.status != "deleted"]
        for t in msg.tracks:
            if t.status == "deleted":
                self.reports.pop((msg.site, t.id), None)
        if not live:
            return
        pos = self.frame.to_enu(
            np.array([t.lat for t in live]), np.array([t.lon for t in live]),
            np.array([t.alt_m for t in live]),
        ).reshape(-1, 3)  # fmt: skip
        vel = np.array([t.vel_enu_mps for t in live], dtype=float) @ rot.T
        # One array per scan, each report a view of its row: 200 small allocations per
        # scan were most of this method's cost.
        n = len(live)
        x = np.concatenate([pos, vel], axis=1)
        P = np.zeros((n, 6, 6))
        d = np.arange(3)
        pstd = np.array([max(t.pos_std_m or 10.0, 0.1) for t in live])
        P[:, d, d] = (pstd**2)[:, None]
        P[:, 3 + d, 3 + d] = msg.vel_std_mps**2
        for i, t in enumerate(live):
            self.last_report[(msg.site, t.id)] = msg.t
            self.reports[(msg.site, t.id)] = Report(
                site=msg.site, track=t.id, t=msg.t, x=x[i], P=P[i], class_=t.class_,
                identity=t.identity, class_p=t.class_p,
            )  # fmt: skip
        self.t = max(self.t, msg.t)

    def rid_of(self, site: str, track: str) -> int:
        """The regional id of a site track, a new one if the track was never seen."""
        key = (site, track)
        rid = self.track_map.get(key)
        if rid is None:
            rid = self._map(key, self._new_rid())
        return rid

    def prune_map(self, before: float, keep_rids: set[int]) -> list[Key]:
        """Forget the mappings of site tracks not reported since ``before`` (and not in
        the picture or ``keep_rids``); the keys forgotten."""
        gone = [
            k for k, rid in self.track_map.items()
            if self.last_report.get(k, before) < before and k not in self.reports
            and rid not in keep_rids
        ]  # fmt: skip
        for k in gone:
            del self.track_map[k]
            self.last_report.pop(k, None)
        return gone

    def _new_rid(self) -> int:
        rid = self.next_rid
        self.next_rid += 1
        return rid

    def _map(self, key: Key, rid: int) -> int:
        self.track_map[key] = rid
        self.new_mappings.append((key, rid))
        return rid

    def fuse(self, now: float | None = None) -> list[RegionalTrack]:
        """Predict everything to ``now`` (the latest scan time by default), associate, fuse."""
        now = self.t if now is None else now
        for k in [k for k, r in self.reports.items() if now - r.t > self.stale_s]:
            del self.reports[k]
        # Tracks past their coasting window go before association: after a silence of
        # all sites their predicted covariance is wide enough to gate anything.
        for old in [r for r, rt in self.tracks.items() if now - rt.last_seen > self.coast_s]:
            del self.tracks[old]
        keys = list(self.reports)
        index = {k: i for i, k in enumerate(keys)}
        X = np.empty((0, 6))
        PP = np.empty((0, 6, 6))
        if keys:
            reps = list(self.reports.values())
            X, PP = predict_many(
                np.array([r.x for r in reps]), np.array([r.P for r in reps]),
                now - np.array([r.t for r in reps]), self.q,
            )  # fmt: skip
        if self.tracks:
            rts = list(self.tracks.values())
            xs, Ps = predict_many(
                np.array([rt.x for rt in rts]), np.array([rt.P for rt in rts]),
                now - np.array([rt.t for rt in rts]), self.q,
            )  # fmt: skip
            for i, rt in enumerate(rts):
                rt.x, rt.P, rt.t, rt.members = xs[i], Ps[i], now, []
        unmapped: dict[str, list[Key]] = {}
        for k in sorted(keys):
            rid = self.track_map.get(k)
            if rid is None:
                unmapped.setdefault(k[0], []).append(k)
            else:
                self._member(rid, k, X[index[k]], PP[index[k]], now)
        for site in sorted(unmapped):
            self._associate(site, unmapped[site], X, PP, index, now)
        for rid in list(self.tracks):
            rt = self.tracks[rid]
            if len(rt.members) == 1:
                # Most tracks are seen by one site: no fusion, no Python-level search.
                k = rt.members[0]
                rt.x, rt.P, rt.last_seen = X[index[k]], PP[index[k]], now
                r = self.reports[k]
                rt.identity = r.identity or rt.identity
                rt.class_, rt.class_p = r.class_, r.class_p
                continue
            if not rt.members:
                if now - rt.last_seen > self.coast_s:
                    del self.tracks[rid]
                continue
            rows = [index[k] for k in rt.members]
            rt.x, rt.P = covariance_intersection(list(X[rows]), list(PP[rows]))
            rt.last_seen = now
            reps = [self.reports[k] for k in rt.members]
            rt.identity = next((r.identity for r in reps if r.identity), rt.identity)
            best = max(reps, key=lambda r: r.class_ != "unknown")
            rt.class_, rt.class_p = best.class_, best.class_p
        return list(self.tracks.values())

    def _member(self, rid: int, k: Key, x: np.ndarray, P: np.ndarray, now: float) -> None:
        rt = self.tracks.get(rid)
        if rt is None:
            rt = self.tracks[rid] = RegionalTrack(rid=rid, t=now, x=x, P=P, last_seen=now)
        rt.members.append(k)

    def _associate(
        self, site: str, keys: list[Key], X: np.ndarray, PP: np.ndarray,
        index: dict[Key, int], now: float,
    ) -> None:  # fmt: skip
        cands = [rt for rt in self.tracks.values() if all(s != site for s, _ in rt.members)]
        assigned: dict[int, int] = {}
        if cands:
            rows = np.array([index[k] for k in keys])
            cost = self._gate(X[rows], PP[rows], cands)
            if cost:
                r_ids = sorted({r for r, _ in cost})
                c_ids = sorted({c for _, c in cost})
                big = 1e9
                m = np.full((len(r_ids), len(c_ids)), big)
                r_at = {r: i for i, r in enumerate(r_ids)}
                c_at = {c: j for j, c in enumerate(c_ids)}
                for (r, c), d2 in cost.items():
                    m[r_at[r], c_at[c]] = d2
                ri, ci = linear_sum_assignment(m)
                assigned = {
                    r_ids[int(i)]: c_ids[int(j)]
                    for i, j in zip(ri, ci, strict=True)
                    if m[i, j] < big
                }  # fmt: skip
        for i, k in enumerate(keys):
            rid = cands[assigned[i]].rid if i in assigned else self._new_rid()
            self._map(k, rid)
            self._member(rid, k, X[index[k]], PP[index[k]], now)

    def _gate(
        self, kx: np.ndarray, kP: np.ndarray, cands: list[RegionalTrack]
    ) -> dict[tuple[int, int], float]:
        """(new track, candidate) -> squared Mahalanobis distance, for pairs inside the gate.

        Only pairs near in position are solved: the 6-D distance is at least its
        position part, which is at least |dp|^2 / trace(position covariance sum), so a
        pair farther than sqrt(gate * (trace_k + max trace_c)) cannot pass the gate. The
        result is the same as solving every pair, at a cost that grows with the pairs
        that are near rather than with new tracks x candidates.
        """
        cx = np.array([rt.x for rt in cands])
        cP = np.array([rt.P for rt in cands])
        tr_k = np.trace(kP[:, :3, :3], axis1=1, axis2=2)
        tr_c = np.trace(cP[:, :3, :3], axis1=1, axis2=2)
        radius = np.sqrt(self.gate_chi2 * (tr_k + tr_c.max()))
        near = cKDTree(cx[:, :3]).query_ball_point(kx[:, :3], radius)
        ii = np.array([i for i, js in enumerate(near) for _ in js], dtype=int)
        jj = np.array([j for js in near for j in js], dtype=int)
        if len(ii) == 0:
            return {}
        d = kx[ii] - cx[jj]
        S = kP[ii] + cP[jj]
        try:
            d2 = np.einsum("ij,ij->i", d, np.linalg.solve(S, d[:, :, None])[:, :, 0])
            ok = np.ones(len(ii), dtype=bool)
        except np.linalg.LinAlgError:
            # A singular pair (zero announced variances) must not spoil the others.
            d2 = np.full(len(ii), np.inf)
            ok = np.zeros(len(ii), dtype=bool)
            for n in range(len(ii)):
                with contextlib.suppress(np.linalg.LinAlgError):
                    d2[n] = d[n] @ np.linalg.solve(S[n], d[n])
                    ok[n] = True
        inside = ok & (d2 < self.gate_chi2)
        return {
            (int(i), int(j)): float(v)
            for i, j, v in zip(ii[inside], jj[inside], d2[inside], strict=True)
        }
