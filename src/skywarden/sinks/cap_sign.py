"""Enveloped XML signatures on CAP 1.2 messages (CAP 1.2, 3.3.2.1), with signxml.

The ``ds:Signature`` is appended as the last child of ``alert``, over the whole
document (``Reference URI=""``, enveloped-signature transform), exclusive XML
canonicalization 1.0, SHA-256 digest, RSA-SHA256 or ECDSA-SHA256 by the key's
type, and the certificate (and any issuers in the same file) in ``KeyInfo``.
Key and certificate are read and checked once, when the signer is made.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner

from .cap_config import CapSignConfig

log = logging.getLogger(__name__)

#: Shortest RSA key taken (NIST SP 800-131A: 2048 bits and up).
MIN_RSA_BITS = 2048
#: Bigger key or certificate files are not PEM keys (bounds what is read).
MAX_PEM_BYTES = 1_000_000

#: Certificates already warned of (file, end of validity): the configuration check and
#: the sink both load a key at start, and one warning per certificate is enough.
_warned: set[tuple[str, datetime]] = set()


class SignError(ValueError):
    """Signing settings that cannot be used, with the reason."""


def _read(path: str, what: str) -> bytes:
    try:
        p = Path(path)
        if p.stat().st_size > MAX_PEM_BYTES:
            raise SignError(f"{what} {path}: larger than {MAX_PEM_BYTES} bytes, not a PEM file")
        return p.read_bytes()
    except OSError as e:
        raise SignError(f"cannot read the {what} {path}: {e.strerror or e}") from e


def _password(env: str | None) -> bytes | None:
    if env is None:
        return None
    value = os.environ.get(env)
    if value is None:
        raise SignError(f"key_password_env: environment variable {env} is not set")
    return value.encode()


class CapSigner:
    """Signs CAP documents with one key and its certificate (see the module doc)."""

    def __init__(self, config: CapSignConfig) -> None:
        """Load and check the key and certificate; raises :class:`SignError`."""
        key_pem = _read(config.key_file, "signing key")
        cert_pem = _read(config.cert_file, "signing certificate")
        password = _password(config.key_password_env)
        try:
            key = serialization.load_pem_private_key(key_pem, password)
        except TypeError as e:  # encrypted without a password, or a password for a plain key
            raise SignError(f"signing key {config.key_file}: {e}") from e
        except ValueError as e:
            raise SignError(
                f"signing key {config.key_file}: not a PEM private key, or a wrong password"
            ) from e
        if isinstance(key, rsa.RSAPrivateKey):
            if key.key_size < MIN_RSA_BITS:
                raise SignError(
                    f"signing key {config.key_file}: RSA key of {key.key_size} bits; "
                    f"at least {MIN_RSA_BITS} are needed"
                )
            alg = SignatureMethod.RSA_SHA256
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            alg = SignatureMethod.ECDSA_SHA256
        else:
            raise SignError(f"signing key {config.key_file}: must be an RSA or ECDSA key")
        try:
            chain = x509.load_pem_x509_certificates(cert_pem)
        except ValueError as e:
            raise SignError(
                f"signing certificate {config.cert_file}: not a PEM X.509 certificate"
            ) from e
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        if chain[0].public_key().public_bytes(der, spki) != key.public_key().public_bytes(
            der, spki
        ):
            raise SignError(
                f"signing certificate {config.cert_file} is not the certificate of "
                f"key {config.key_file}"
            )
        now = datetime.now(UTC)
        seen = (str(Path(config.cert_file).resolve()), chain[0].not_valid_after_utc)
        if not chain[0].not_valid_before_utc <= now <= chain[0].not_valid_after_utc and (
            seen not in _warned
        ):
            _warned.add(seen)
            # Not fatal: refusing to start would stop every warning, not only signed ones.
            log.warning(
                "CAP signing certificate %s is not valid now (valid %s to %s): "
                "receivers that check it will refuse the messages",
                config.cert_file, chain[0].not_valid_before_utc, chain[0].not_valid_after_utc,
            )  # fmt: skip
        self._key = key
        self._chain = [c.public_bytes(serialization.Encoding.PEM).decode() for c in chain]
        self._signer = XMLSigner(
            signature_algorithm=alg,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
        )

    def sign(self, xml: bytes) -> bytes:
        """``xml`` (a CAP ``alert`` document) with its enveloped signature appended."""
        # Our own document, parsed without entities or network all the same; a parser
        # per call because lxml parsers must not be shared between threads.
        root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
        signed = self._signer.sign(root, key=self._key, cert=self._chain)
        return bytes(etree.tostring(signed, encoding="utf-8", xml_declaration=True))


def signer_of(config: CapSignConfig | None) -> CapSigner | None:
    """The signer of optional signing settings."""
    return None if config is None else CapSigner(config)
