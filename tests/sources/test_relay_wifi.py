"""``skywarden relay-wifi``: a monitor-mode capture piped in reaches the live Remote ID input.

The captures are public ones (``tests/data/remoteid``: Open Drone ID beacons;
``tests/data/droneid``: DJI DroneID beacons of a spoofer), written to the
command's standard input through a pipe, as ``tcpdump -U -w -`` would; the
receiver is the service's own UDP Remote ID input (``link: radiotap``). What it
reports must be what ``import`` reads from the same file.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import dpkt
import pytest

from skywarden.sources import droneid, pcap, remoteid
from skywarden.sources.base import RejectionCounter
from skywarden.sources.live import RemoteIdUdpEndpoint
from skywarden.types import Detection

from .test_droneid_captures import ALESSA, MULTIPLE

ODID_BEACONS = (
    Path(__file__).resolve().parents[1] / "data" / "remoteid" / "odid_wifi_bcn_sample.pcap"
)
EXE = Path(sys.executable).with_name("skywarden")


def _from_file(path: Path) -> set[tuple[str | None, float, float]]:
    asm = remoteid.RemoteIdAssembler("wifi")
    dets = list(remoteid.read_file(path, sensor_id="wifi", assembler=asm))
    assert dets and all(isinstance(d, Detection) for d in dets)
    return {(d.uas_id, d.lat, d.lon) for d in dets if isinstance(d, Detection)}


async def _live(feed, n_expected: int) -> tuple[list[Detection], RejectionCounter]:
    """Start the UDP input, run ``feed(port)``, collect until ``n_expected`` detections."""
    got: list[Detection] = []
    rej = RejectionCounter()
    ep = RemoteIdUdpEndpoint("wifi", got.append, rejections=rej, clock=time.time, link="radiotap")
    port = await ep.start("127.0.0.1", 0)
    try:
        await feed(port)
        for _ in range(500):  # datagrams on loopback: wait for them, not for a time
            if len(got) >= n_expected:
                break
            await asyncio.sleep(0.01)
    finally:
        ep.close()
    return got, rej


@pytest.mark.parametrize("capture", [MULTIPLE, ODID_BEACONS], ids=["dji-pcapng", "odid-pcap"])
def test_capture_piped_into_the_relay_reaches_the_live_input(capture: Path) -> None:
    want = _from_file(capture)

    async def feed(port: int) -> None:
        proc = await asyncio.create_subprocess_exec(
            str(EXE), "relay-wifi", "--to", f"127.0.0.1:{port}", "--json",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        data = capture.read_bytes()
        assert proc.stdin is not None
        for k in range(0, len(data), 1000):  # a pipe, written in pieces as a capture grows
            proc.stdin.write(data[k : k + 1000])
            await proc.stdin.drain()
        proc.stdin.close()
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        counts = json.loads(out)
        assert counts["frames read"] == sum(1 for _ in pcap.iter_capture(capture))
        assert counts["frames relayed"] > 0

    got, rej = asyncio.run(_live(feed, len(want)))
    assert rej.total == 0
    assert {(d.uas_id, d.lat, d.lon) for d in got} == want


def test_plain_802_11_capture_is_relayed_as_radiotap() -> None:
    """A capture of link type 105 (no radiotap) gets a bare radiotap header on the way."""
    buf = io.BytesIO()
    w = dpkt.pcap.Writer(buf, linktype=105)
    for t, _link, frame in pcap.iter_capture(ALESSA):
        dot11 = pcap.radiotap_payload(frame)
        assert dot11 is not None
        w.writepkt(dot11, ts=t)
    from skywarden.cli.relay import relay

    async def feed(port: int) -> None:
        counts = relay(io.BytesIO(buf.getvalue()), "127.0.0.1", port)
        assert counts == {"frames read": 10, "frames relayed": 10}

    got, rej = asyncio.run(_live(feed, 1))
    assert rej.total == 0
    assert {d.uas_id for d in got} == {"dji:K6RE0WENAH9P8QAL"}
    flight = droneid.decode_element(next(droneid.find_elements(dot11))[1])
    assert isinstance(flight, droneid.DjiFlight)
    assert (got[0].lat, got[0].lon) == (flight.lat, flight.lon)


def test_input_that_is_not_a_capture_is_refused() -> None:
    res = subprocess.run(
        [str(EXE), "relay-wifi", "--to", "127.0.0.1:9"], input=b"not a capture at all",
        capture_output=True, check=False,
    )  # fmt: skip
    assert res.returncode == 1
    assert b"not a pcap or pcapng capture" in res.stderr
    bad = subprocess.run(
        [str(EXE), "relay-wifi", "--to", "127.0.0.1"], input=b"", capture_output=True, check=False
    )
    assert bad.returncode == 2 and b"HOST:PORT" in bad.stderr


@pytest.mark.parametrize("ng", [False, True])
def test_a_damaged_length_in_the_stream_is_refused_not_buffered(ng: bool) -> None:
    """A record (pcap) or block (pcapng) claiming 2 GB ends the stream with a reason."""
    cap = (ALESSA if ng else ODID_BEACONS).read_bytes()
    if ng:  # section header and interface description blocks, then a packet block's head
        shb = int.from_bytes(cap[4:8], "little")
        idb = int.from_bytes(cap[shb + 4 : shb + 8], "little")
        data = cap[: shb + idb] + (6).to_bytes(4, "little") + (0x7FFFFFF0).to_bytes(4, "little")
    else:  # global header, then a record header: seconds, fraction, lengths
        data = cap[:24] + (0).to_bytes(8, "little") + (0x7FFFFFFF).to_bytes(4, "little") * 2
    with pytest.raises(ValueError, match="over 1048576"):
        list(pcap.iter_stream(io.BytesIO(data)))
