"""Signed CAP 1.2: every message a signing receiver gets, and every message of a signing
feed, validates against the CAP 1.2 XSD, verifies with signxml against the certificate,
and stops verifying once one element's text is changed; unusable keys are config errors.

The keys and self-signed certificates are made here, in ``tmp_path``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import InvalidCertificate, InvalidSignature, SignatureConfiguration, XMLVerifier

from skywarden.config import ConfigError, load_config
from skywarden.sinks.cap import CapFeed, CapReceiverSink, build_cap_sinks
from skywarden.sinks.cap_config import CapConfig, CapReceiverConfig, CapSignConfig
from skywarden.sinks.cap_encode import CapSettings
from skywarden.sinks.cap_sign import CapSigner, SignError

from .helpers import T0_S, alert, deliver_each, frame, make_track, scan, zone
from .test_cap import NS, SCHEMA, Receiver, _no_sleep, cap, valid

DS = "http://www.w3.org/2000/09/xmldsig#"
EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "site.yaml"
BOTH = CapSettings(sender="skywarden@test-site", languages=("ko", "en"))
KeyMaker = Callable[[], rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]
KEYS: dict[str, KeyMaker] = {
    "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ecdsa": lambda: ec.generate_private_key(ec.SECP256R1()),
}
SIG_ALG = {
    "rsa": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "ecdsa": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
}


def write_pair(
    d: Path,
    key,
    *,
    name: str = "cap",
    password: bytes | None = None,
    cert_key=None,
    age: dt.timedelta = dt.timedelta(0),
) -> tuple[CapSignConfig, str]:
    """Write ``key`` and a self-signed certificate (of ``cert_key``, ``key`` by default,
    made ``age`` ago and valid for a day) as PEM files; returns the signing settings and
    the certificate PEM."""
    cert_key = cert_key or key
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"skywarden {name}")])
    now = dt.datetime.now(dt.UTC) - age
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(cert_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(cert_key, hashes.SHA256())
    )
    enc = (
        serialization.NoEncryption()
        if password is None
        else serialization.BestAvailableEncryption(password)
    )
    key_file, cert_file = d / f"{name}.key.pem", d / f"{name}.cert.pem"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_file.write_text(cert_pem)
    return CapSignConfig(key_file=str(key_file), cert_file=str(cert_file)), cert_pem


@pytest.fixture(params=sorted(KEYS))
def signing(request, tmp_path) -> tuple[str, CapSignConfig, str]:
    """(key kind, signing settings, certificate PEM) of a fresh RSA or ECDSA key."""
    sign, cert = write_pair(tmp_path, KEYS[request.param]())
    return request.param, sign, cert


def verified(xml: bytes, cert: str) -> etree._Element:
    """The signed ``alert`` of ``xml``, after checking the signature against ``cert``."""
    result = XMLVerifier().verify(xml, x509_cert=cert)
    assert not isinstance(result, list)
    return result.signed_xml


def tampered(xml: bytes, path: str, change: Callable[[str], str]) -> bytes:
    """``xml`` with the text of the first element at ``path`` changed (signature kept)."""
    doc = etree.fromstring(xml)
    e = doc.find(path, NS)
    assert e is not None, path
    e.text = change(e.text)
    return etree.tostring(doc)


def assert_signed(xml: bytes, cert: str, kind: str) -> etree._Element:
    """Valid CAP, signed as docs/cap.md says, verifying; and failing once changed."""
    doc = valid(xml)
    sig = doc[-1]
    assert sig.tag == f"{{{DS}}}Signature"  # the last child of alert (CAP 1.2, 3.3.2.1)
    ds = {"ds": DS}
    assert sig.find("ds:SignedInfo/ds:SignatureMethod", ds).get("Algorithm") == SIG_ALG[kind]
    c14n = sig.find("ds:SignedInfo/ds:CanonicalizationMethod", ds).get("Algorithm")
    assert c14n == "http://www.w3.org/2001/10/xml-exc-c14n#"
    assert sig.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", ds) is not None
    signed = verified(xml, cert)
    assert signed.findtext("cap:identifier", namespaces=NS) == doc.findtext(
        "cap:identifier", namespaces=NS
    )
    for path, change in (
        ("cap:info/cap:headline", lambda s: s + "!"),
        ("cap:info/cap:area/cap:polygon", lambda s: s.replace("51.466000", "51.466001", 1)),
        ("cap:msgType", lambda s: "Cancel" if s != "Cancel" else "Update"),
    ):
        bad = tampered(xml, path, change)
        assert SCHEMA.validate(etree.fromstring(bad))  # still valid CAP: only the signature tells
        with pytest.raises(InvalidSignature):
            XMLVerifier().verify(bad, x509_cert=cert)
    return doc


def test_receiver_gets_every_message_signed_in_each_language(signing):
    kind, sign, cert = signing
    fr = frame()
    track = make_track(fr, 1, T0_S, np.array([0.0, 900.0, 60.0]), np.array([0.0, -10.0, 0.0]))
    events = [
        scan(T0_S, [track], [alert(T0_S, "T1", level="warning", tta_s=300.0)]),
        scan(T0_S + 1, [track], [alert(T0_S + 1, "T1", level="critical", state="updated")]),
        scan(T0_S + 2, [], [alert(T0_S + 2, "T1", state="cleared")]),
    ]

    async def main(rx: Receiver) -> CapReceiverSink:
        sink = CapReceiverSink(
            CapReceiverConfig(url=rx.url, sign=sign), BOTH, zones=[zone()],
            rng=np.random.default_rng(1), sleep=_no_sleep,
        )  # fmt: skip
        await deliver_each(sink, events)
        return sink

    with Receiver(fail_first=1) as rx:  # a retry is signed too
        sink = asyncio.run(main(rx))
    assert sink.delivered == 3
    docs = [assert_signed(b, cert, kind) for b in rx.bodies]
    assert [cap(d, "cap:msgType")[0] for d in docs] == ["Alert", "Update", "Cancel"]
    for d in docs:
        assert cap(d, "cap:info/cap:language") == ["ko-KR", "en-US"]


def test_signature_does_not_verify_with_another_certificate(signing, tmp_path):
    kind, sign, _ = signing
    _, other = write_pair(tmp_path, KEYS[kind](), name="other")
    xml = CapSigner(sign).sign(
        CapFeed(BOTH, zones=[zone()]).apply(alert(T0_S, "T1")).xml  # type: ignore[union-attr]
    )
    with pytest.raises(InvalidSignature):
        XMLVerifier().verify(xml, x509_cert=other)


def test_signing_feed_serves_signed_messages_and_atom_keeps_them_verifiable(signing):
    kind, sign, cert = signing
    cfg = CapConfig(language=["ko", "en"], feed_sign=sign)
    (feed,) = build_cap_sinks(cfg, site_name="site", zones=[zone()], rng=np.random.default_rng(1))
    assert isinstance(feed, CapFeed)
    feed.offer(scan(T0_S, [], [alert(T0_S, "T1"), alert(T0_S, "T2", level="warning")]))
    feed.offer(scan(T0_S + 1, [], [alert(T0_S + 1, "T1", state="updated")]))
    cancel = feed.apply(alert(T0_S + 2, "T2", state="cleared"))
    assert cancel is not None and cap(assert_signed(cancel.xml, cert, kind), "cap:msgType") == [
        "Cancel"
    ]
    for m in feed.active():  # /cap/alerts/{identifier} serves m.xml
        assert_signed(m.xml, cert, kind)
    atom = etree.fromstring(feed.atom("https://site.example/cap/feed.atom", time.time()))
    inline = [e.find("atom:content/cap:alert", NS) for e in atom.findall("atom:entry", NS)]
    assert len(inline) == 1  # T1, updated; T2 was cancelled
    (doc,) = inline
    assert cap(doc, "cap:msgType") == ["Update"]
    assert_signed(etree.tostring(doc), cert, kind)


def test_expired_certificate_is_a_warning_and_still_signs(tmp_path, caplog):
    """Loud, not fatal: a site never stops warning over a certificate; the receiver decides."""
    sign, cert = write_pair(tmp_path, KEYS["ecdsa"](), age=dt.timedelta(days=2))
    with caplog.at_level(logging.WARNING, logger="skywarden.sinks.cap_sign"):
        signer = CapSigner(sign)
        CapSigner(sign)  # loaded again (configuration check, then sink): warned once
    assert caplog.text.count("is not valid now") == 1
    m = CapFeed(BOTH, zones=[zone()], signer=signer).apply(alert(T0_S, "T1"))
    assert m is not None
    with pytest.raises(InvalidCertificate, match="expired"):
        XMLVerifier().verify(m.xml, x509_cert=cert)
    while_valid = SignatureConfiguration(
        verification_time=dt.datetime.now(dt.UTC) - dt.timedelta(days=1, hours=12)
    )
    XMLVerifier().verify(m.xml, x509_cert=cert, expect_config=while_valid)


def test_unsigned_unless_configured():
    (feed,) = build_cap_sinks(CapConfig(), site_name="site", rng=np.random.default_rng(1))
    assert isinstance(feed, CapFeed)
    m = feed.apply(alert(T0_S, "T1"))
    assert m is not None and valid(m.xml).find(f"{{{DS}}}Signature") is None


def _site_with_cap(tmp_path: Path, cap_section: dict, where: str = "cap") -> Path:
    """The example site with ``cap_section`` at ``sinks.<where>`` (``escalation``: its cap)."""
    raw = yaml.safe_load(EXAMPLE.read_text())
    sinks = raw.setdefault("sinks", {})
    if where == "escalation":
        sinks["escalation"] = {"cap": cap_section}
    else:
        sinks["cap"] = cap_section
    p = tmp_path / "site.yaml"
    p.write_text(yaml.safe_dump(raw))
    return p


def _as_yaml(sign: CapSignConfig) -> dict:
    return {"key_file": sign.key_file, "cert_file": sign.cert_file}


def test_config_with_good_keys_loads(tmp_path, monkeypatch):
    sign, _ = write_pair(tmp_path, KEYS["ecdsa"]())
    locked, _ = write_pair(tmp_path, KEYS["rsa"](), name="locked", password=b"s3cret")
    monkeypatch.setenv("CAP_KEY_PASSWORD", "s3cret")
    p = _site_with_cap(
        tmp_path,
        {
            "feed_sign": _as_yaml(sign),
            "receivers": [
                {"url": "https://a.example/cap", "sign": _as_yaml(sign)},
                {
                    "url": "https://b.example/cap",
                    "sign": {**_as_yaml(locked), "key_password_env": "CAP_KEY_PASSWORD"},
                },
            ],
        },
    )
    cfg = load_config(p)
    assert cfg.sinks.cap is not None and cfg.sinks.cap.receivers[1].sign is not None
    assert cfg.sinks.cap.receivers[1].sign.key_password_env == "CAP_KEY_PASSWORD"


def test_unusable_keys_are_config_errors_naming_the_setting(tmp_path, monkeypatch):
    good, _ = write_pair(tmp_path, KEYS["ecdsa"]())
    mismatched, _ = write_pair(tmp_path, KEYS["ecdsa"](), name="mis", cert_key=KEYS["ecdsa"]())
    weak, _ = write_pair(
        tmp_path, rsa.generate_private_key(public_exponent=65537, key_size=1024), name="weak"
    )
    locked, _ = write_pair(tmp_path, KEYS["ecdsa"](), name="locked", password=b"s3cret")
    monkeypatch.delenv("NO_SUCH_CAP_PASSWORD", raising=False)
    monkeypatch.setenv("WRONG_CAP_PASSWORD", "guess")
    missing = str(tmp_path / "nowhere.pem")
    cases = [
        ({"key_file": missing, "cert_file": good.cert_file}, "cannot read the signing key"),
        ({"key_file": good.key_file, "cert_file": missing}, "cannot read the signing certificate"),
        ({"key_file": good.cert_file, "cert_file": good.cert_file}, "not a PEM private key"),
        ({"key_file": good.key_file, "cert_file": good.key_file}, "not a PEM X.509 certificate"),
        (_as_yaml(mismatched), "is not the certificate of key"),
        (_as_yaml(weak), "RSA key of 1024 bits"),
        (_as_yaml(locked), "encrypted"),
        ({**_as_yaml(locked), "key_password_env": "NO_SUCH_CAP_PASSWORD"}, "is not set"),
        ({**_as_yaml(locked), "key_password_env": "WRONG_CAP_PASSWORD"}, "wrong password"),
    ]
    for sign, why in cases:
        p = _site_with_cap(tmp_path, {"receivers": [{"url": "https://a.example", "sign": sign}]})
        with pytest.raises(ConfigError, match=r"\$\.sinks\.cap\.receivers\[0\]\.sign: ") as e:
            load_config(p)
        assert why in str(e.value), (why, str(e.value))
    p = _site_with_cap(tmp_path, {"feed_sign": {"key_file": missing, "cert_file": missing}})
    with pytest.raises(ConfigError, match=r"\$\.sinks\.cap\.feed_sign: cannot read"):
        load_config(p)
    p = _site_with_cap(tmp_path, {"feed": False, "feed_sign": _as_yaml(good)})
    with pytest.raises(ConfigError, match=r"feed_sign: the feed is off"):
        load_config(p)
    p = _site_with_cap(
        tmp_path, {"receivers": [{"url": "https://a.example", "sign": _as_yaml(mismatched)}]},
        where="escalation",
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"\$\.sinks\.escalation\.cap\.receivers\[0\]\.sign: "):
        load_config(p)
    p = _site_with_cap(tmp_path, {"feed_sign": _as_yaml(good)}, where="escalation")
    with pytest.raises(ConfigError, match="escalated alerts have no feed to sign"):
        load_config(p)
    # Built without the config check (a library user), the sink refuses the same way.
    with pytest.raises(SignError, match="cannot read the signing key"):
        CapReceiverSink(
            CapReceiverConfig(url="https://a.example", sign=CapSignConfig(key_file=missing, cert_file=missing)),
            BOTH, rng=np.random.default_rng(1),
        )  # fmt: skip
