"""Remote ID transport framing: find Open Drone ID payloads in link-layer frames.

Handles the four broadcast transports of ASTM F3411 / EN 4709-002:

- Bluetooth LE legacy advertising: AD structure type 0x16 (service data, 16-bit
  UUID) with UUID 0xFFFA (ASTM), application code 0x0D, a message counter and
  one 25-byte message;
- Bluetooth LE extended advertising (LE Coded / 1M, ADV_EXT_IND / AUX_ADV_IND):
  the same service data carrying a message pack;
- Wi-Fi beacon: vendor-specific element 0xDD, OUI FA:0B:BC, type 0x0D, counter,
  message pack;
- Wi-Fi NAN service discovery frames (public action, WFA OUI 50:6F:9A type
  0x13): Service Descriptor attribute with the Open Drone ID service id, whose
  service info is counter + message pack.

:func:`extract` is pure and never raises: a frame that is not Remote ID gives
``[]``, a Remote ID frame with broken framing gives ``Rejected``. The link-layer
headers are parsed by hand (a few fixed offsets), because the pcap libraries'
802.11 and BLE parsers raise assorted exception types on malformed frames and
cost more than the decoding itself. :func:`iter_capture` reads pcap/pcapng files
with ``dpkt``, :func:`iter_stream` a capture written as it happens to a pipe.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import dpkt

from ..types import RejectCode, Rejected

log = logging.getLogger(__name__)

LINK_ODID = "odid"  # bare message or message pack, no link layer
LINK_BLE_LL = "ble_ll"  # BLE link layer from the access address (DLT 251)
LINK_BLE_LL_PHDR = "ble_ll_phdr"  # DLT 256: 10-byte pseudo-header, then link layer
LINK_NORDIC_BLE = "nordic_ble"  # DLT 272: nRF Sniffer for Bluetooth LE
LINK_IEEE80211 = "ieee80211"  # DLT 105: 802.11 frame
LINK_RADIOTAP = "radiotap"  # DLT 127: radiotap header, then 802.11 frame
LINKS = (LINK_BLE_LL, LINK_BLE_LL_PHDR, LINK_NORDIC_BLE, LINK_IEEE80211, LINK_RADIOTAP)
DLT_TO_LINK = {
    105: LINK_IEEE80211,
    127: LINK_RADIOTAP,
    251: LINK_BLE_LL,
    256: LINK_BLE_LL_PHDR,
    272: LINK_NORDIC_BLE,
}

BLE_ADV_ACCESS_ADDRESS = 0x8E89BED6
ASTM_UUID16 = b"\xfa\xff"  # 0xFFFA, little-endian on air
ODID_APP_CODE = 0x0D
WIFI_ODID_OUI = b"\xfa\x0b\xbc"
WIFI_ODID_VENDOR_TYPE = 0x0D
WFA_OUI = b"\x50\x6f\x9a"
NAN_OUI_TYPE = 0x13
#: NAN service id of Open Drone ID: first 6 bytes of SHA-256("org.opendroneid.remoteid").
ODID_NAN_SERVICE_ID = bytes.fromhex("8869199d9209")

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class RidFrame:
    """One Remote ID payload found in a frame.

    ``address`` is the transmitter (BLE advertiser address or Wi-Fi source
    address, ``aa:bb:cc:dd:ee:ff``); ``transport`` one of ``ble_legacy``,
    ``ble_ext``, ``wifi_beacon``, ``wifi_nan``; ``counter`` the transport's message
    counter; ``payload`` a 25-byte message or a message pack.
    """

    address: str
    transport: str
    counter: int
    payload: bytes


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _reject(code: RejectCode, reason: str, raw: bytes) -> Rejected:
    return Rejected(code=code, reason=reason, raw=bytes(raw))


# --- Bluetooth LE ----------------------------------------------------------------


def _ad_structures(ad: bytes, address: str, transport: str) -> list[RidFrame | Rejected]:
    """Walk AD structures ``[len][type][data]`` and pick ASTM Remote ID service data."""
    out: list[RidFrame | Rejected] = []
    i, n_ad = 0, len(ad)
    while i < n_ad:
        n = ad[i]
        if n == 0:  # zero length: the rest is padding
            break
        body = ad[i + 2 : i + 1 + n]
        is_rid = ad[i + 1 : i + 2] == b"\x16" and body[:2] == ASTM_UUID16
        if i + 1 + n > n_ad:
            if is_rid:
                out.append(
                    _reject(
                        RejectCode.TRUNCATED, "frame: truncated BLE Remote ID service data", ad[i:]
                    )
                )
            break
        if is_rid:
            if len(body) < 4 or body[2] != ODID_APP_CODE:
                out.append(
                    _reject(
                        RejectCode.SYNTAX,
                        "frame: ASTM service data without the Open Drone ID app code",
                        body,
                    )
                )
            else:
                out.append(RidFrame(address, transport, body[3], bytes(body[4:])))
        i += 1 + n
    return out


def _ble_link_layer(frame: bytes, off: int, coded: bool) -> list[RidFrame | Rejected]:
    """A BLE link-layer packet at ``frame[off:]``: access address, (CI), header, PDU, CRC."""
    if len(frame) < off + 6 or _U32.unpack_from(frame, off)[0] != BLE_ADV_ACCESS_ADDRESS:
        return []
    off += 5 if coded else 4  # LE Coded PHY packets carry a coding indicator byte
    if len(frame) < off + 2:
        return []
    h0, length = frame[off], frame[off + 1]
    pdu = frame[off + 2 : off + 2 + length]
    pdu_type = h0 & 0x0F
    if pdu_type in (0x0, 0x2, 0x4, 0x6):  # ADV_IND, ADV_NONCONN_IND, SCAN_RSP, ADV_SCAN_IND
        if len(pdu) < 6:
            return []
        return _ad_structures(pdu[6:], _mac(pdu[5::-1]), "ble_legacy")
    if pdu_type == 0x7:  # extended advertising: ADV_EXT_IND, AUX_ADV_IND, AUX_CHAIN_IND
        if not pdu:
            return []
        ext_len = pdu[0] & 0x3F
        address = "ble:unknown"
        if ext_len and len(pdu) >= 8 and pdu[1] & 0x01:  # AdvA present
            address = _mac(pdu[7:1:-1])
        return _ad_structures(pdu[1 + ext_len :], address, "ble_ext")
    return []


def _nordic_ble(frame: bytes) -> list[RidFrame | Rejected]:
    # nRF Sniffer: board id, 6 more header bytes (same size in protocol versions
    # 1-3), then a packet header whose first byte is its own length (flags, channel,
    # RSSI, event counter, timestamp), then the link-layer packet.
    if len(frame) < 9:
        return []
    version, hdr_len, flags = frame[3], frame[7], frame[8]
    if not flags & 0x01:  # CRC failed: noise, not evidence of a transmitter
        return []
    coded = version >= 2 and (flags >> 4) & 0x07 == 2
    return _ble_link_layer(frame, 7 + hdr_len, coded)


def _ble_phdr(frame: bytes) -> list[RidFrame | Rejected]:
    # DLT 256 pseudo-header: channel, signal, noise, AA offenses, ref. AA (4), flags (2).
    if len(frame) < 10:
        return []
    flags = _U16.unpack_from(frame, 8)[0]
    if flags & 0x0400 and not flags & 0x0800:  # CRC checked and wrong
        return []
    return _ble_link_layer(frame, 10, False)


# --- Wi-Fi -----------------------------------------------------------------------


def _beacon(frame: bytes, body: int, address: str) -> list[RidFrame | Rejected]:
    out: list[RidFrame | Rejected] = []
    i, n = body + 12, len(frame)  # skip timestamp, interval, capabilities
    while i + 2 <= n:
        eid, elen = frame[i], frame[i + 1]
        if eid == 0xDD and frame[i + 2 : i + 6] == WIFI_ODID_OUI + bytes((WIFI_ODID_VENDOR_TYPE,)):
            if i + 2 + elen > n or elen < 6:
                out.append(
                    _reject(
                        RejectCode.TRUNCATED,
                        "frame: truncated Wi-Fi beacon Remote ID element",
                        frame[i:],
                    )
                )
                break
            out.append(
                RidFrame(address, "wifi_beacon", frame[i + 6], bytes(frame[i + 7 : i + 2 + elen]))
            )
        i += 2 + elen
    return out


def _nan_sda(attr: bytes, address: str) -> RidFrame | Rejected | None:
    """NAN Service Descriptor attribute body -> the ODID service info, if it is ours."""
    if len(attr) < 9 or attr[:6] != ODID_NAN_SERVICE_ID:
        return None
    ctrl, pos = attr[8], 9
    if ctrl & 0x40:  # binding bitmap
        pos += 2
    if ctrl & 0x04:  # matching filter
        pos += 1 + (attr[pos] if pos < len(attr) else 0)
    if ctrl & 0x08:  # service response filter
        pos += 1 + (attr[pos] if pos < len(attr) else 0)
    if not ctrl & 0x10 or pos >= len(attr):
        return None
    info = attr[pos + 1 : pos + 1 + attr[pos]]
    if len(info) < attr[pos] or len(info) < 2:
        return _reject(RejectCode.TRUNCATED, "frame: truncated NAN Remote ID service info", attr)
    return RidFrame(address, "wifi_nan", info[0], bytes(info[1:]))


def _nan_action(frame: bytes, body: int, address: str) -> list[RidFrame | Rejected]:
    # Public action (4), vendor specific (9), WFA OUI, NAN type, then attributes.
    if frame[body : body + 6] != b"\x04\x09" + WFA_OUI + bytes((NAN_OUI_TYPE,)):
        return []
    out: list[RidFrame | Rejected] = []
    i, n = body + 6, len(frame)
    while i + 3 <= n:
        aid, alen = frame[i], _U16.unpack_from(frame, i + 1)[0]
        if aid == 0x03:
            got = _nan_sda(frame[i + 3 : i + 3 + alen], address)
            if got is not None:
                out.append(got)
        i += 3 + alen
    return out


def _ieee80211(frame: bytes) -> list[RidFrame | Rejected]:
    if len(frame) < 24:
        return []
    fc0, fc1 = frame[0], frame[1]
    if (fc0 >> 2) & 0x03 != 0:  # management frames only
        return []
    body = 28 if fc1 & 0x80 else 24  # +HT control when the order bit is set
    address = _mac(frame[10:16])
    subtype = fc0 >> 4
    if subtype == 8:
        return _beacon(frame, body, address)
    if subtype in (13, 14):  # action, action no-ack
        return _nan_action(frame, body, address)
    return []


def radiotap_payload(frame: bytes) -> bytes | None:
    """The 802.11 frame after a radiotap header (FCS cut off); ``None`` for a bad-FCS or short frame."""
    if len(frame) < 8:
        return None
    rt_len = _U16.unpack_from(frame, 2)[0]
    present = _U32.unpack_from(frame, 4)[0]
    pos = 8
    word = present
    while word & 0x8000_0000 and pos + 4 <= len(frame):  # chained presence words
        word = _U32.unpack_from(frame, pos)[0]
        pos += 4
    flags = 0
    if present & 0x01:  # TSFT, 8-byte aligned from the header start
        pos = (pos + 7) & ~7
        pos += 8
    if present & 0x02 and pos < len(frame):
        flags = frame[pos]
    if flags & 0x40:  # bad FCS
        return None
    return frame[rt_len : len(frame) - 4] if flags & 0x10 else frame[rt_len:]


def _radiotap(frame: bytes) -> list[RidFrame | Rejected]:
    dot11 = radiotap_payload(frame)
    return [] if dot11 is None else _ieee80211(dot11)


_BY_LINK = {
    LINK_BLE_LL: lambda f: _ble_link_layer(f, 0, False),
    LINK_BLE_LL_PHDR: _ble_phdr,
    LINK_NORDIC_BLE: _nordic_ble,
    LINK_IEEE80211: _ieee80211,
    LINK_RADIOTAP: _radiotap,
}


def extract(frame: bytes, link: str) -> list[RidFrame | Rejected]:
    """Remote ID payloads in one frame of link type ``link`` (one of :data:`LINKS`).

    ``[]`` when the frame carries no Remote ID; never raises.
    """
    parse = _BY_LINK.get(link)
    if parse is None:
        return [_reject(RejectCode.UNSUPPORTED, f"frame: unknown link type {link!r}", b"")]
    try:
        return parse(frame)
    except (IndexError, struct.error):
        # Length checks above cover the expected layouts; this catches the
        # remaining malformed-length corner cases without letting them escape.
        return [_reject(RejectCode.SYNTAX, "frame: malformed link-layer frame", frame)]


# --- Capture files ------------------------------------------------------------------

_PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


def is_capture(path: Path) -> bool:
    """True when ``path`` starts with a pcap or pcapng magic number."""
    with path.open("rb") as fh:
        head = fh.read(4)
    return head in _PCAP_MAGICS or head == _PCAPNG_MAGIC


class CaptureTruncated(ValueError):
    """A capture file that ends part-way through a block or record; the frames before it were read."""


def iter_capture(path: str | Path) -> Iterator[tuple[float, str, bytes]]:
    """``(t_s, link, frame)`` for every frame of a pcap/pcapng file, capture time UTC s.

    Raises ``ValueError`` when the capture's link type is not one of ``DLT_TO_LINK``,
    and :class:`CaptureTruncated` after the last whole frame of a file that is
    cut short (or damaged) part-way.
    """
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as fh:
        is_ng = fh.read(4) == _PCAPNG_MAGIC
        fh.seek(0)
        try:
            reader = dpkt.pcapng.Reader(fh) if is_ng else dpkt.pcap.Reader(fh)
        except (dpkt.Error, struct.error, ValueError) as e:
            raise CaptureTruncated(f"{path}: capture header is cut short or damaged ({e!r})") from e
        dlt = reader.datalink()
        link = DLT_TO_LINK.get(dlt)
        if link is None:
            raise ValueError(f"{path}: capture link type {dlt} is not a Remote ID transport")
        frames = _ng_frames(reader) if is_ng else _pcap_frames(fh)
        n, good_end = 0, fh.tell()
        try:
            for t_s, frame in frames:
                n, good_end = n + 1, fh.tell()
                yield float(t_s), link, bytes(frame)
        except (dpkt.Error, struct.error, ValueError, _Short) as e:
            raise CaptureTruncated(
                f"file cut short or damaged after frame {n}: bytes {good_end}..{size} "
                "could not be read"
            ) from e


#: Largest read of a capture stream: a record or block (snapshot length 256 KiB at
#: most in tcpdump and dumpcap) claiming more is damage, not data to wait for.
MAX_STREAM_READ = 1 << 20


class _Headed:
    """A stream whose first bytes were already read to tell pcap from pcapng; every
    read is bounded, so a damaged length cannot make it buffer gigabytes."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = head, rest

    def read(self, n: int) -> bytes:
        if not 0 <= n <= MAX_STREAM_READ:
            raise ValueError(f"capture record of {n} bytes is over {MAX_STREAM_READ}")
        if not self._head:
            return self._rest.read(n)
        out, self._head = self._head[:n], self._head[n:]
        if len(out) < n:
            out += self._rest.read(n - len(out))
        return out


def iter_stream(fh: BinaryIO) -> Iterator[tuple[float, str, bytes]]:
    """``(t_s, link, frame)`` from a pcap or pcapng stream that need not be seekable
    (``tcpdump -U -w -`` or ``dumpcap -w -`` on a pipe); ends at the end of the stream.

    Raises ``ValueError`` for a stream that is not a capture or whose link type is
    not one of ``DLT_TO_LINK``, :class:`CaptureTruncated` when it ends part-way
    through a frame.
    """
    head = fh.read(4)
    if head != _PCAPNG_MAGIC and head not in _PCAP_MAGICS:
        raise ValueError("the input is not a pcap or pcapng capture")
    stream = _Headed(head, fh)
    n = 0
    try:
        reader = dpkt.pcapng.Reader(stream) if head == _PCAPNG_MAGIC else dpkt.pcap.Reader(stream)
        dlt = reader.datalink()
        link = DLT_TO_LINK.get(dlt)
        if link is None:
            raise ValueError(f"capture link type {dlt} is not a Remote ID transport")
        for t_s, frame in reader:
            n += 1
            yield float(t_s), link, bytes(frame)
    except (dpkt.Error, struct.error) as e:
        raise CaptureTruncated(f"capture stream cut short or damaged after frame {n}") from e


class _Short(Exception):
    pass


def _ng_frames(reader: dpkt.pcapng.Reader) -> Iterator[tuple[float, bytes]]:
    yield from reader


def _pcap_frames(fh) -> Iterator[tuple[float, bytes]]:
    """Classic pcap records after the global header (dpkt yields a cut record as a short frame)."""
    fh.seek(0)
    magic = fh.read(24)[:4]
    order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    divisor = 1e9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e6
    rec = struct.Struct(order + "IIII")
    while head := fh.read(rec.size):
        if len(head) < rec.size:
            raise _Short("record header")
        sec, frac, caplen, _ = rec.unpack(head)
        frame = fh.read(caplen)
        if len(frame) < caplen:
            raise _Short("record body")
        yield sec + frac / divisor, frame
