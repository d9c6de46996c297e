"""The reorder buffer: measurement-time order, per-sensor batches, late rejection."""

from __future__ import annotations

import numpy as np

from skywarden.tracking.reorder import ReorderBuffer
from skywarden.types import Detection


def _det(t: float, sensor: str = "r1", range_m: float = 1000.0) -> Detection:
    return Detection(t=t, sensor=sensor, range_m=range_m, az_deg=10.0, el_deg=2.0)


def _stream() -> list[Detection]:
    """Two radars at 1 Hz offset by 0.3 s, three plots per scan."""
    out = []
    for k in range(20):
        for j in range(3):
            out.append(_det(100.0 + k, "r1", 1000.0 + 100 * j))
            out.append(_det(100.3 + k, "r2", 2000.0 + 100 * j))
    return out


def _run(buf: ReorderBuffer, dets: list[Detection]) -> list[list[Detection]]:
    out = []
    for d in dets:
        buf.push(d)
        out.extend(buf.pop_ready())
    out.extend(buf.flush())
    return out


def test_shuffled_arrival_within_the_window_gives_the_sorted_batches():
    ref = _run(ReorderBuffer(0.5), _stream())
    rng = np.random.default_rng(4)
    for _ in range(5):
        dets = _stream()
        # Each detection arrives up to 0.25 s late: within the 0.5 s window.
        delay = rng.uniform(0.0, 0.25, len(dets))
        arrival = sorted(range(len(dets)), key=lambda i: dets[i].t + delay[i])
        buf = ReorderBuffer(0.5)
        assert _run(buf, [dets[i] for i in arrival]) == ref
        assert buf.late == 0
    # One batch per sensor per scan, in time order, each holding that scan's plots.
    assert [(b[0].sensor, b[0].t, len(b)) for b in ref[:3]] == [
        ("r1", 100.0, 3), ("r2", 100.3, 3), ("r1", 101.0, 3),
    ]  # fmt: skip
    assert [b[0].t for b in ref] == sorted(b[0].t for b in ref)


def test_a_detection_older_than_released_data_is_rejected_and_counted():
    buf = ReorderBuffer(0.1)
    assert buf.push(_det(100.0))
    assert buf.push(_det(101.0))
    released = [b for b in buf.pop_ready()]
    assert [b[0].t for b in released] == [100.0]
    assert not buf.push(_det(99.5))  # older than what went out
    assert buf.late == 1 and len(buf) == 1
    assert buf.push(_det(100.95))  # late, but nothing after it was released yet


def test_live_clock_releases_what_the_window_has_passed():
    buf = ReorderBuffer(0.1)
    buf.push(_det(100.0))
    assert list(buf.pop_ready(now_s=100.05)) == []  # still inside the window
    assert [b[0].t for b in buf.pop_ready(now_s=100.2)] == [100.0]


def test_arrival_order_within_one_batch_does_not_matter():
    a, b, c = _det(50.0, range_m=300.0), _det(50.0, range_m=100.0), _det(50.0, range_m=200.0)
    orders = []
    for perm in ([a, b, c], [c, a, b], [b, c, a]):
        buf = ReorderBuffer(0.1)
        for d in perm:
            buf.push(d)
        orders.append(list(buf.flush()))
    assert orders[0] == orders[1] == orders[2]
    assert [d.range_m for d in orders[0][0]] == [100.0, 200.0, 300.0]
