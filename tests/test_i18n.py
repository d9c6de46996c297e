"""The message catalogue: English and Korean in step, fallback, plain-text formatting,
a site's own wording checked at config load, and every string the page uses present."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest
import yaml
from fastapi.testclient import TestClient

from skywarden import i18n
from skywarden.config import ConfigError, load_config
from skywarden.i18n import (
    LANGUAGES,
    PLURAL_FORMS,
    MessageError,
    Messages,
    allowed_placeholders,
    builtin,
    placeholders,
    t,
)
from skywarden.store import Store
from skywarden.store.tokens import Role
from skywarden.types import (
    AlertLevel,
    AlertState,
    SensorCause,
    SensorKind,
    TrackStatus,
    TruthClass,
)
from skywarden.web import WebConfig, create_app
from skywarden.web.state import LiveState, SensorStatusName

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "src" / "skywarden" / "web" / "static"
HANGUL = re.compile("[\uac00-\ud7a3]")
# Words the Korean catalogue rightly keeps as they are: names, acronyms, units.
KEPT = {"skywarden", "ADS-B", "RF", "UTC"}


def test_catalogues_have_the_same_keys_and_placeholders():
    en, ko = builtin("en"), builtin("ko")
    assert set(en) == set(ko)
    assert len(en) > 100
    for key in en:
        assert placeholders(en[key]) == placeholders(ko[key]), key
        assert isinstance(en[key], dict) == isinstance(ko[key], dict), key


def test_plural_messages_have_each_languages_forms():
    for lang in LANGUAGES:
        for key, m in builtin(lang).items():
            if isinstance(m, dict):
                assert tuple(m) == PLURAL_FORMS[lang], (lang, key)
                assert all("{count}" in form for form in m.values()), (lang, key)


def test_keys_are_dotted_and_texts_not_empty():
    for lang in LANGUAGES:
        for key, m in builtin(lang).items():
            assert re.fullmatch(r"[a-z_]+(\.[a-z0-9_]+)+", key), key
            for text in m.values() if isinstance(m, dict) else [m]:
                assert text.strip(), (lang, key)


def test_korean_catalogue_is_translated():
    """Every English text with a word in it reads Korean in the Korean catalogue."""
    en, ko = builtin("en"), builtin("ko")
    for key, m in en.items():
        text = m["other"] if isinstance(m, dict) else m
        words = {w for w in re.findall(r"[A-Za-z][A-Za-z-]+", re.sub(r"\{\w+\}", "", text))}
        if words - KEPT:
            k = ko[key]["other"] if isinstance(ko[key], dict) else ko[key]
            assert HANGUL.search(k), (key, k)


def test_every_value_from_data_has_a_word():
    """The groups the map and CAP look values up in cover every value the types allow."""
    groups = {
        "class": TruthClass,
        "level": AlertLevel,
        "state": AlertState,
        "track_status": TrackStatus,
        "sensor_kind": SensorKind,
        "sensor_status": SensorStatusName,
        "role": Role,
        "ui.alert.cause": SensorCause,
    }
    en = builtin("en")
    for group, literal in groups.items():
        in_catalogue = {k.removeprefix(group + ".") for k in en if k.startswith(group + ".")}
        assert in_catalogue == set(get_args(literal)), group


def _page_keys() -> tuple[set[str], set[str]]:
    """Keys the page names literally, and prefixes it completes at run time."""
    keys: set[str] = set()
    prefixes: set[str] = set()
    for p in [*STATIC.glob("*.js"), STATIC / "index.html"]:
        src = p.read_text(encoding="utf-8")
        keys |= set(re.findall(r"""["'](ui\.[a-z0-9_.]+)["']""", src))
        prefixes |= set(re.findall(r"`(ui\.[a-z0-9_.]+\.)\$\{", src))
        for group in re.findall(r"""term\("([a-z_]+)",""", src):
            prefixes.add(group + ".")
    return keys, prefixes


def test_page_uses_only_catalogue_keys_and_every_ui_key_is_used():
    en = builtin("en")
    keys, prefixes = _page_keys()
    assert keys, "the page names no keys"
    assert keys - set(en) == set()
    unused = {
        k for k in en if k.startswith("ui.") and k not in keys and not k.startswith(tuple(prefixes))
    }
    assert unused == set()


def test_page_sets_no_text_as_markup():
    """The page's scripts write strings with textContent: no innerHTML assignment or
    insertAdjacentHTML (map.js reads innerHTML once to escape an attribution)."""
    for p in STATIC.glob("*.js"):
        src = p.read_text(encoding="utf-8")
        assert not re.search(r"\.innerHTML\s*=[^=]|insertAdjacentHTML|outerHTML\s*=", src), p.name


def test_fallback_to_english():
    assert t("fr", "cap.event") == "Drone threat"
    assert t("ko", "cap.event") == "드론 위협"
    assert t("ko", "no.such.key") == "no.such.key"
    assert Messages().t("xx", "ui.alerts") == "Alerts"


def test_a_key_missing_in_korean_falls_back_to_english(monkeypatch):
    real = i18n.builtin
    without = {k: v for k, v in real("ko").items() if k != "ui.alerts"}
    monkeypatch.setattr(i18n, "builtin", lambda lang: without if lang == "ko" else real(lang))
    assert t("ko", "ui.alerts") == "Alerts"
    assert t("ko", "ui.alerts.none") == "발령 중인 경보가 없습니다."
    assert Messages().catalogue("ko")["ui.alerts"] == "Alerts"


def test_formatting_is_one_pass_of_plain_text():
    zone = '<img src=x onerror="alert(1)"> {minutes} & "Z"'
    out = t("en", "cap.headline.approaching", zone=zone, minutes=4)
    assert out == f"Drone approaching {zone}: about 4 min"
    assert t("ko", "cap.headline.approaching", zone="항구", minutes=3) == (
        "항구에 드론 접근 중: 약 3분 후 도달"
    )
    # A placeholder with no parameter stays visible; extra parameters are ignored.
    assert t("en", "cap.headline.inside", other=1) == "Drone inside {zone}"
    # Format specs and attribute access are not placeholders: nothing is evaluated.
    m = Messages({"en": {"ui.alerts": "Alerts"}})
    assert m.t("en", "ui.alerts", zone=object()) == "Alerts"


def test_plurals():
    assert t("en", "ui.replay.tracks", count=1) == "1 track"
    assert t("en", "ui.replay.tracks", count=0) == "0 tracks"
    assert t("en", "ui.replay.tracks", count=2) == "2 tracks"
    assert t("ko", "ui.replay.tracks", count=1) == "트랙 1개"
    assert t("en", "ui.replay.alerts") == "{count} alerts"  # no count: 'other', visibly unfilled


def test_site_wording_overrides_and_shows_in_the_served_catalogue(tmp_path):
    m = Messages(
        {
            "ko": {"cap.instruction.critical": "{zone}: 지하 대피소로 대피하십시오 ({minutes}분)"},
            "en": {"ui.replay.tracks": "{count} objects", "ui.alerts": "Warnings"},
        }
    )
    assert m.t("ko", "cap.instruction.critical", zone="부두", minutes=2, when="x") == (
        "부두: 지하 대피소로 대피하십시오 (2분)"
    )
    assert m.t("en", "ui.replay.tracks", count=1) == "1 objects"
    assert m.t("ko", "ui.alerts") == "경보"  # an English override leaves Korean alone
    store = Store(tmp_path / "s.db")
    try:
        c = TestClient(create_app(LiveState([], []), store, WebConfig(), messages=m))
        r = c.get("/i18n/en.json")  # no token: the sign-in form is worded from it
        assert r.status_code == 200 and r.json()["ui.alerts"] == "Warnings"
        assert c.get("/i18n/ko.json").json()["ui.alerts"] == "경보"
        assert set(c.get("/i18n/ko.json").json()) == set(builtin("en"))
        for bad in ("fr", "..%2Fen", "en.json%00", "EN"):
            assert c.get(f"/i18n/{bad}.json").status_code == 404, bad
        page = c.get("/").text
        assert 'name="skywarden-languages"' in page and "한국어" in page
    finally:
        store.close()


def test_instruction_overrides_may_use_minutes_and_when():
    assert {"zone", "minutes", "when"} <= allowed_placeholders("cap.instruction.critical")
    assert allowed_placeholders("cap.headline.inside") == {"zone"}


SITE = "site: {name: t, lat: 37.5, lon: 126.9, alt_m: 30.0}\n"


def _load(tmp_path, extra: dict):
    p = tmp_path / "site.yaml"
    p.write_text(SITE + yaml.safe_dump(extra, allow_unicode=True))
    return load_config(p)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"messages": {"fr": {"cap.event": "x"}}}, r"\$\.messages\.fr: no message catalogue"),
        (
            {"messages": {"en": {"cap.instrution.critical": "x"}}},
            r"""\$\.messages\.en\["cap\.instrution\.critical"\]: unknown message key """
            r"""\(did you mean 'cap\.instruction\.critical'\?\)""",
        ),
        (
            {"messages": {"ko": {"cap.headline.inside": "{zone} {minutes}"}}},
            r"unknown placeholder \{minutes\}; this message takes \{zone\}",
        ),
        (
            {"messages": {"en": {"cap.event": "{Zone}"}}},
            r"unknown placeholder \{Zone\}; this message takes no placeholders",
        ),
        (
            {"messages": {"en": {"cap.event": {"one": "a", "other": "b"}}}},
            "counts nothing",
        ),
        (
            {"messages": {"ko": {"ui.replay.tracks": {"one": "a", "other": "b"}}}},
            r"plural forms in 'ko' are other",
        ),
        ({"messages": {"en": {"cap.event": "x" * 2001}}}, r"\$\.messages"),
        ({"messages": {"en": {"cap.event": ""}}}, r"\$\.messages"),
        ({"web": {"language": "fr"}}, r"\$\.web\.language: 'fr' is not a language"),
        ({"sinks": {"cap": {"language": "de-DE"}}}, r"\$\.sinks\.cap\.language: 'de-DE'"),
        (
            {"sinks": {"cap": {"receivers": [{"url": "http://x/", "language": ["ko", "zz"]}]}}},
            r"\$\.sinks\.cap\.receivers\[0\]\.language\[1\]: 'zz'",
        ),
        (
            {"sinks": {"cap": {"language": ["ko", "ko"]}}},
            r"\$\.sinks\.cap\.language: names a language twice",
        ),
        (
            {"sinks": {"escalation": {"after_s": {"critical": 5}, "cap": {"language": "jp"}}}},
            r"\$\.sinks\.escalation\.cap\.language: 'jp'",
        ),
        ({"sinks": {"cap": {"instructions": {"critical": "x"}}}}, "instructions"),
    ],
)
def test_bad_language_settings_are_refused_at_load(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, extra)


def test_good_language_settings_load(tmp_path):
    cfg = _load(
        tmp_path,
        {
            "web": {"language": "ko"},
            "messages": {
                "ko": {
                    "cap.instruction.critical": "{zone} 대피 ({minutes}분, {when})",
                    "ui.replay.tracks": "{count}개",
                },
                "en": {"ui.replay.tracks": {"one": "{count} thing", "other": "{count} things"}},
            },
            "sinks": {
                "cap": {
                    "language": ["ko-KR", "en"],
                    "receivers": [{"url": "http://127.0.0.1:9/", "language": "en-GB"}],
                }
            },
        },
    )
    assert cfg.web.language == "ko" and cfg.sinks.cap.language == ["ko-KR", "en"]
    assert Messages(cfg.messages).t("ko", "ui.replay.tracks", count=3) == "3개"


def test_message_error_names_the_path():
    with pytest.raises(MessageError) as e:
        Messages({"en": {"nope": "x"}})
    assert e.value.path == '$.messages.en["nope"]'


def test_docs_list_every_cap_key():
    doc = (ROOT / "docs" / "cap.md").read_text(encoding="utf-8")
    for key in builtin("en"):
        if key.startswith("cap."):
            assert f"`{key}`" in doc, key
