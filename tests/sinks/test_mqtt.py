"""MQTT sink against a real mosquitto broker (Debian package ``mosquitto``, started here)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import aiomqtt
import msgspec
import pytest

from skywarden.sinks.cap_config import MqttConfig
from skywarden.sinks.mqtt import MqttSink, topic_part
from skywarden.types import AlertLine, Zone

from .helpers import T0_S, alert, scan, zone

MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin")
pytestmark = pytest.mark.skipif(
    MOSQUITTO is None,
    reason="mosquitto is not installed: 'apt-get install mosquitto' (make test installs it)",
)
SITE = "heathrow/t5"  # a '/' in the site name must not add a topic level
BASE = "skywarden/heathrow%2Ft5"


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Broker:
    """A mosquitto on 127.0.0.1:``port`` without persistence (a restart forgets retained)."""

    def __init__(self, tmp: Path, port: int) -> None:
        self.port = port
        self.conf = tmp / "mosquitto.conf"
        self.conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen: {self.proc.stderr.read()!r}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path, _free_port())
    b.start()
    yield b
    b.stop()


def z2() -> Zone:
    return Zone(id="Z2/north", name="North gate", polygon=zone().polygon, floor_m=0, ceiling_m=90)


def ev(t: float, track: str, z: str, level: str, state: str = "raised", tta: float = 30.0):
    a = alert(t, track, level=level, state=state, tta_s=tta)
    return msgspec.structs.replace(a, zone=z)


#: A scenario's alert events, one scan each, over two zones.
SCENARIO: list[list[AlertLine]] = [
    [ev(T0_S, "T1", "Z1", "info", tta=200.0)],
    [ev(T0_S + 1, "T2", "Z1", "warning", tta=90.0)],
    [ev(T0_S + 2, "T1", "Z1", "critical", "updated", tta=20.0), ev(T0_S + 2, "T3", "Z2/north", "info")],
    [ev(T0_S + 3, "T2", "Z1", "warning", "cleared")],
    [ev(T0_S + 4, "T1", "Z1", "critical", "updated", tta=0.0)],
    [ev(T0_S + 5, "T3", "Z2/north", "warning", "updated", tta=10.0)],
    [ev(T0_S + 6, "T1", "Z1", "critical", "cleared")],
]  # fmt: skip


def expected_states() -> list[dict[str, tuple]]:
    """After each scan: zone -> (state, earliest tta, alert ids), from the events alone."""
    order = {"info": 0, "warning": 1, "critical": 2}
    open_: dict[str, AlertLine] = {}
    out = []
    for events in SCENARIO:
        for a in events:
            if a.state == "cleared":
                open_.pop(a.id, None)
            else:
                open_[a.id] = a
        step = {}
        for z in ("Z1", "Z2/north"):
            mine = [a for a in open_.values() if a.zone == z]
            if not mine:
                step[z] = ("clear", None, ())
                continue
            top = max(order[a.level] for a in mine)
            state = next(k for k, v in order.items() if v == top)
            step[z] = (state, min(a.tta_s for a in mine), {a.id for a in mine})
        out.append(step)
    return out


def _key(doc: dict) -> tuple:
    return (doc["state"], doc["tta_s"], set(doc["alerts"]) if doc["alerts"] else ())


class Subscriber:
    """Collects zone-state and alert messages (with their retain flags) in the background."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.states: dict[str, list[dict]] = {}
        self.retained: dict[str, dict] = {}
        self.alerts: list[dict] = []
        self._task: asyncio.Task | None = None
        self._ready = asyncio.Event()

    async def __aenter__(self) -> Subscriber:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), 10)
        return self

    async def __aexit__(self, *exc) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        async with aiomqtt.Client("127.0.0.1", self.port) as c:
            await c.subscribe(f"{BASE}/zone/+/state", qos=1)
            await c.subscribe(f"{BASE}/alert/#", qos=1)
            self._ready.set()
            async for m in c.messages:
                doc = json.loads(m.payload)
                topic = str(m.topic)
                if "/zone/" in topic:
                    zid = doc["zone"]
                    assert topic == f"{BASE}/zone/{topic_part(zid)}/state"
                    self.states.setdefault(zid, []).append(doc)
                    if m.retain:
                        self.retained[zid] = doc
                else:
                    self.alerts.append(doc)

    async def wait_for(self, cond, timeout: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not cond():
            assert asyncio.get_running_loop().time() < deadline, "broker did not deliver in time"
            await asyncio.sleep(0.02)


def _sink(port: int) -> MqttSink:
    cfg = MqttConfig(host="127.0.0.1", port=port, qos=1, backoff_initial_s=0.05, backoff_max_s=0.2)
    return MqttSink(cfg, site_name=SITE, zones=[zone(), z2()])


def test_zone_states_follow_the_scenario_exactly_and_a_reconnecting_subscriber_gets_them(broker):
    want = expected_states()

    async def main():
        sink = _sink(broker.port)
        async with Subscriber(broker.port) as sub:
            for events, step in zip(SCENARIO, want, strict=True):
                sink.offer(scan(events[0].t, [], events))
                assert await sink.sync()
                await sub.wait_for(
                    lambda step=step: all(
                        sub.states.get(z) and _key(sub.states[z][-1]) == s for z, s in step.items()
                    )
                )
            # Every published state, in order, and nothing else: one per change.
            for z in ("Z1", "Z2/north"):
                seen = [_key(d) for d in sub.states[z]]
                changes = [s[z] for i, s in enumerate(want) if i == 0 or s[z] != want[i - 1][z]]
                assert seen == changes
            n_events = sum(len(e) for e in SCENARIO)
            await sub.wait_for(lambda: len(sub.alerts) == n_events)
            assert [(a["id"], a["state"]) for a in sub.alerts] == [
                (a.id, a.state) for e in SCENARIO for a in e
            ]
        # A dashboard that reconnects gets every zone's current state, retained.
        async with Subscriber(broker.port) as late:
            await late.wait_for(lambda: len(late.retained) == 2)
            assert {z: _key(d) for z, d in late.retained.items()} == want[-1]
            assert late.retained["Z2/north"]["name"] == "North gate"
            assert late.alerts == []  # alert events are not retained
        await sink.aclose()

    asyncio.run(main())


class Gate:
    """A TCP proxy in front of the broker that refuses connections while closed, so a
    test decides when the sink may reconnect (after its own subscriber listens: alert
    events are not retained, and a subscriber that came later would miss them)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.open = True
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.close()
            return
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            writer.close()
            return

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            w.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))

    async def aclose(self) -> None:
        assert self.server is not None
        self.server.close()


def test_link_down_keeps_alert_state_and_resends_it_on_reconnect(broker):
    async def main():
        gate = Gate(broker.port)
        await gate.start()
        sink = _sink(gate.port)
        task = asyncio.create_task(sink.run())
        sink.offer(scan(T0_S, [], [ev(T0_S, "T1", "Z1", "warning")]))
        async with Subscriber(broker.port) as sub:
            await sub.wait_for(lambda: sub.states.get("Z1", [{}])[-1].get("state") == "warning")
        gate.open = False
        broker.stop()
        # While the broker is down: a critical alert in Z2, and T1 clears.
        sink.offer(scan(T0_S + 1, [], [ev(T0_S + 1, "T9", "Z2/north", "critical", tta=5.0)]))
        sink.offer(scan(T0_S + 2, [], [ev(T0_S + 2, "T1", "Z1", "warning", "cleared")]))
        deadline = time.monotonic() + 10
        while not sink.failing:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        assert sink.health().alerts_pending >= 2
        broker.start()  # a fresh broker: it has lost every retained message
        async with Subscriber(broker.port) as sub:
            gate.open = True  # the sink may reconnect now that someone listens
            await sub.wait_for(lambda: not sink.failing and sink.health().alerts_pending == 0)
            await sub.wait_for(lambda: len(sub.retained) == 2 or len(sub.states) == 2)
            await sub.wait_for(
                lambda: (
                    [(a["id"], a["state"]) for a in sub.alerts][-2:]
                    == [("A-T9", "raised"), ("A-T1", "cleared")]
                )
            )
        async with Subscriber(broker.port) as late:
            await late.wait_for(lambda: len(late.retained) == 2)
            assert late.retained["Z1"]["state"] == "clear"
            assert late.retained["Z2/north"]["state"] == "critical"
            assert late.retained["Z2/north"]["alerts"] == ["A-T9"]
        assert sink.connects == 2
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await sink.aclose()
        await gate.aclose()

    asyncio.run(main())


def _certs(tmp: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 (made here with cryptography)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(1)
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    paths = tmp / "ca.pem", tmp / "server.pem", tmp / "server.key"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(cert.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd missing")
def test_tls_and_credentials(tmp_path, monkeypatch):
    import ssl

    ca, cert, key = _certs(tmp_path)
    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), "siren", "s3cret"], check=True)
    b = Broker(tmp_path, _free_port())
    b.conf.write_text(
        f"listener {b.port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
        f"allow_anonymous false\npassword_file {pw}\npersistence false\n"
        # Run as root, mosquitto drops to user 'mosquitto', who cannot read pytest's tmp dir.
        f"user {getpass.getuser()}\n"
    )
    b.start()
    try:
        ctx = ssl.create_default_context(cafile=str(ca))

        async def main(password: str) -> tuple[MqttSink, dict | None]:
            monkeypatch.setenv("MQTT_PASSWORD", password)
            cfg = MqttConfig(
                host="127.0.0.1", port=b.port, tls=True, tls_ca_file=str(ca),
                username="siren", password_env="MQTT_PASSWORD",
            )  # fmt: skip
            sink = MqttSink(cfg, site_name=SITE, zones=[zone()])
            sink.offer(scan(T0_S, [], [ev(T0_S, "T1", "Z1", "critical")]))
            ok = await sink.sync()
            got = None
            if ok:
                async with aiomqtt.Client(
                    "127.0.0.1", b.port, username="siren", password="s3cret", tls_context=ctx
                ) as c:
                    await c.subscribe(f"{BASE}/zone/Z1/state", qos=1)
                    async for m in c.messages:
                        got = json.loads(m.payload)
                        break
            await sink.aclose()
            return sink, got

        sink, got = asyncio.run(main("wrong"))
        assert sink.failing and sink.health().alerts_pending == 1  # refused, nothing lost
        assert "Not authorized" in sink.last_error
        sink, got = asyncio.run(main("s3cret"))
        assert not sink.failing and got["state"] == "critical" and got["alerts"] == ["A-T1"]
    finally:
        b.stop()


def test_zone_states_follow_a_mass_raid_run(broker, mass_raid):
    """Every scan of a mass-raid run through the engine: after each, every zone's
    retained state is what that scan's alert events make it."""
    outs, zones = mass_raid
    order = {"info": 0, "warning": 1, "critical": 2}
    open_: dict[str, AlertLine] = {}

    def expected() -> dict[str, tuple]:
        step = {}
        for z in zones:
            mine = [a for a in open_.values() if a.zone == z.id]
            if not mine:
                step[z.id] = ("clear", None, ())
                continue
            # Most urgent first: highest level, then soonest arrival (ties: oldest alert).
            mine.sort(key=lambda a: (-order[a.level], a.tta_s if a.tta_s is not None else 1e12))
            ttas = [a.tta_s for a in mine if a.tta_s is not None]
            step[z.id] = (mine[0].level, min(ttas) if ttas else None, tuple(a.id for a in mine))
        return step

    async def main():
        sink = MqttSink(
            MqttConfig(host="127.0.0.1", port=broker.port, qos=1), site_name=SITE, zones=zones
        )
        want_seq: dict[str, list[tuple]] = {z.id: [] for z in zones}
        async with Subscriber(broker.port) as sub:
            for out in outs:
                if not out.alerts:
                    continue
                for a in out.alerts:
                    if a.kind != "sensor":
                        if a.state == "cleared":
                            open_.pop(a.id, None)
                        else:
                            open_[a.id] = a
                step = expected()
                for zid, s in step.items():
                    if not want_seq[zid] or want_seq[zid][-1] != s:
                        want_seq[zid].append(s)
                sink.offer(out)
                assert await sink.sync()
                await sub.wait_for(
                    lambda: all(len(sub.states.get(z, ())) == len(w) for z, w in want_seq.items())
                )
            got = {
                z: [(d["state"], d["tta_s"], tuple(d["alerts"])) for d in sub.states[z]]
                for z in want_seq
            }
            assert got == want_seq
        assert sum(len(w) for w in want_seq.values()) > 2 * len(zones)  # states really changed
        await sink.aclose()

    asyncio.run(main())
