"""The listening inputs of ``skywarden serve``, built from one table over ``sources:``.

Each entry of :data:`BUILDERS` turns its part of the site config's ``sources``
section into :class:`Listener` records; the service binds them all the same way
(one bind-error path, one closer list, one ``ports`` table, one metrics label per
source). Inputs that connect out instead of listening (ADS-B receivers) or read a
file (replay) are tasks, started by the service beside these.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from ..config import SourcesConfig
from ..scenario import Header
from ..types import Sensor
from .asterix48 import AsterixUdpEndpoint
from .base import RejectionCounter
from .jsonl import JsonlTcpServer, JsonlUdpEndpoint, ListenerConfig, OnRecord
from .live import RemoteIdUdpEndpoint

if TYPE_CHECKING:
    from .sapient import NodeStatus


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What every listener is given by the service: where records go and who counts."""

    #: The service's sensor table (sensors declared in the config and live).
    header: Header
    on_record: OnRecord
    rejections: RejectionCounter
    #: Wall clock, UTC seconds.
    clock: Callable[[], float]
    #: Sensor ids of the site config (a JSON Lines client may not redeclare them).
    config_sensors: frozenset[str]
    #: A SAPIENT node registered a sensor / reported its health.
    add_sensor: Callable[[Sensor], None]
    on_status: Callable[[NodeStatus], None]
    site_name: str


@dataclass(frozen=True, slots=True)
class Listener:
    """One input bound to a port: ``key`` names it in ``ports`` and in metrics labels."""

    key: str
    #: What the port is for, in a bind error ("ASTERIX port of psr").
    what: str
    #: The configured port (0: any free port).
    port: int
    #: The input object itself (its statistics and limits are read by the service).
    endpoint: object
    #: Binds on ``host``; returns the bound port.
    start: Callable[[str], Awaitable[int]]
    #: Stops it (a coroutine for the stream servers; the service awaits those).
    close: Callable[[], Awaitable[None] | None]
    #: Messages the input sets aside on purpose (not errors), by reason.
    ignored: Counter[str] | None = None
    #: Remote ID Locations reported with no Basic ID, by transmitter address.
    anonymous: Counter[str] | None = None


def _jsonl(src: SourcesConfig, ctx: SourceContext) -> Iterator[Listener]:
    kinds: tuple[tuple[str, str, type[JsonlTcpServer] | type[JsonlUdpEndpoint], int | None,
                       ListenerConfig], ...] = (
        ("jsonl_tcp", "JSON Lines TCP port", JsonlTcpServer, src.jsonl_tcp_port, src.jsonl_tcp),
        ("jsonl_udp", "JSON Lines UDP port", JsonlUdpEndpoint, src.jsonl_udp_port, src.jsonl_udp),
    )  # fmt: skip
    for key, what, cls, port, limits in kinds:
        if port is None:
            continue
        ep = cls(
            ctx.header, ctx.on_record, limits,
            config_sensors=ctx.config_sensors, rejections=ctx.rejections,
        )  # fmt: skip
        yield Listener(key, what, port, ep, partial(ep.start, port=port), ep.close)


def _sapient(src: SourcesConfig, ctx: SourceContext) -> Iterator[Listener]:
    if src.sapient_port is None:
        return
    from .sapient import SapientServer, default_node_id

    def on_detection(report) -> None:
        ctx.on_record(report.detection)

    sap = SapientServer(
        src.host, src.sapient_port,
        on_detection=on_detection, on_sensor=ctx.add_sensor, on_status=ctx.on_status,
        fusion_node_id=src.sapient_node_id or default_node_id(f"{ctx.site_name}.skywarden"),
        clock=ctx.clock, config=src.sapient, rejections=ctx.rejections,
    )  # fmt: skip

    async def start(host: str) -> int:
        # The server was given its host and port when built (the node id is bound to them).
        await sap.start()
        return sap.port

    yield Listener("sapient", "SAPIENT port", src.sapient_port, sap, start, sap.close)


def _asterix48(src: SourcesConfig, ctx: SourceContext) -> Iterator[Listener]:
    for a in src.asterix48:
        ep = AsterixUdpEndpoint(
            ctx.header.sensors[a.sensor], ctx.on_record, rejections=ctx.rejections,
            clock=ctx.clock, default_alt_m=a.default_alt_m,
        )  # fmt: skip

        async def start(host: str, ep: AsterixUdpEndpoint = ep, port: int = a.port) -> int:
            return (await ep.start(host, port))[1]

        yield Listener(
            f"asterix48:{a.sensor}", f"ASTERIX port of {a.sensor}", a.port, ep, start, ep.close,
            ignored=ep.ignored,
        )  # fmt: skip


def _remoteid(src: SourcesConfig, ctx: SourceContext) -> Iterator[Listener]:
    for r in src.remoteid:
        rid = RemoteIdUdpEndpoint(
            r.sensor, ctx.on_record, rejections=ctx.rejections, clock=ctx.clock, link=r.link
        )

        yield Listener(
            f"remoteid:{r.sensor}", f"Remote ID port of {r.sensor}", r.port, rid,
            partial(rid.start, port=r.port), rid.close, anonymous=rid.assembler.anonymous,
        )  # fmt: skip


#: Every kind of listening input, in the order they are bound.
BUILDERS: tuple[Callable[[SourcesConfig, SourceContext], Iterator[Listener]], ...] = (
    _jsonl,
    _sapient,
    _asterix48,
    _remoteid,
)


def listeners(src: SourcesConfig, ctx: SourceContext) -> list[Listener]:
    """Every listening input the ``sources`` section asks for."""
    return [lst for build in BUILDERS for lst in build(src, ctx)]
