"""The alarm in a real browser (Debian's Chromium): tones per level, title flash,
notification in the background, silence on acknowledgement, mute per operator, and
an unacknowledged alert that escalates and rings again."""

from __future__ import annotations

import pytest

from skywarden.sinks.base import ScanOutput
from skywarden.sinks.config import EscalationConfig
from skywarden.sinks.escalation import Escalator
from skywarden.web import WebConfig, create_app

from .webhelpers import (
    T0,
    alert,
    launch_chromium,
    loopback_only,
    moving_scans,
    require_browser,
    serving,
)

pytestmark = [pytest.mark.slow]

# Records what the page asks of Web Audio and of the Notification API, and lets the
# test put the page "in the background" (document.visibilityState).
INSTRUMENT = """
window.__audio = [];
const create = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  const osc = create.call(this);
  const start = osc.start.bind(osc);
  osc.start = (...args) => {
    window.__audio.push({ f: osc.frequency.value, type: osc.type });
    return start(...args);
  };
  return osc;
};
window.__notes = [];
const Native = window.Notification;
class Recorded extends Native {
  constructor(title, options) {
    window.__notes.push({ title, body: options && options.body, tag: options && options.tag });
    super(title, options);
  }
}
Object.defineProperty(Recorded, "permission", { get: () => Native.permission });
Recorded.requestPermission = (...a) => Native.requestPermission(...a);
window.Notification = Recorded;
window.__hidden = false;
Object.defineProperty(Document.prototype, "visibilityState", {
  configurable: true,
  get() { return window.__hidden ? "hidden" : "visible"; },
});
"""


@pytest.fixture
def server(live, store):
    with serving(create_app(live, store, WebConfig())) as url:
        yield url


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def wait_true(page, expr: str, timeout_s: float = 10.0) -> None:
    """Poll ``expr`` in the page until it is true (wait_for_function needs 'unsafe-eval',
    which the page's Content-Security-Policy rightly refuses)."""
    for _ in range(int(timeout_s / 0.05)):
        if page.evaluate(expr):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"never true: {expr}")


def _tones(page) -> list[float]:
    return page.evaluate("window.__audio.map((x) => x.f)")


def test_alarm_rings_notifies_stops_on_ack_mutes_and_escalates(server, live, store, tokens):
    playwright = require_browser()
    clock = Clock(1_800_000_000.0)
    esc = Escalator(
        EscalationConfig(after_s={"warning": 30.0}), [], store=store, live=live, clock=clock
    )

    def push(out: ScanOutput) -> None:
        live.apply(out)
        store.write_scan(out)
        esc.offer(out)

    with playwright.sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            context = browser.new_context(
                viewport={"width": 1400, "height": 850}, permissions=["notifications"]
            )
            context.add_init_script(INSTRUMENT)
            page = context.new_page()
            loopback_only(page, [])
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server)
            base_title = page.title()
            page.wait_for_selector("#login:not([hidden])")
            page.fill("#login-token", tokens["operator"])
            page.click("#login button[type=submit]")  # a user gesture: audio may start
            page.wait_for_selector("#conn.up")
            scans = moving_scans(3, t0=T0)
            for s in scans:
                push(s)

            # A critical alert while the page is in the background.
            page.evaluate("window.__hidden = true")
            push(ScanOutput(t_s=T0 + 3, tracks=scans[-1].tracks, alerts=(alert("A1", T0 + 3),)))
            page.wait_for_selector("body[data-alarm='critical']")
            wait_true(page, "window.__audio.filter((x) => x.f === 988).length >= 2")
            wait_true(page, "document.title.includes('CRITICAL alert')")
            notes = page.evaluate("window.__notes")
            assert [n["title"] for n in notes] == ["skywarden: critical alert"]
            assert notes[0]["tag"] == "skywarden-A1" and "ZA" in notes[0]["body"]
            # It repeats until acknowledged.
            n0 = len(_tones(page))
            wait_true(page, f"window.__audio.length > {n0}")

            # Acknowledging silences it and stops the title flashing.
            page.evaluate("window.__hidden = false")
            page.click("li[data-alert='A1'] .ack")
            page.wait_for_selector("body[data-alarm='off']")
            n1 = len(_tones(page))
            page.wait_for_timeout(2500)  # longer than the critical repeat period
            assert len(_tones(page)) == n1
            assert page.title() == base_title

            # A warning has a tone of its own; in the foreground, no notification.
            push(ScanOutput(t_s=T0 + 4, tracks=(), alerts=(alert("A2", T0 + 4, level="warning"),)))
            page.wait_for_selector("body[data-alarm='warning']")
            wait_true(page, "window.__audio.some((x) => x.f === 660)")
            assert len(page.evaluate("window.__notes")) == 1

            # Mute (this operator, this browser): no tones, still flagged; kept over a reload.
            page.click("#mute")
            page.wait_for_selector("#mute[aria-pressed='true']:has-text('Unmute')")
            n2 = len(_tones(page))
            page.wait_for_timeout(4500)  # longer than the warning repeat period
            assert len(_tones(page)) == n2
            page.reload()
            page.wait_for_selector("#conn.up")
            page.wait_for_selector("#mute[aria-pressed='true']")
            page.wait_for_selector("body[data-alarm='warning']")
            page.click("#mute")
            page.wait_for_selector("#mute[aria-pressed='false']")

            # Not acknowledged within 30 s: escalated, badged, ringing as critical again.
            page.evaluate("window.__hidden = true")
            clock.t += 31.0
            (e,) = esc.check(clock.t)
            assert e.alert_id == "A2"
            badge = page.wait_for_selector("li[data-alert='A2'] .escalated")
            assert badge.inner_text() == "ESCALATED"
            page.wait_for_selector("body[data-alarm='critical']")
            wait_true(
                page,
                "window.__notes.some((n) => n.title === 'skywarden: escalated, not acknowledged')",
            )
            assert [x.alert_id for x in store.escalations()] == ["A2"]
            assert errors == []
        finally:
            browser.close()
