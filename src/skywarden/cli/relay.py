"""``skywarden relay-wifi --to HOST:PORT``: a Wi-Fi monitor interface's capture -> Remote ID input.

Live Wi-Fi Remote ID (Open Drone ID beacons and NAN frames, DJI DroneID beacons)
reaches ``serve`` as hex lines over UDP (``sources.remoteid`` with ``link:
radiotap``). This command is the receiver between a monitor-mode interface and
that input: it reads the capture that ``tcpdump -i wlan0mon -U -w -`` (or
``dumpcap -w -``) writes to its standard output, and sends every frame that
carries Open Drone ID or a DJI DroneID element as one datagram holding its hex.
Capturing needs the privileges; this command needs none and only reads.
"""

from __future__ import annotations

import socket
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from ..sources import droneid, pcap
from ._common import console, fail, print_json

#: A radiotap header with no fields: 802.11 frames (DLT 105) are sent as radiotap.
_BARE_RADIOTAP = bytes((0, 0, 8, 0, 0, 0, 0, 0))
#: Longest frame relayed: its hex must fit one UDP datagram with room to spare
#: (an 802.11 management frame is at most 2,304 bytes of body).
MAX_FRAME_BYTES = 8192


def _wanted(frame: bytes, link: str) -> bool:
    """Whether the frame carries Open Drone ID or a DJI DroneID element."""
    if pcap.extract(frame, link):
        return True
    dot11 = pcap.radiotap_payload(frame) if link == pcap.LINK_RADIOTAP else frame
    return dot11 is not None and next(droneid.find_elements(dot11), None) is not None


def _address(to: str) -> tuple[str, int]:
    host, sep, port = to.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        fail(f"--to must be HOST:PORT of the Remote ID UDP input, not {to!r}", 2)
    return host.strip("[]"), int(port)


def relay(fh: BinaryIO, host: str, port: int) -> Counter[str]:
    """Send the Remote ID frames of the capture stream ``fh`` to ``host:port``; the counts."""
    counts: Counter[str] = Counter()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as tx:
        tx.connect((host, port))
        try:
            for _t, link, frame in pcap.iter_stream(fh):
                counts["frames read"] += 1
                if link not in (pcap.LINK_RADIOTAP, pcap.LINK_IEEE80211):
                    raise ValueError(f"link type {link} is not 802.11: capture a Wi-Fi interface")
                if len(frame) > MAX_FRAME_BYTES:
                    counts["frames too long to relay"] += 1
                    continue
                if not _wanted(frame, link):
                    continue
                if link == pcap.LINK_IEEE80211:
                    frame = _BARE_RADIOTAP + frame
                try:
                    tx.send(frame.hex().encode() + b"\n")
                except OSError:  # the input is not up (yet): the next frame tries again
                    counts["frames not sent (input unreachable)"] += 1
                    continue
                counts["frames relayed"] += 1
        except pcap.CaptureTruncated:
            counts["capture ended part-way through a frame"] += 1
    return counts


def relay_wifi(
    to: Annotated[
        str, typer.Option("--to", help="HOST:PORT of the Remote ID UDP input (link: radiotap)")
    ],
    capture: Annotated[
        Path | None,
        typer.Option("--capture", help="a pcap/pcapng file instead of the standard input"),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the counts as JSON")] = False,
) -> None:
    """Relay Wi-Fi Remote ID and DJI DroneID frames from a monitor-mode capture to `serve`.

    Example: tcpdump -i wlan0mon -U -w - | skywarden relay-wifi --to 127.0.0.1:4012
    """
    host, port = _address(to)
    try:
        if capture is None:
            counts = relay(sys.stdin.buffer, host, port)
        else:
            with capture.open("rb") as fh:
                counts = relay(fh, host, port)
    except (OSError, ValueError) as e:
        fail(f"cannot relay: {e}")
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if json_out:
        print_json(dict(counts))
    else:
        for what, n in counts.most_common():
            console.print(f"{what}: {n}")
