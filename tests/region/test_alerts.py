"""Regional alerts when a site moves one of its alerts to another of its tracks."""

from __future__ import annotations

from pathlib import Path

from skywarden.region.schema import AlertsMsg

from .conftest import alert
from .test_prune import T0, apply, make, scan


def test_a_site_alert_moved_to_a_new_site_track_stays_one_regional_alert(
    tmp_path: Path,
) -> None:
    """The site's tracker re-acquires the drone as T2 (far from T1 in this toy, so a
    regional track of its own) and moves its alert a1 there, then clears it: the regional
    alert a1 joined is updated and cleared, no second one is raised, none stays open."""
    now = [T0]
    region = make(tmp_path, now)
    apply(
        region,
        scan(T0, "T1"),
        AlertsMsg(site="A", t=T0, alerts=[alert("a1", T0, "T1", "Z1")]),
        scan(T0 + 5, "T2"),
        AlertsMsg(site="A", t=T0 + 5, alerts=[alert("a1", T0 + 5, "T2", "Z1", "updated",
                                                    level="critical")]),
    )  # fmt: skip
    assert region.picture.rid_of("A", "T1") != region.picture.rid_of("A", "T2")
    region.store.close()
    # Across a restart too.
    again = make(tmp_path, now)
    apply(again, AlertsMsg(site="A", t=T0 + 9, alerts=[alert("a1", T0 + 9, "T2", "Z1", "cleared")]))
    events = again.store.events()
    assert [(e.id, e.state, e.level) for e in events] == [
        ("R-1", "raised", "warning"), ("R-1", "updated", "critical"),
        ("R-1", "cleared", "critical"),
    ]  # fmt: skip
    assert {e.track for e in events} == {f"R{again.picture.rid_of('A', 'T1')}"}
    assert again.book.open == {}
    again.store.close()
