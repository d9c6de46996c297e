"""Rejections carry a typed code: metrics count by it, never by the text of the reason."""

from __future__ import annotations

import io
import random

from skywarden.scenario import ScenarioReader
from skywarden.sources import adsb
from skywarden.sources import asterix48 as ax
from skywarden.sources import remoteid as rid
from skywarden.sources.base import RejectionCounter
from skywarden.types import RejectCode, Rejected, Sensor

RADAR = Sensor(id="r1", kind="radar", lat=52.0, lon=5.0, alt_m=10.0)
T0 = 1_700_000_000.0


def test_counter_labels_come_from_the_code_not_the_text():
    c = RejectionCounter()
    # Text that the old counter split into two kinds ("asterix-len", "bad length")
    # and a text whose prefix names another kind: the code alone decides.
    c.add(
        "asterix48 r1", Rejected(code=RejectCode.SYNTAX, reason="asterix-len: block length 3 of 2")
    )
    c.add("asterix48 r1", Rejected(code=RejectCode.SYNTAX, reason="bad length: 99 at 4"))
    c.add("asterix48 r1", Rejected(code=RejectCode.TRUNCATED, reason="syntax: cut at 7"))
    assert dict(c.counts) == {("asterix48 r1", "syntax"): 2, ("asterix48 r1", "truncated"): 1}
    # The text is kept whole for people.
    assert c.samples[0][2] == "asterix-len: block length 3 of 2"


def _coded(items) -> list[RejectCode]:
    codes = [o.code for o in items if isinstance(o, Rejected)]
    assert codes, "the hostile input was expected to be rejected"
    return codes


def test_every_decoder_rejection_has_a_code():
    rng = random.Random(7)
    garbage = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80))) for _ in range(200)]
    codes: list[RejectCode] = []
    for g in garbage:
        codes += _coded(ax.decode_block(b"\x30" + g, T0, RADAR, T0 - 3600.0)) if g else []
        codes += _coded(adsb.split_beast(b"\x1a\x33" + g + b"\x1a"))
        asm = rid.RemoteIdAssembler("rid")
        codes += _coded(rid.decode_hex_line(g.hex()[:-1] + "z", T0, assembler=asm))
        codes += [o.code for o in rid.decode_payload(g) if isinstance(o, Rejected)]
    codes += _coded([adsb.parse_avr("*zz;"), adsb.parse_avr("@not-avr")])
    codes += _coded(rid.decode_payload(b"\x0f" + bytes(24)))  # a pack header, truncated
    reader = ScenarioReader(io.BytesIO(b'{"type": "detection", "t": 1, "sensor": "x"}\n{x\n[1]\n'))
    assert list(reader) == []
    codes += [r.code for r in reader.stats.rejected]
    assert RejectCode.UNCLASSIFIED not in codes
    assert {RejectCode.SYNTAX, RejectCode.TRUNCATED, RejectCode.UNKNOWN_SENSOR} <= set(codes)
