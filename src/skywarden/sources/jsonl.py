"""JSON Lines transports: TCP, UDP and real-time replay of a scenario file.

Every line goes through the same checks as the scenario reader
(:meth:`ScenarioReader.feed`): a bad line is counted with its reason and
skipped, and the lines around it still flow. Sensor, site and zone lines may
arrive on the stream too; a sensor line declares (or redeclares) that sensor.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
from collections.abc import Awaitable, Callable, Iterable

import msgspec

from ..scenario import Header, ScenarioReader
from ..types import Detection, Record, TruthPoint

log = logging.getLogger(__name__)

OnRecord = Callable[[Record], None]


def live_reader(header: Header) -> ScenarioReader:
    """A line checker over the site's own sensor table.

    The table is shared, not copied: a sensor declared on any connection (or by
    a SAPIENT registration) is known at once to every reader, with no per-line
    copying. Zones are copied: a zone line on the wire changes nothing live.
    """
    reader = ScenarioReader(io.BytesIO(b""), quiet=False)
    reader.header.site = header.site
    reader.header.sensors = header.sensors
    reader.header.zones.extend(header.zones)
    return reader


class JsonlTcpServer:
    """Accepts JSON Lines over TCP; one reader per connection, shared sensor list."""

    def __init__(self, header: Header, on_record: OnRecord, max_line: int = 65_536) -> None:
        self._header = header
        self._on_record = on_record
        self._max_line = max_line
        self.connections = 0
        self.readers: list[ScenarioReader] = []
        self._server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        self._server = await asyncio.start_server(self._handle, host, port, limit=self._max_line)
        return self._server.sockets[0].getsockname()[1]

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.connections += 1
        reader = live_reader(self._header)
        self.readers.append(reader)
        try:
            while True:
                try:
                    raw = await r.readline()
                except (asyncio.LimitOverrunError, ValueError):
                    reader.stats.reject(reader.stats.lines + 1, "line longer than the limit")
                    await r.read(self._max_line)
                    continue
                if not raw:
                    break
                rec = reader.feed(raw)
                if rec is not None:
                    self._on_record(rec)
        except ConnectionError as e:
            log.info("jsonl tcp client went away: %s", e)
        finally:
            w.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, owner: JsonlUdpEndpoint) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        for raw in data.splitlines():
            if raw.strip():
                rec = self.owner.reader.feed(raw)
                if rec is not None:
                    self.owner.on_record(rec)


class JsonlUdpEndpoint:
    """Accepts JSON Lines over UDP, one or more lines per datagram."""

    def __init__(self, header: Header, on_record: OnRecord) -> None:
        self.header = header
        self.on_record = on_record
        self.reader = live_reader(header)
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=(host, port)
        )
        self._transport = transport  # type: ignore[assignment]
        return transport.get_extra_info("sockname")[1]

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def replay(
    records: Iterable[Record],
    on_record: OnRecord,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    speed: float = 1.0,
    retime: bool = True,
) -> int:
    """Feed records in real time (x ``speed``), paced by their measurement times.

    With ``retime`` every detection is shifted by one constant so that the first
    one is stamped with the clock's time at the start: the data look current,
    and intervals between measurements are kept (at ``speed`` > 1 the data's
    time runs ahead of the clock). Truth lines are skipped (the tracker never
    reads them). Returns the number of records fed.
    """
    t_file0: float | None = None
    t_wall0 = clock()
    n = 0
    for rec in records:
        if isinstance(rec, TruthPoint):
            continue
        if isinstance(rec, Detection):
            if t_file0 is None:
                t_file0 = rec.t
            wait = t_wall0 + (rec.t - t_file0) / speed - clock()
            if wait > 0:
                await sleep(wait)
            if retime:
                rec = msgspec.structs.replace(rec, t=rec.t - t_file0 + t_wall0)
        on_record(rec)
        n += 1
    return n


def file_records(path: str | os.PathLike[str]) -> Iterable[Record]:
    """Records of a scenario file (streamed)."""
    return ScenarioReader(path)
