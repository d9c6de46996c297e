"""Pure encoding of alert events as OASIS CAP 1.2 ``alert`` documents and an Atom feed.

Messages are built with :mod:`xml.etree.ElementTree` and the feed with lxml, so
every string from data is escaped by the serializer; characters XML 1.0 cannot
carry at all (control characters) are removed first. The mapping of level, time
to arrival and class probability to urgency, severity and certainty is
documented in ``docs/cap.md``. The texts
(``headline``, ``description``, ``instruction``) come from the message catalogue
(:mod:`skywarden.i18n`), one ``info`` block per configured language.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import get_args
from urllib.parse import quote

from lxml import etree

from ..i18n import Messages, cap_language, language_of
from ..types import AlertLine, TruthClass, Zone

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"

_MSG_TYPE = {"raised": "Alert", "updated": "Update", "cleared": "Cancel"}
_SEVERITY = {"critical": "Extreme", "warning": "Severe", "info": "Minor"}
_RESPONSE = {"critical": "Shelter", "warning": "Prepare", "info": "Monitor"}
#: Classes the catalogue names (``class.<name>``); any other is shown as it came.
_CLASSES = frozenset(get_args(TruthClass))
#: Seconds to arrival up to which urgency is Immediate, then Expected (docs/cap.md).
IMMEDIATE_S = 120.0
EXPECTED_S = 900.0
# XML 1.0 forbids these code points anywhere in a document.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class CapRef:
    """What names one CAP message in a ``references`` list."""

    sender: str
    identifier: str
    sent: str

    def __str__(self) -> str:
        return f"{self.sender},{self.identifier},{self.sent}"


@dataclass(frozen=True, slots=True)
class CapSettings:
    """The site-wide parts of every message."""

    sender: str
    sender_name: str | None = None
    #: Language tags (``en``, ``ko-KR``): one ``info`` block each, in this order.
    languages: tuple[str, ...] = ("en",)
    expires_s: float = 900.0
    entry_radius_m: float = 100.0
    web: str | None = None
    contact: str | None = None
    #: The catalogue with the site's own wording (``messages:`` in the site config).
    messages: Messages = field(default_factory=Messages)


@dataclass(frozen=True, slots=True)
class CapMessage:
    """One encoded message: its reference, XML document and the headline (for the feed),
    in the first of its languages."""

    ref: CapRef
    xml: bytes
    headline: str
    alert_id: str
    level: str
    zone: str | None


def text(s: object) -> str:
    """``s`` as a string XML 1.0 can carry (control characters removed)."""
    return _XML_ILLEGAL.sub("", str(s))


def cap_time(t_s: float) -> str:
    """UTC seconds as a CAP date-time, ``2026-09-21T12:00:00+00:00`` (no fraction, no Z)."""
    return datetime.fromtimestamp(math.floor(t_s), UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def cap_token(s: str) -> str:
    """``s`` made safe as (part of) a CAP identifier: no spaces, commas, ``<`` or ``&``."""
    return quote(text(s), safe="-._~:@!$'()*+;=/")


def identifier(sender: str, alert: AlertLine) -> str:
    """The message id of one alert event (the same on every retry and receiver)."""
    return f"{cap_token(sender)}.{cap_token(alert.id)}.{alert.state}.{round(alert.t * 1000)}"


def urgency(alert: AlertLine) -> str:
    """Immediate / Expected / Future from time to arrival (Past once cleared)."""
    if alert.state == "cleared":
        return "Past"
    if alert.level == "critical" or alert.tta_s is None or alert.tta_s <= IMMEDIATE_S:
        return "Immediate"
    return "Expected" if alert.tta_s <= EXPECTED_S else "Future"


def certainty(alert: AlertLine, class_p: float | None) -> str:
    """Observed / Likely / Possible from the probability of the alert's class."""
    if alert.state == "cleared":
        return "Observed"
    if class_p is None:
        return "Unknown"
    if class_p >= 0.8:
        return "Observed"
    return "Likely" if class_p >= 0.5 else "Possible"


def severity(alert: AlertLine) -> str:
    """Extreme / Severe / Minor from the alert level."""
    return _SEVERITY[alert.level]


def polygon(zone: Zone) -> str | None:
    """The zone's ring as CAP wants it: ``lat,lon`` pairs, closed, at least four."""
    pts = [(lat, lon) for lon, lat in zone.polygon]
    if pts and pts[0] != pts[-1]:
        pts.append(pts[0])
    if len(pts) < 4:
        return None
    return " ".join(f"{lat:.6f},{lon:.6f}" for lat, lon in pts)


def _sub(parent: ET.Element, tag: str, value: object) -> ET.Element:
    e = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    e.text = text(value)
    return e


@dataclass(frozen=True, slots=True)
class _Texts:
    headline: str
    description: str
    instruction: str


def _texts(
    alert: AlertLine, lang: str, messages: Messages, zone_name: str, class_p: float | None
) -> _Texts:
    """The words of one alert event in ``lang``; every data string goes in as a parameter."""

    def t(key: str, **params: object) -> str:
        return messages.t(lang, key, **params)

    cls = alert.class_ or "drone"
    obj = t(f"class.{cls}") if cls in _CLASSES else text(cls)
    if alert.state == "cleared":
        return _Texts(
            t("cap.headline.cleared", zone=zone_name),
            t("cap.description.cleared", object=obj, zone=zone_name),
            t("cap.instruction.cleared", zone=zone_name),
        )
    tta = alert.tta_s
    where = "inside" if tta is None or tta <= 0 else "approaching"
    minutes = 0 if where == "inside" else max(1, math.ceil((tta or 0.0) / 60.0))
    prob = "" if class_p is None else t("cap.probability", percent=f"{class_p:.0%}")
    level = t(f"level.{alert.level}")
    track = text(alert.track or "?")
    when = t(f"cap.when.{where}", minutes=minutes)
    return _Texts(
        t(f"cap.headline.{where}", zone=zone_name, minutes=minutes),
        t(
            f"cap.description.{where}",
            object=obj,
            probability=prob,
            track=track,
            zone=zone_name,
            minutes=minutes,
            level=level,
        ),
        t(f"cap.instruction.{alert.level}", zone=zone_name, minutes=minutes, when=when),
    )


def _info(
    root: ET.Element,
    alert: AlertLine,
    settings: CapSettings,
    tag: str,
    zone: Zone | None,
    class_p: float | None,
) -> _Texts:
    """Append the ``info`` block of language ``tag``; returns its texts."""
    lang = language_of(tag) or "en"
    info = ET.SubElement(root, f"{{{CAP_NS}}}info")
    _sub(info, "language", cap_language(tag))
    _sub(info, "category", "Security")
    _sub(info, "event", settings.messages.t(lang, "cap.event"))
    response = "AllClear" if alert.state == "cleared" else _RESPONSE[alert.level]
    _sub(info, "responseType", response)
    _sub(info, "urgency", urgency(alert))
    _sub(info, "severity", severity(alert))
    _sub(info, "certainty", certainty(alert, class_p))
    sent = cap_time(alert.t)
    _sub(info, "onset", sent)
    expires = alert.t if alert.state == "cleared" else alert.t + settings.expires_s
    _sub(info, "expires", cap_time(expires))
    if settings.sender_name:
        _sub(info, "senderName", settings.sender_name)
    if zone is not None:
        zone_name = text(zone.name)
    else:
        zone_name = text(alert.zone or settings.messages.t(lang, "cap.area.unknown"))
    words = _texts(alert, lang, settings.messages, zone_name, class_p)
    _sub(info, "headline", words.headline)
    _sub(info, "description", words.description)
    _sub(info, "instruction", words.instruction)
    if settings.web:
        _sub(info, "web", settings.web)
    if settings.contact:
        _sub(info, "contact", settings.contact)
    params: list[tuple[str, object]] = [
        ("skywarden:alertId", alert.id),
        ("skywarden:level", alert.level),
    ]
    if alert.track is not None:
        params.append(("skywarden:track", alert.track))
    if alert.tta_s is not None:
        params.append(("skywarden:ttaSeconds", f"{alert.tta_s:.0f}"))
    if alert.class_ is not None:
        params.append(("skywarden:class", alert.class_))
    if class_p is not None:
        params.append(("skywarden:classProbability", f"{class_p:.2f}"))
    for name, value in params:
        p = ET.SubElement(info, f"{{{CAP_NS}}}parameter")
        _sub(p, "valueName", name)
        _sub(p, "value", value)
    area = ET.SubElement(info, f"{{{CAP_NS}}}area")
    _sub(area, "areaDesc", zone_name)
    ring = polygon(zone) if zone is not None else None
    if ring is not None:
        _sub(area, "polygon", ring)
    if alert.entry_lat is not None and alert.entry_lon is not None:
        r_km = settings.entry_radius_m / 1000.0
        _sub(area, "circle", f"{alert.entry_lat:.6f},{alert.entry_lon:.6f} {r_km:g}")
    return words


def encode(
    alert: AlertLine,
    settings: CapSettings,
    *,
    zone: Zone | None,
    class_p: float | None,
    refs: Sequence[CapRef] = (),
) -> CapMessage:
    """One alert event as a CAP 1.2 document.

    ``refs`` are the messages sent before about this alert: with none, the event
    is the first news (msgType ``Alert``, even for an update); a ``cleared``
    event is a ``Cancel`` referencing them.
    """
    sent = cap_time(alert.t)
    ref = CapRef(settings.sender, identifier(settings.sender, alert), sent)
    msg_type = _MSG_TYPE[alert.state] if refs else "Alert"
    root = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(root, "identifier", ref.identifier)
    _sub(root, "sender", settings.sender)
    _sub(root, "sent", sent)
    _sub(root, "status", "Actual")
    _sub(root, "msgType", msg_type)
    _sub(root, "scope", "Public")
    if refs:
        _sub(root, "references", " ".join(str(r) for r in refs))
    _sub(root, "incidents", cap_token(alert.id))
    words = [_info(root, alert, settings, tag, zone, class_p) for tag in settings.languages]
    xml = ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS)
    return CapMessage(ref, xml, words[0].headline, alert.id, alert.level, alert.zone)


def atom_feed(
    messages: Sequence[CapMessage], *, feed_id: str, title: str, self_url: str, now_s: float
) -> bytes:
    """An Atom feed with one entry per message, each carrying its CAP document inline.

    Built with lxml, which keeps each embedded document's namespace prefixes as they
    were serialized, so a signed message's signature still verifies inside the feed.
    """
    a = f"{{{ATOM_NS}}}"
    feed = etree.Element(f"{a}feed", nsmap={"atom": ATOM_NS})
    etree.SubElement(feed, f"{a}id").text = text(feed_id)
    etree.SubElement(feed, f"{a}title").text = text(title)
    newest = max((m.ref.sent for m in messages), default=cap_time(now_s))
    etree.SubElement(feed, f"{a}updated").text = newest
    etree.SubElement(feed, f"{a}link", rel="self", href=text(self_url))
    author = etree.SubElement(feed, f"{a}author")
    etree.SubElement(author, f"{a}name").text = text(
        messages[0].ref.sender if messages else "skywarden"
    )
    base = text(self_url).rsplit("/", 1)[0]
    for m in messages:
        e = etree.SubElement(feed, f"{a}entry")
        etree.SubElement(e, f"{a}id").text = f"urn:skywarden:cap:{m.ref.identifier}"
        etree.SubElement(e, f"{a}title").text = text(m.headline)
        etree.SubElement(e, f"{a}updated").text = m.ref.sent
        etree.SubElement(
            e, f"{a}link", rel="alternate", type="application/cap+xml",
            href=f"{base}/alerts/{quote(m.ref.identifier, safe='')}",
        )  # fmt: skip
        content = etree.SubElement(e, f"{a}content", type="application/cap+xml")
        # Our own document, parsed without entities or network all the same.
        content.append(
            etree.fromstring(m.xml, etree.XMLParser(resolve_entities=False, no_network=True))
        )
    return bytes(etree.tostring(feed, encoding="utf-8", xml_declaration=True))
