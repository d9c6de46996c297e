"""Remote ID encoder: typed messages -> ASTM F3411 bytes, and transport framing.

The exact inverse of :mod:`skywarden.sources.remoteid` (same field layouts,
little-endian, same sentinels for unknown values), for tests, synthetic captures
and the simulator's live output. Values beyond an encoding's range are clamped
the way the standard prescribes (speed to 254.25 m/s, vertical speed to
+-62 m/s); a latitude/longitude out of range raises ``ValueError`` (an encoder is
not on the decode path, so it may raise).

Framing helpers build whole link-layer frames: BLE legacy (25-byte message) and
extended (message pack) advertising with a correct CRC, Wi-Fi beacons with the
Open Drone ID vendor element, Wi-Fi NAN service discovery frames, the BLE
pseudo-header of DLT 256 and a minimal radiotap header; :func:`write_pcap` writes
them with ``dpkt``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import dpkt

from . import pcap
from .remoteid import (
    AUTH_PAGE0_LAYOUT,
    EPOCH_2019_S,
    ID_TYPE_SESSION,
    ID_TYPE_UTM_UUID,
    LOCATION_LAYOUT,
    MESSAGE_SIZE,
    PACK_MAX_MESSAGES,
    SYSTEM_LAYOUT,
    TYPE_AUTH,
    TYPE_BASIC_ID,
    TYPE_LOCATION,
    TYPE_OPERATOR_ID,
    TYPE_PACK,
    TYPE_SELF_ID,
    TYPE_SYSTEM,
    AuthPage,
    BasicId,
    Location,
    OperatorId,
    RidMessage,
    SelfId,
    System,
)

#: Protocol version written by default (ASTM F3411-22).
DEFAULT_VERSION = 2


def _clamp(x: int, lo: int, hi: int) -> int:
    return lo if x < lo else hi if x > hi else x


def _head(mtype: int, version: int) -> int:
    return (mtype << 4) | (version & 0x0F)


def _text(s: str, size: int) -> bytes:
    raw = s.encode("ascii", errors="replace")[:size]
    return raw.ljust(size, b"\x00")


def _alt(alt_m: float | None) -> int:
    """0.5 m steps from -1000 m; None -> 0 (unknown). Real values never map to 0."""
    if alt_m is None:
        return 0
    return _clamp(round((alt_m + 1000.0) / 0.5), 1, 0xFFFF)


def _latlon(lat: float | None, lon: float | None) -> tuple[int, int]:
    if lat is None or lon is None:
        return 0, 0
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError(f"latitude/longitude {lat}/{lon} out of range")
    return round(lat * 1e7), round(lon * 1e7)


def _epoch2019(t_s: float | None) -> int:
    return 0 if t_s is None else _clamp(round(t_s - EPOCH_2019_S), 0, 0xFFFF_FFFF)


def encode_basic_id(m: BasicId) -> bytes:
    """Basic ID -> 25 bytes. Binary ids (UTM UUID, session id) given as hex stay binary."""
    uid = _text(m.uas_id, 20)
    if m.id_type in (ID_TYPE_UTM_UUID, ID_TYPE_SESSION):
        try:
            raw = bytes.fromhex(m.uas_id)
        except ValueError:
            raw = b""
        # Mirrors the decoder: its lowercase hex stands for bytes that were not
        # printable; any other spelling ("0A") is the text itself.
        if (
            raw
            and len(raw) <= 20
            and m.uas_id == raw.hex()
            and not all(0x20 < b < 0x7F for b in raw.rstrip(b"\x00"))
        ):
            uid = raw.ljust(20, b"\x00")
    return (
        bytes((_head(TYPE_BASIC_ID, m.version), (m.id_type << 4) | (m.ua_type & 0x0F)))
        + uid
        + bytes(3)
    )


def encode_location(m: Location) -> bytes:
    """Location/Vector -> 25 bytes (see :class:`Location` for units and sentinels)."""
    direction = 361 if m.track_deg is None else round(m.track_deg) % 360
    ew = direction >= 180
    dir_raw = direction - 180 if ew else direction
    if m.speed_mps is None:
        mult, speed_raw = 1, 255
    else:
        s = min(max(m.speed_mps, 0.0), 254.25)
        # 63.75 m/s has two encodings; below the first step of the coarse scale
        # the fine scale is used so that encoding is canonical.
        if s < 63.75 + 0.375:
            mult, speed_raw = 0, min(round(s / 0.25), 255)
        else:
            mult, speed_raw = 1, _clamp(round((s - 63.75) / 0.75), 0, 254)
    vs_raw = 126 if m.vrate_mps is None else _clamp(round(m.vrate_mps / 0.5), -124, 124)
    lat_raw, lon_raw = _latlon(m.lat, m.lon)
    ts_raw = 0xFFFF if m.t_hour_s is None else _clamp(round(m.t_hour_s * 10.0), 0, 36_000)
    tacc = 0 if m.t_acc_s is None else _clamp(round(m.t_acc_s * 10.0), 1, 15)
    flags = ((m.status & 0x0F) << 4) | ((m.height_type & 1) << 2) | (int(ew) << 1) | mult
    return LOCATION_LAYOUT.pack(
        _head(TYPE_LOCATION, m.version),
        flags,
        dir_raw,
        speed_raw,
        vs_raw,
        lat_raw,
        lon_raw,
        _alt(m.alt_pressure_m),
        _alt(m.alt_m),
        _alt(m.height_m),
        ((m.v_acc & 0x0F) << 4) | (m.h_acc & 0x0F),
        ((m.baro_acc & 0x0F) << 4) | (m.speed_acc & 0x0F),
        ts_raw,
        tacc,
        0,
    )


def encode_auth(m: AuthPage) -> bytes:
    """One Authentication page -> 25 bytes (data padded with NULs)."""
    b1 = ((m.auth_type & 0x0F) << 4) | (m.page & 0x0F)
    if m.page == 0:
        return AUTH_PAGE0_LAYOUT.pack(
            _head(TYPE_AUTH, m.version),
            b1,
            m.last_page or 0,
            m.length or 0,
            _epoch2019(m.t_s),
            m.data[:17].ljust(17, b"\x00"),
        )
    return bytes((_head(TYPE_AUTH, m.version), b1)) + m.data[:23].ljust(23, b"\x00")


def encode_self_id(m: SelfId) -> bytes:
    """Self-ID -> 25 bytes."""
    return bytes((_head(TYPE_SELF_ID, m.version), m.desc_type & 0xFF)) + _text(m.text, 23)


def encode_system(m: System) -> bytes:
    """System -> 25 bytes."""
    lat_raw, lon_raw = _latlon(m.operator_lat, m.operator_lon)
    return SYSTEM_LAYOUT.pack(
        _head(TYPE_SYSTEM, m.version),
        ((m.classification_type & 0x07) << 2) | (m.operator_location_type & 0x03),
        lat_raw,
        lon_raw,
        _clamp(m.area_count, 0, 0xFFFF),
        _clamp(round(m.area_radius_m / 10.0), 0, 255),
        _alt(m.area_ceiling_m),
        _alt(m.area_floor_m),
        ((m.category_eu & 0x0F) << 4) | (m.class_eu & 0x0F),
        _alt(m.operator_alt_m),
        _epoch2019(m.t_s),
        0,
    )


def encode_operator_id(m: OperatorId) -> bytes:
    """Operator ID -> 25 bytes."""
    return (
        bytes((_head(TYPE_OPERATOR_ID, m.version), m.id_type & 0xFF))
        + _text(m.operator_id, 20)
        + bytes(3)
    )


_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    BasicId: encode_basic_id,
    Location: encode_location,
    AuthPage: encode_auth,
    SelfId: encode_self_id,
    System: encode_system,
    OperatorId: encode_operator_id,
}


def encode_message(m: RidMessage) -> bytes:
    """Any typed message -> its 25 bytes."""
    return _ENCODERS[type(m)](m)


def encode_pack(messages: Sequence[RidMessage | bytes], version: int = DEFAULT_VERSION) -> bytes:
    """A message pack: header, size 25, count, then the messages (typed or already encoded)."""
    if len(messages) > PACK_MAX_MESSAGES:
        raise ValueError(f"{len(messages)} messages, a pack holds at most {PACK_MAX_MESSAGES}")
    body = b"".join(m if isinstance(m, bytes) else encode_message(m) for m in messages)
    return bytes((_head(TYPE_PACK, version), MESSAGE_SIZE, len(messages))) + body


# --- Bluetooth LE -------------------------------------------------------------------


def ble_crc24(pdu: bytes, init: int = 0x555555) -> bytes:
    """BLE link-layer CRC of ``pdu`` (header + payload) as the 3 bytes sent on air.

    Hand-written (24-bit LFSR, polynomial 0x00065B, bits LSB first) because no
    maintained PyPI package provides it; only the encoder needs it.
    """
    reg = init
    for byte in pdu:
        for i in range(8):
            feedback = ((reg >> 23) & 1) ^ ((byte >> i) & 1)
            reg = (reg << 1) & 0xFFFFFF
            if feedback:
                reg ^= 0x00065B
    # The register is sent most significant bit first, i.e. bit-reversed bytes.
    rev = int(f"{reg:024b}"[::-1], 2)
    return rev.to_bytes(3, "little")


def _mac_bytes(address: str) -> bytes:
    raw = bytes.fromhex(address.replace(":", ""))
    if len(raw) != 6:
        raise ValueError(f"{address!r} is not a 6-byte address")
    return raw


def _service_data(counter: int, payload: bytes) -> bytes:
    body = pcap.ASTM_UUID16 + bytes((pcap.ODID_APP_CODE, counter & 0xFF)) + payload
    return bytes((len(body) + 1, 0x16)) + body


def ble_legacy_frame(address: str, counter: int, message: bytes, *, pdu_type: int = 0x2) -> bytes:
    """BLE legacy advertisement (ADV_NONCONN_IND by default), link layer from the access address.

    ``address`` is the advertiser address ``aa:bb:cc:dd:ee:ff`` (sent LSB first);
    ``message`` one 25-byte message. Returns AA + header + PDU + CRC (DLT 251).
    """
    payload = _mac_bytes(address)[::-1] + _service_data(counter, message)
    pdu = bytes((pdu_type | 0x40, len(payload))) + payload  # TxAdd: random address
    return struct.pack("<I", pcap.BLE_ADV_ACCESS_ADDRESS) + pdu + ble_crc24(pdu)


def ble_extended_frame(address: str, counter: int, pack: bytes, *, adi: int = 0) -> bytes:
    """BLE 5 AUX_ADV_IND (1M PHY) with AdvA and ADI, carrying ``pack``; DLT 251 layout."""
    ext_header = bytes((0x09,)) + _mac_bytes(address)[::-1] + struct.pack("<H", adi)
    payload = bytes((len(ext_header),)) + ext_header + _service_data(counter, pack)
    if len(payload) > 255:
        raise ValueError("extended advertising payload longer than 255 bytes")
    pdu = bytes((0x07, len(payload))) + payload
    return struct.pack("<I", pcap.BLE_ADV_ACCESS_ADDRESS) + pdu + ble_crc24(pdu)


def ble_phdr(ll_frame: bytes, *, channel: int = 37, rssi_dbm: int = -60) -> bytes:
    """Prefix a link-layer frame with the DLT 256 pseudo-header (CRC checked and valid)."""
    flags = 0x0001 | 0x0002 | 0x0400 | 0x0800  # dewhitened, signal valid, CRC checked+valid
    return (
        struct.pack("<BbbBIH", channel, rssi_dbm, -100, 0, pcap.BLE_ADV_ACCESS_ADDRESS, flags)
        + ll_frame
    )


# --- Wi-Fi ------------------------------------------------------------------------------


def _mgmt_header(subtype: int, da: bytes, sa: bytes, bssid: bytes) -> bytes:
    return bytes((subtype << 4, 0)) + b"\x00\x00" + da + sa + bssid + b"\x00\x00"


def wifi_beacon_frame(address: str, counter: int, pack: bytes, *, ssid: str = "") -> bytes:
    """802.11 beacon from ``address`` with the Open Drone ID vendor element (DLT 105)."""
    sa = _mac_bytes(address)
    fixed = bytes(8) + struct.pack("<HH", 100, 0x0021)  # timestamp, interval (TU), capabilities
    ssid_raw = ssid.encode()[:32]
    ies = bytes((0, len(ssid_raw))) + ssid_raw + bytes((1, 1, 0x8C))  # SSID, rates (6 Mb/s)
    body = pcap.WIFI_ODID_OUI + bytes((pcap.WIFI_ODID_VENDOR_TYPE, counter & 0xFF)) + pack
    ies += bytes((0xDD, len(body))) + body
    return _mgmt_header(8, b"\xff" * 6, sa, sa) + fixed + ies


def wifi_nan_frame(address: str, counter: int, pack: bytes) -> bytes:
    """802.11 NAN service discovery (publish) frame from ``address`` carrying ``pack`` (DLT 105)."""
    sa = _mac_bytes(address)
    info = bytes((counter & 0xFF,)) + pack
    sda = pcap.ODID_NAN_SERVICE_ID + bytes((1, 0, 0x10, len(info))) + info
    attrs = bytes((0x03,)) + struct.pack("<H", len(sda)) + sda
    body = b"\x04\x09" + pcap.WFA_OUI + bytes((pcap.NAN_OUI_TYPE,)) + attrs
    nan_bssid = bytes.fromhex("506f9a0100ff")
    return _mgmt_header(13, bytes.fromhex("516f9a010000"), sa, nan_bssid) + body


def radiotap(frame: bytes) -> bytes:
    """Prefix an 802.11 frame with an empty 8-byte radiotap header (DLT 127)."""
    return struct.pack("<BBHI", 0, 0, 8, 0) + frame


def write_pcap(path: str | Path, frames: Iterable[tuple[float, bytes]], link: str) -> None:
    """Write ``(t_s, frame)`` pairs to a classic pcap file of link type ``link``."""
    dlt = {v: k for k, v in pcap.DLT_TO_LINK.items()}[link]
    with Path(path).open("wb") as fh:
        writer = dpkt.pcap.Writer(fh, linktype=dlt, nano=False)
        for t_s, frame in frames:
            writer.writepkt(frame, ts=t_s)
