"""Per-site subject permissions on a real nats-server: a site may publish only as itself."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

import nats
import nats.errors
import nkeys
import pytest

from skywarden.region.config import NatsLinkConfig, RegionConfig, RegionLinkConfig
from skywarden.region.publish import RegionPublisher
from skywarden.region.schema import AlertsMsg, encode
from skywarden.region.server import NatsServer
from skywarden.region.service import RegionService
from skywarden.types import ScanOutput, Site

from .conftest import alert, pump, track


def site_user(site: str) -> str:
    # Publish: its own subjects, and the JetStream API calls a publisher needs; subscribe:
    # the inboxes where JetStream acknowledges.
    return (
        f'{{user: {site}, password: "pw-{site}", permissions: {{'
        f' publish: {{allow: ["skywarden.{site}.>", "$JS.API.INFO"]}},'
        ' subscribe: {allow: ["_INBOX.>"]} }}'
    )


ACCOUNTS = f"""
accounts {{
  SKYWARDEN {{
    jetstream: enabled
    users: [
      {{user: region, password: "pw-region"}}
      {site_user("A")}
      {site_user("B")}
    ]
  }}
}}
"""


@pytest.fixture
def secured(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "nats").mkdir()
    srv = NatsServer(store_dir=tmp_path / "nats", config=ACCOUNTS).start()
    try:
        yield srv
    finally:
        srv.close()


def test_a_site_cannot_publish_on_another_sites_subjects(
    secured: NatsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PW_REGION", "pw-region")
    monkeypatch.setenv("PW_A", "pw-A")

    async def main() -> None:
        region = RegionService(RegionConfig(
            lat=51.0, lon=-1.0, sites=["A", "B"], store=str(tmp_path / "r.db"),
            nats=NatsLinkConfig(url=secured.url, user="region", password_env="PW_REGION"),
        ))  # fmt: skip
        await region.connect()
        # Site A, as itself, through its publisher: delivered.
        cfg = RegionLinkConfig(url=secured.url, site="A", user="A", password_env="PW_A",
                               outbox=str(tmp_path / "a.db"))  # fmt: skip
        pub = RegionPublisher(cfg, Site(name="a", lat=51.0, lon=-1.05, alt_m=0.0), clock=time.time)
        task = asyncio.create_task(pub.run())
        t = time.time()
        pub.offer(ScanOutput(t_s=t, tracks=(track("T1", t, 51.0, -1.0),),
                             alerts=(alert("a1", t, "T1", "Z1"),)))  # fmt: skip
        await pump(region, lambda: len(region.store.events()) == 1)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pub.aclose()

        # Site A's credentials, B's subject: the server refuses it and stores nothing.
        errors: list[Exception] = []

        async def on_error(e: Exception) -> None:
            errors.append(e)

        nc = await nats.connect(secured.url, user="A", password="pw-A", error_cb=on_error)
        forged = AlertsMsg(site="B", t=t, alerts=[alert("b1", t, "T9", "Z1")])
        with pytest.raises((nats.errors.Error, TimeoutError)):
            await nc.jetstream().publish("skywarden.B.alerts", encode(forged), timeout=1.0)
        await nc.close()
        assert any("permissions violation" in str(e).lower() for e in errors)
        assert await region.poll("B", timeout_s=1.0) == 0
        assert region.sites["B"].messages == 0
        assert len(region.store.events()) == 1
        await region.stop()

    asyncio.run(main())


def new_nkey(path: Path) -> str:
    """A fresh user nkey: its seed written to ``path`` (as an operator hands it to a site),
    its public key returned (for the server's configuration)."""
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    path.write_bytes(seed + b"\n")
    path.chmod(0o600)
    return nkeys.from_seed(bytearray(seed)).public_key.decode()


def test_sites_with_nkey_seed_files_publish_only_as_themselves(tmp_path: Path) -> None:
    keys = {who: new_nkey(tmp_path / f"{who}.nk") for who in ("region", "A", "B")}

    def nkey_user(site: str) -> str:
        return (
            f"{{nkey: {keys[site]}, permissions: {{"
            f' publish: {{allow: ["skywarden.{site}.>", "$JS.API.INFO"]}},'
            ' subscribe: {allow: ["_INBOX.>"]} }}'
        )

    accounts = f"""
accounts {{
  SKYWARDEN {{
    jetstream: enabled
    users: [
      {{nkey: {keys["region"]}}}
      {nkey_user("A")}
      {nkey_user("B")}
    ]
  }}
}}
"""
    (tmp_path / "nats").mkdir()
    srv = NatsServer(store_dir=tmp_path / "nats", config=accounts).start()

    async def main() -> None:
        region = RegionService(RegionConfig(
            lat=51.0, lon=-1.0, sites=["A", "B"], store=str(tmp_path / "r.db"),
            nats=NatsLinkConfig(url=srv.url, nkey_seed=str(tmp_path / "region.nk")),
        ))  # fmt: skip
        await region.connect()
        # Each site through its own publisher and seed file: delivered.
        pubs, tasks = [], []
        t = time.time()
        for site, lon in (("A", -1.05), ("B", -0.95)):
            cfg = RegionLinkConfig(url=srv.url, site=site, nkey_seed=str(tmp_path / f"{site}.nk"),
                                   outbox=str(tmp_path / f"{site}.db"))  # fmt: skip
            pub = RegionPublisher(
                cfg, Site(name=site, lat=51.0, lon=lon, alt_m=0.0), clock=time.time
            )
            pubs.append(pub)
            tasks.append(asyncio.create_task(pub.run()))
            pub.offer(ScanOutput(t_s=t, tracks=(track("T1", t, 51.0, lon),),
                                 alerts=(alert(f"{site}1", t, "T1", site),)))  # fmt: skip
        await pump(region, lambda: len(region.store.events()) == 2)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for pub in pubs:
            await pub.aclose()
        assert sorted(e.zone for e in region.store.events()) == ["A", "B"]

        # A's seed, B's subject: refused by the server, nothing stored for B.
        errors: list[Exception] = []

        async def on_error(e: Exception) -> None:
            errors.append(e)

        nc = await nats.connect(srv.url, nkeys_seed=str(tmp_path / "A.nk"), error_cb=on_error)
        forged = AlertsMsg(site="B", t=t, alerts=[alert("b9", t, "T9", "Z1")])
        with pytest.raises((nats.errors.Error, TimeoutError)):
            await nc.jetstream().publish("skywarden.B.alerts", encode(forged), timeout=1.0)
        await nc.close()
        assert any("permissions violation" in str(e).lower() for e in errors)
        assert await region.poll("B", timeout_s=1.0) == 0
        assert region.sites["B"].messages > 0 and region.sites["B"].malformed == 0
        assert len(region.store.events()) == 2

        # A seed the server does not know is refused at connection.
        new_nkey(tmp_path / "stranger.nk")
        with pytest.raises((nats.errors.Error, OSError)):
            await nats.connect(srv.url, nkeys_seed=str(tmp_path / "stranger.nk"),
                               allow_reconnect=False, connect_timeout=2)  # fmt: skip
        await region.stop()

    try:
        asyncio.run(main())
    finally:
        srv.close()
