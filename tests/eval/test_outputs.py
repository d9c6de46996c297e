"""Reading a track output file for evaluation: bad lines are counted and skipped."""

from __future__ import annotations

import numpy as np

from skywarden.eval.outputs import read_output
from skywarden.scenario import MAX_LINE_BYTES

from .build import FRAME, T0, track_lines, write_output


def test_an_overlong_line_is_rejected_and_its_neighbours_are_read(tmp_path):
    t = T0 + np.arange(3.0)
    path = write_output(tmp_path / "o.jsonl", track_lines("T1", t, np.zeros((3, 3))))
    lines = path.read_bytes().splitlines(keepends=True)
    huge = b'{"type":"track","id":"' + b"x" * (MAX_LINE_BYTES + 10) + b'"}\n'
    path.write_bytes(lines[0] + huge + b"".join(lines[1:]))
    out = read_output(path, FRAME)
    assert len(out) == 3
    assert out.rejected == {f"line longer than {MAX_LINE_BYTES} bytes": 1}
    np.testing.assert_allclose(out.t_s, t)


def test_a_line_whose_class_p_is_no_object_is_rejected_with_its_reason(tmp_path):
    t = T0 + np.arange(3.0)
    path = write_output(tmp_path / "o.jsonl", track_lines("T1", t, np.zeros((3, 3))))
    lines = path.read_bytes().splitlines(keepends=True)
    bad = lines[1].replace(b'"class_p":{', b'"class_p":"<b>x</b>","was":{')
    assert bad != lines[1]
    path.write_bytes(lines[0] + bad + lines[2])
    out = read_output(path, FRAME)
    assert len(out) == 2 and sum(out.rejected.values()) == 1
    (reason,) = out.rejected
    assert "object" in reason and "<b>" not in reason
    np.testing.assert_allclose(out.t_s, t[[0, 2]])
    assert np.isfinite(out.class_p).all()
