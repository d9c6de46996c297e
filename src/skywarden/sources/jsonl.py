"""JSON Lines transports: TCP, UDP and real-time replay of a scenario file.

Every line goes through the same checks as the scenario reader
(:meth:`ScenarioReader.feed`): a bad line is counted with its reason and
skipped, and the lines around it still flow.

Who may speak is the site's decision (:class:`ListenerConfig`, one per
listener): the sensors a listener takes detections for, whether it takes
sensor declarations at all (off by default; a declaration can never replace a
sensor of the site config), and for TCP an optional shared secret sent as the
first line. Everything a peer can make grow is bounded: line length, lines per
second, simultaneous connections, idle time, the rejections kept as examples.
A connection's reader is dropped when the connection closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import io
import logging
import os
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated

import msgspec

from ..scenario import Header, ReadStats, ScenarioReader
from ..types import (
    Detection,
    Ident,
    Record,
    RejectCode,
    Rejected,
    Sensor,
    Site,
    TruthPoint,
    Zone,
)
from .base import RejectionCounter

log = logging.getLogger(__name__)

OnRecord = Callable[[Record], None]

#: Sensors one listener may register live, at most.
MAX_REGISTERED = 256
#: Rejections of a listener kept as examples (all are counted, by reason).
SAMPLES = 100


class ListenerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Who may speak on a JSON Lines listener, and how much (``sources.jsonl_tcp`` / ``jsonl_udp``)."""

    #: Sensors whose detections this listener takes; ``null``: every sensor the site knows.
    sensors: list[Ident] | None = None
    #: Take ``sensor`` lines (live registration) for sensors not in the site config.
    allow_register: bool = False
    #: TCP only: environment variable holding a shared secret that each
    #: connection must send first, as ``{"type": "auth", "secret": "..."}``.
    secret_env: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    #: TCP only: serve TLS with this certificate and key (PEM files) ...
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    #: ... and require a client certificate signed by this CA (mutual TLS).
    tls_client_ca_file: str | None = None
    #: Seconds a TCP peer has to finish the TLS handshake and send the secret line.
    handshake_timeout_s: Annotated[float, msgspec.Meta(gt=0.0, le=300.0)] = 10.0
    #: Simultaneous TCP connections; more are closed at once.
    max_connections: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 64
    #: TCP only: seconds a connection may send nothing before it is closed
    #: (a blank line keeps a quiet sensor's connection open).
    idle_timeout_s: Annotated[float, msgspec.Meta(gt=0.0, le=86_400.0)] = 300.0
    #: Longest line; a longer one is rejected alone.
    max_line_bytes: Annotated[int, msgspec.Meta(ge=1_024, le=1 << 20)] = 65_536
    #: Lines per second per TCP connection (per UDP listener), with one second of burst.
    max_lines_per_s: Annotated[float, msgspec.Meta(gt=0.0, le=1.0e6)] = 5_000.0


def tls_context(config: ListenerConfig) -> ssl.SSLContext | None:
    """The server TLS context a listener's settings ask for (None: plain TCP).

    Raises ``ValueError`` naming what is missing or unreadable.
    """
    if config.tls_cert_file is None and config.tls_key_file is None:
        if config.tls_client_ca_file is not None:
            raise ValueError("tls_client_ca_file needs tls_cert_file and tls_key_file")
        return None
    if config.tls_cert_file is None or config.tls_key_file is None:
        raise ValueError("tls_cert_file and tls_key_file go together")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(config.tls_cert_file, config.tls_key_file)
        if config.tls_client_ca_file is not None:
            ctx.load_verify_locations(config.tls_client_ca_file)
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as e:
        raise ValueError(f"cannot load the TLS files: {e}") from e
    return ctx


class _Auth(msgspec.Struct, tag="auth", tag_field="type", forbid_unknown_fields=True):
    secret: Annotated[str, msgspec.Meta(max_length=1_024)]


_AUTH = msgspec.json.Decoder(_Auth)


class TokenBucket:
    """``rate`` events per second with a burst of ``burst``."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.clock = clock
        self._t = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self._t) * self.rate)
        self._t = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class LineSplitter:
    """Splits a byte stream into lines of at most ``max_len`` bytes.

    ``feed`` returns the complete lines (without the newline), and None in
    place of each longer line, which is dropped as it streams in and never held:
    the line after it is kept.
    """

    def __init__(self, max_len: int) -> None:
        self.max_len = max_len
        self._buf = bytearray()
        self._skipping = False

    def feed(self, chunk: bytes) -> list[bytes | None]:
        out: list[bytes | None] = []
        start = 0
        while (i := chunk.find(b"\n", start)) >= 0:
            piece = chunk[start:i]
            start = i + 1
            if self._skipping:
                self._skipping = False
            elif len(self._buf) + len(piece) > self.max_len:
                self._buf.clear()
                out.append(None)
            elif self._buf:
                self._buf += piece
                out.append(bytes(self._buf))
                self._buf.clear()
            else:
                out.append(piece)
        rest = chunk[start:]
        if not self._skipping:
            if len(self._buf) + len(rest) > self.max_len:
                self._buf.clear()
                self._skipping = True
                out.append(None)
            else:
                self._buf += rest
        return out

    def end(self) -> list[bytes | None]:
        """The last line if the stream ended without a newline."""
        tail: list[bytes | None] = [] if self._skipping or not self._buf else [bytes(self._buf)]
        self._buf.clear()
        return tail


class _LiveReader(ScenarioReader):
    """One connection's line checker, under its listener's rules."""

    def __init__(self, listener: _Listener) -> None:
        super().__init__(io.BytesIO(b""), quiet=True, live=True)
        self.stats = listener.stats
        self.header.site = listener.header.site
        # Shared, not copied: a sensor registered anywhere is known at once everywhere.
        self.header.sensors = listener.header.sensors
        self._listener = listener

    def _declare(self, rec: Site | Sensor | Zone, stats: ReadStats, line: int) -> Rejected | None:
        if isinstance(rec, Sensor):
            refusal = self._listener.may_register(rec)
            return None if refusal is None else stats.reject(line, *refusal)
        if isinstance(rec, Zone):
            return stats.reject(
                line, "zone lines are not taken from the network", RejectCode.REFUSED
            )
        return super()._declare(rec, stats, line)

    def _check_detection(self, det: Detection, line: int, stats: ReadStats) -> Detection | None:
        if not self._listener.may_send(det.sensor):
            stats.reject(
                line, f"sensor '{det.sensor}' may not send on this listener", RejectCode.REFUSED
            )
            return None
        return super()._check_detection(det, line, stats)


class _Listener:
    """What the TCP and UDP listeners share: the rules, the counts, the sensor table."""

    def __init__(
        self,
        name: str,
        header: Header,
        on_record: OnRecord,
        config: ListenerConfig | None,
        config_sensors: Iterable[str] | None,
        rejections: RejectionCounter | None,
    ) -> None:
        self.name = name
        self.header = header
        self.on_record = on_record
        self.config = config or ListenerConfig()
        # Without a list from the caller every sensor known at start counts as configured.
        self.config_sensors = frozenset(
            header.sensors if config_sensors is None else config_sensors
        )
        self.allowed = None if self.config.sensors is None else frozenset(self.config.sensors)
        self.registered: set[str] = set()
        self.rejections = rejections if rejections is not None else RejectionCounter()
        self.stats = ReadStats(quiet=True, live=True, max_samples=SAMPLES)
        self.stats.on_reject = lambda r: self.rejections.add(self.name, r)

    def may_register(self, sensor: Sensor) -> tuple[str, RejectCode] | None:
        """None if this listener may declare ``sensor``, else the reason it may not."""
        sid = sensor.id
        refused = RejectCode.REFUSED
        if not self.config.allow_register:
            return f"sensor '{sid}': sensor declarations are not accepted on {self.name}", refused
        if sid in self.config_sensors:
            return (
                f"sensor '{sid}' is declared in the site config and cannot be redeclared",
                refused,
            )
        if self.allowed is not None and sid not in self.allowed:
            return f"sensor '{sid}' is not in the sensors list of {self.name}", refused
        known = self.header.sensors.get(sid)
        if known is not None:
            if known == sensor:
                return None
            return f"sensor '{sid}' is already declared, differently", RejectCode.CONFLICT
        if len(self.registered) >= MAX_REGISTERED:
            return (
                f"sensor '{sid}': {self.name} has registered {MAX_REGISTERED} sensors already",
                refused,
            )
        self.registered.add(sid)
        return None

    def may_send(self, sensor_id: str) -> bool:
        return self.allowed is None or sensor_id in self.allowed

    def reject(self, reason: str, code: RejectCode) -> None:
        self.stats.lines += 1
        self.stats.reject(self.stats.lines, reason, code)

    def take(self, reader: _LiveReader, raw: bytes | None, bucket: TokenBucket) -> None:
        """One line off the wire: checked, counted, and handed on if good."""
        if raw is None:
            self.reject(
                f"line longer than {self.config.max_line_bytes} bytes", RejectCode.TOO_LARGE
            )
            return
        if not raw.strip():
            return
        if not bucket.take():
            self.reject(
                f"over the rate limit of {self.config.max_lines_per_s:g} lines/s",
                RejectCode.RATE_LIMIT,
            )
            return
        try:
            rec = reader.feed(raw)
            if rec is not None:
                self.on_record(rec)
        except Exception as e:  # a bug must cost one line, never the listener
            log.debug("%s: line failed", self.name, exc_info=True)
            self.reject(f"internal error on this line: {type(e).__name__}", RejectCode.INTERNAL)


class JsonlTcpServer(_Listener):
    """Accepts JSON Lines over TCP; one reader per open connection, shared sensor table."""

    def __init__(
        self,
        header: Header,
        on_record: OnRecord,
        config: ListenerConfig | None = None,
        *,
        config_sensors: Iterable[str] | None = None,
        rejections: RejectionCounter | None = None,
    ) -> None:
        super().__init__("jsonl-tcp", header, on_record, config, config_sensors, rejections)
        secret = None
        if self.config.secret_env is not None:
            secret = os.environ.get(self.config.secret_env)
            if not secret:
                raise ValueError(f"environment variable {self.config.secret_env} is not set")
        self._secret = secret.encode() if secret else None
        self._tls = tls_context(self.config)
        #: Connections taken since start, open now, refused over the cap, closed as idle.
        self.connections = 0
        self.open_connections = 0
        self.refused = 0
        self.idle_closed = 0
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        self._server = await asyncio.start_server(
            self._handle, host, port, ssl=self._tls,
            ssl_handshake_timeout=self.config.handshake_timeout_s if self._tls else None,
        )  # fmt: skip
        return self._server.sockets[0].getsockname()[1]

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if self.open_connections >= self.config.max_connections:
            self.refused += 1
            self.reject(
                f"more than {self.config.max_connections} connections; closed", RejectCode.REFUSED
            )
            w.close()
            return
        self.connections += 1
        self.open_connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        splitter = LineSplitter(self.config.max_line_bytes)
        bucket = TokenBucket(self.config.max_lines_per_s, max(1.0, self.config.max_lines_per_s))
        try:
            lines = self._lines(r, splitter)
            if self._secret is not None and not await self._authenticated(lines):
                return
            reader = _LiveReader(self)
            async for raw in lines:
                self.take(reader, raw, bucket)
        except TimeoutError:
            self.idle_closed += 1
            self.reject(
                f"nothing received for {self.config.idle_timeout_s:g} s; closed", RejectCode.REFUSED
            )
        except ConnectionError as e:
            log.info("jsonl tcp client went away: %s", e)
        except asyncio.CancelledError:
            # Only close() cancels a connection; ending quietly spares the log an
            # asyncio traceback (3.11 streams ask a cancelled handler for its exception).
            log.debug("jsonl tcp connection closed at shutdown")
        finally:
            self.open_connections -= 1
            self._tasks.discard(task)
            w.close()

    async def _lines(self, r: asyncio.StreamReader, splitter: LineSplitter):
        """The connection's lines; TimeoutError once it has been silent for ``idle_timeout_s``."""
        while True:
            async with asyncio.timeout(self.config.idle_timeout_s):
                chunk = await r.read(65_536)
            if not chunk:
                break
            for line in splitter.feed(chunk):
                yield line
        for line in splitter.end():
            yield line

    async def _authenticated(self, lines) -> bool:
        try:
            async with asyncio.timeout(self.config.handshake_timeout_s):
                first = await anext(lines, None)
        except TimeoutError:
            self.reject("no secret line in time; closed", RejectCode.AUTH)
            return False
        try:
            given = _AUTH.decode(first or b"").secret.encode()
        except msgspec.DecodeError:
            self.reject("first line is not the secret line; closed", RejectCode.AUTH)
            return False
        if not hmac.compare_digest(given, self._secret or b""):
            self.reject("wrong secret; closed", RejectCode.AUTH)
            return False
        return True

    async def close(self) -> None:
        """Stop listening and close every open connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, owner: JsonlUdpEndpoint) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        o = self.owner
        max_len = o.config.max_line_bytes
        for raw in data.split(b"\n"):
            o.take(o.reader, raw if len(raw) <= max_len else None, o.bucket)


class JsonlUdpEndpoint(_Listener):
    """Accepts JSON Lines over UDP, one or more lines per datagram."""

    def __init__(
        self,
        header: Header,
        on_record: OnRecord,
        config: ListenerConfig | None = None,
        *,
        config_sensors: Iterable[str] | None = None,
        rejections: RejectionCounter | None = None,
    ) -> None:
        super().__init__("jsonl-udp", header, on_record, config, config_sensors, rejections)
        if self.config.secret_env is not None or tls_context(self.config) is not None:
            raise ValueError("a UDP listener cannot check a secret or use TLS (they are for TCP)")
        self.reader = _LiveReader(self)
        self.bucket = TokenBucket(
            self.config.max_lines_per_s, max(1.0, self.config.max_lines_per_s)
        )
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=(host, port)
        )
        self._transport = transport
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
    t0: float | None = None,
) -> int:
    """Feed records in real time (x ``speed``), paced by their measurement times.

    With ``retime`` every detection is shifted by one constant so that the first
    one (or the time ``t0``, when given: several feeds of one scenario then keep
    one time line) is stamped with the clock's time at the start: the data look
    current, and intervals between measurements are kept (at ``speed`` > 1 the
    data's time runs ahead of the clock). Truth lines are skipped (the tracker
    never reads them). Returns the number of records fed.
    """
    t_file0: float | None = t0
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
