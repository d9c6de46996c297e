"""Live transports for the standard interfaces: the I/O around the pure decoders.

- ASTERIX CAT048 plots over UDP (``asterix48.AsterixUdpEndpoint``);
- ADS-B from a receiver's raw TCP feed, AVR or Beast (``adsb.run_feed``), kept
  connected by :func:`adsb_feed` with a reconnect delay;
- Remote ID from a receiver over UDP, one hex line per message or frame
  (:class:`RemoteIdUdpEndpoint`).

Every rejection goes to the shared :class:`~.base.RejectionCounter`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Annotated, Literal

import msgspec

from ..types import Detection, RejectCode, Rejected
from .base import RejectionCounter
from .remoteid import RemoteIdAssembler, decode_hex_line

log = logging.getLogger(__name__)


class AsterixInput(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A monoradar sending CAT048 over UDP; ``sensor`` names a radar in ``sensors``."""

    sensor: str
    port: int
    #: Altitude assumed for plots without Mode C (else they are rejected).
    default_alt_m: float | None = None


class AdsbInput(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A Mode-S receiver's raw feed (dump1090: AVR on 30002, Beast on 30005)."""

    sensor: str
    host: str = "127.0.0.1"
    port: int = 30005
    format: Literal["avr", "beast"] = "beast"
    reconnect_s: float = 5.0


class RemoteIdInput(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A Remote ID receiver sending hex lines over UDP (``link``: odid, or a frame type)."""

    sensor: str
    port: int
    link: str = "odid"


class SapientListenerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How much a SAPIENT sensor node may take of the fusion node (``sources.sapient``)."""

    #: Simultaneous connections; more are closed at once, counted and logged.
    max_connections: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 64
    #: Seconds a connection may stay without a complete message before it is closed;
    #: never less than three of the status intervals its nodes registered.
    idle_timeout_s: Annotated[float, msgspec.Meta(gt=0.0, le=86_400.0)] = 60.0
    #: Longest message (the length prefix); a longer one closes the connection.
    max_message_bytes: Annotated[int, msgspec.Meta(ge=1_024, le=16 << 20)] = 1 << 20
    #: Messages per second per connection, with one second of burst; more are counted, not taken.
    max_messages_per_s: Annotated[float, msgspec.Meta(gt=0.0, le=1.0e6)] = 5_000.0


class _RidProtocol(asyncio.DatagramProtocol):
    def __init__(self, owner: RemoteIdUdpEndpoint) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self._take(data, addr)
        except Exception as e:  # a bug must cost one datagram, never the endpoint
            log.debug("remoteid datagram failed", exc_info=True)
            reason = f"internal error on a datagram: {type(e).__name__}"
            self.owner.rejections.add(
                f"remoteid {self.owner.assembler.sensor_id}",
                Rejected(code=RejectCode.INTERNAL, reason=reason),
            )

    def _take(self, data: bytes, addr: tuple[str, int]) -> None:
        o = self.owner
        for raw in data.splitlines():
            line = raw.decode("ascii", errors="replace").strip()
            if not line:
                continue
            for out in decode_hex_line(
                line, o.clock(), assembler=o.assembler, link=o.link, address=f"{addr[0]}:{addr[1]}"
            ):
                if isinstance(out, Rejected):
                    o.rejections.add(f"remoteid {o.assembler.sensor_id}", out)
                else:
                    o.on_detection(out)


class RemoteIdUdpEndpoint:
    """Remote ID receiver lines over UDP -> remoteid detections."""

    def __init__(
        self,
        sensor_id: str,
        on_detection: Callable[[Detection], None],
        *,
        rejections: RejectionCounter,
        clock: Callable[[], float],
        link: str = "odid",
    ) -> None:
        self.assembler = RemoteIdAssembler(sensor_id)
        self.on_detection = on_detection
        self.rejections = rejections
        self.clock = clock
        self.link = link
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _RidProtocol(self), local_addr=(host, port)
        )
        self._transport = transport  # type: ignore[assignment]
        return transport.get_extra_info("sockname")[1]

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def adsb_feed(
    cfg: AdsbInput,
    ref_lat: float,
    ref_lon: float,
    on_detection: Callable[[Detection], None],
    *,
    rejections: RejectionCounter,
    clock: Callable[[], float],
) -> None:
    """Stay connected to a receiver's feed until cancelled, reconnecting after ``reconnect_s``."""
    from .adsb import AdsbDecoder, run_feed

    decoder = AdsbDecoder(cfg.sensor, ref_lat, ref_lon)
    while True:
        try:
            await run_feed(
                cfg.host, cfg.port, fmt=cfg.format, decoder=decoder,
                on_detection=on_detection, rejections=rejections, clock=clock,
            )  # fmt: skip
            log.warning("ADS-B feed %s:%d closed; reconnecting", cfg.host, cfg.port)
        except OSError as e:
            log.warning("ADS-B feed %s:%d: %s; retrying in %.0f s", cfg.host, cfg.port, e,
                        cfg.reconnect_s)  # fmt: skip
        await asyncio.sleep(cfg.reconnect_s)
