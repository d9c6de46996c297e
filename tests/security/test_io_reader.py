"""The scenario line reader under attack: nesting, size, encoding, bad zones; fuzzed.

Every bad line is counted with a reason and the good lines around it are kept.
"""

from __future__ import annotations

import io

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skywarden.scenario import MAX_LINE_BYTES, ScenarioReader, bounded_lines, encode_line
from skywarden.sources.jsonl import LineSplitter
from skywarden.types import Detection, Sensor, Site, Zone

SITE = Site(name="s", lat=51.0, lon=1.0, alt_m=10.0)
RADAR = Sensor(id="r1", kind="radar", lat=51.0, lon=1.0, alt_m=12.0)
HEADER = [encode_line(SITE), encode_line(RADAR)]


def det(t: float) -> bytes:
    return encode_line(Detection(t=t, sensor="r1", range_m=1000.0, az_deg=10.0, el_deg=2.0))


#: The issue's payload: 6 KB of ``{"a":``, which raised RecursionError out of the reader.
DEEP = b'{"a":' * 1200 + b"1" + b"}" * 1200


def read(lines: list[bytes]) -> tuple[list, ScenarioReader]:
    reader = ScenarioReader(io.BytesIO(b"\n".join(lines) + b"\n"), quiet=True)
    return list(reader), reader


def test_deeply_nested_line_is_one_rejection_and_the_file_goes_on(tmp_path):
    for payload in (DEEP, b"[" * 5000 + b"]" * 5000, b'{"type":"detection","x":' + b"[" * 3000):
        recs, reader = read([*HEADER, det(1.0), payload, det(2.0)])
        assert [r.t for r in recs if isinstance(r, Detection)] == [1.0, 2.0]
        assert reader.stats.n_rejected == 1
        assert (
            "nested" in reader.stats.rejected[0].reason or "JSON" in reader.stats.rejected[0].reason
        )
    # The same through a file on disk (the prescan reads declarations too).
    p = tmp_path / "deep.jsonl"
    p.write_bytes(b"\n".join([*HEADER, DEEP, det(1.0)]) + b"\n")
    reader = ScenarioReader(p, quiet=True)
    assert [r.t for r in reader if isinstance(r, Detection)] == [1.0]
    assert reader.stats.rejected[0].line == 3 and "nested" in reader.stats.rejected[0].reason


def test_brackets_inside_strings_do_not_count_as_nesting():
    sensor = encode_line(Sensor(id="[" * 40 + "{" * 40, kind="rf", lat=51.0, lon=1.0, alt_m=1.0))
    recs, reader = read([encode_line(SITE), sensor])
    assert reader.stats.n_rejected == 0 and len(recs) == 2


def test_overlong_line_is_rejected_alone_and_the_next_line_is_kept(tmp_path):
    long_line = b'{"type":"detection","pad":"' + b"x" * (MAX_LINE_BYTES + 10) + b'"}'
    p = tmp_path / "long.jsonl"
    p.write_bytes(b"\n".join([*HEADER, det(1.0), long_line, det(2.0)]) + b"\n")
    reader = ScenarioReader(p, quiet=True)
    assert [r.t for r in reader if isinstance(r, Detection)] == [1.0, 2.0]
    assert [(r.line, r.reason) for r in reader.stats.rejected] == [
        (4, f"line longer than {MAX_LINE_BYTES} bytes")
    ]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"type":"detection","t":NaN,"sensor":"r1"}', "NaN"),
        (b'{"type":"detection","t":Infinity,"sensor":"r1"}', "NaN or Infinity"),
        (b'{"type":"detection","t":1e999,"sensor":"r1","range_m":1,"az_deg":1,"el_deg":1}', ""),
        (b'{"type":"detection","t":1,"sensor":"r1","range_m":' + b"9" * 5000 + b"}", ""),
        (b'{"type":"detection","t":1,"sensor":"r\xff\xfe1"}', ""),
        (b'{"type":"detection","t":1,"sensor":"r1"\x00}', ""),
        (b"\x00" * 100, ""),
        (b'{"type":"detection","t":1,"sensor":"r1","range_m":10', ""),
        (
            b'{"type":"sensor","id":"' + b"x" * 1000 + b'","kind":"rf","lat":0,"lon":0,"alt_m":0}',
            "",
        ),
    ],
)
def test_encoding_and_number_attacks_are_counted_rejections(payload, reason):
    recs, reader = read([*HEADER, det(1.0), payload, det(2.0)])
    assert [r.t for r in recs if isinstance(r, Detection)] == [1.0, 2.0]
    assert reader.stats.n_rejected == 1
    assert reason in reader.stats.rejected[0].reason


ZONE = {"type": "zone", "name": "z", "floor_m": 0.0, "ceiling_m": 500.0}
SQUARE = [[1.0, 51.0], [1.01, 51.0], [1.01, 51.01], [1.0, 51.01]]


@pytest.mark.parametrize(
    ("zone", "reason"),
    [
        ({"id": "two", "polygon": [[1.0, 51.0], [1.01, 51.0]]}, "3 distinct vertices"),
        ({"id": "dup-pts", "polygon": [[1.0, 51.0], [1.0, 51.0], [1.01, 51.0]]}, "3 distinct"),
        (
            {"id": "bowtie", "polygon": [[1.0, 51.0], [1.01, 51.01], [1.01, 51.0], [1.0, 51.01]]},
            "self-intersecting",
        ),
        ({"id": "flat", "polygon": [[1.0, 51.0], [1.01, 51.0], [1.02, 51.0]]}, "no area"),
        (
            {
                "id": "anti",
                "polygon": [[179.9, 10.0], [-179.9, 10.0], [-179.9, 10.1], [179.9, 10.1]],
            },
            "antimeridian",
        ),
        ({"id": "low", "polygon": SQUARE, "floor_m": 500.0, "ceiling_m": 100.0}, "ceiling_m"),
        ({"id": "same", "polygon": SQUARE, "floor_m": 100.0, "ceiling_m": 100.0}, "ceiling_m"),
    ],
)
def test_validate_and_track_refuse_the_zones_serve_refuses(zone, reason):
    line = orjson.dumps({**ZONE, **zone})
    recs, reader = read([*HEADER, line, det(1.0)])
    assert not [r for r in recs if isinstance(r, Zone)]
    assert reader.header.zones == []
    assert reader.stats.n_rejected == 1 and reason in reader.stats.rejected[0].reason


def test_a_zone_id_declared_twice_differently_is_rejected():
    a = orjson.dumps({**ZONE, "id": "Z", "polygon": SQUARE})
    b = orjson.dumps({**ZONE, "id": "Z", "polygon": SQUARE, "ceiling_m": 900.0})
    _, reader = read([*HEADER, a, b, a])
    assert len(reader.header.zones) == 1 and reader.header.zones[0].ceiling_m == 500.0
    assert [r.reason for r in reader.stats.rejected] == ["zone 'Z' declared twice, differently"]


def test_rejection_examples_are_bounded_but_every_rejection_is_counted():
    lines = [*HEADER] + [b"not json %d" % k for k in range(5000)] + [det(1.0)]
    reader = ScenarioReader(io.BytesIO(b"\n".join(lines)), quiet=True, live=True, max_samples=100)
    assert [r.t for r in reader if isinstance(r, Detection)] == [1.0]
    assert reader.stats.n_rejected == 5000
    assert len(reader.stats.rejected) == 100 and reader.stats.rejected[-1].line == 5002
    assert sum(reader.stats.by_reason.values()) == 5000 and len(reader.stats.by_reason) == 1


def test_unknown_keys_cannot_grow_the_warnings_without_bound():
    lines = [*HEADER] + [b'{"type":"weather%d","k%d":1}' % (k, k) for k in range(3000)]
    _, reader = read(lines)
    assert reader.stats.ignored == 3000
    assert len(reader.stats.warnings) <= 1000


# --- fuzzing: nothing escapes, every bad line is counted, good lines around it kept ---

fuzz = settings(max_examples=150, deadline=None)

nasty_line = st.one_of(
    st.binary(max_size=300).map(lambda b: b.replace(b"\n", b" ")),
    st.builds(lambda n, c: c * n, st.integers(0, 3000), st.sampled_from([b"[", b"{", b'{"a":'])),
    st.sampled_from(
        [b"NaN", b"Infinity", b"-Infinity", b"1e400", b'"\xff"', b"\x00", b"{}", b"[]", b"null"]
    ).map(lambda v: b'{"type":"detection","t":%s,"sensor":"r1"}' % v),
    st.builds(
        lambda k, v: b'{"type":"%s","%s":%s}' % (k, k, v),
        st.sampled_from([b"detection", b"sensor", b"zone", b"site", b"truth", b"x"]),
        st.sampled_from([b"1", b"[[[[1]]]]", b'"' + b"\xc3\x28" + b'"', b"1" * 400]),
    ),
    st.binary(min_size=1, max_size=120).map(lambda b: det(5.0)[: len(b) % 90]),
)


@fuzz
@given(st.lists(nasty_line, max_size=8))
def test_fuzz_reader_keeps_good_lines_and_counts_every_bad_one(bad):
    lines = [*HEADER, det(1.0)]
    for b in bad:
        lines += [b, det(2.0)]
    recs, reader = read(lines)
    dets = [r for r in recs if isinstance(r, Detection)]
    # Every good detection line survives whatever sits between them.
    assert [d.t for d in dets if d.sensor == "r1" and d.range_m == 1000.0][:1] == [1.0]
    assert sum(1 for d in dets if d.t == 2.0 and d.range_m == 1000.0) == len(bad)
    st_ = reader.stats
    assert st_.n_rejected == sum(st_.by_reason.values()) == len(st_.rejected)
    assert all(r.reason for r in st_.rejected)


@fuzz
@given(
    st.lists(st.binary(max_size=200), max_size=20),
    st.lists(st.integers(1, 64), min_size=1, max_size=10),
    st.integers(16, 120),
)
def test_fuzz_line_splitter_matches_a_plain_split_with_long_lines_marked(parts, cuts, max_len):
    data = b"\n".join(parts) + b"\n"
    splitter = LineSplitter(max_len)
    got: list[bytes | None] = []
    i = k = 0
    while i < len(data):
        step = cuts[k % len(cuts)]
        got += splitter.feed(data[i : i + step])
        i, k = i + step, k + 1
    got += splitter.end()
    want = [ln if len(ln) <= max_len else None for ln in data.split(b"\n")[:-1]]
    assert got == want
    # The file reader's bounded lines agree.
    file_lines = list(bounded_lines(io.BytesIO(data), max_len))
    assert [ln if ln is None else ln.rstrip(b"\n") for ln in file_lines] == want
