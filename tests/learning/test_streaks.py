"""Streaks count local days, right across DST switches and timezone changes."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.helpers.clients import signed_in


def local(tz: str, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def complete_at(learner, moment: datetime, lesson: str, track: str = "basics"):
    with time_machine.travel(moment, tick=False):
        response = learner.complete(track, lesson)
    assert response.status_code == 200, response.get_json()


def streak_at(learner, moment: datetime) -> dict:
    with time_machine.travel(moment, tick=False):
        return learner.get("/api/v1/me").get_json()["streak"]


@pytest.mark.parametrize("tz,days", [
    # Spring forward: 2026-03-08 02:00 -> 03:00 in New York; the local day is 23 hours long.
    ("America/New_York", ["2026-03-07T23:30", "2026-03-08T23:30", "2026-03-09T00:10"]),
    # Fall back: 2026-11-01 has 25 hours.
    ("America/New_York", ["2026-10-31T23:50", "2026-11-01T23:50", "2026-11-02T00:05"]),
    # Lord Howe moves by 30 minutes: 2026-10-04 02:00 -> 02:30, and back 2026-04-05 02:00 -> 01:30.
    ("Australia/Lord_Howe", ["2026-10-03T23:45", "2026-10-04T23:45", "2026-10-05T00:15"]),
    ("Australia/Lord_Howe", ["2026-04-04T23:45", "2026-04-05T23:45", "2026-04-06T00:15"]),
])
def test_three_consecutive_local_days_across_dst(app, catalog, tz, days):
    learner = signed_in(app, bearer=True, timezone=tz)
    with time_machine.travel(local(tz, days[0]), tick=False):
        learner.enroll("basics")
        learner.enroll("advanced")
    for moment, lesson in zip(days, ["intro", "numbers", "plots"]):
        complete_at(learner, local(tz, moment), lesson)
    # Still alive all through the next local day, whatever its length.
    last = local(tz, days[-1])
    assert streak_at(learner, last.replace(hour=23, minute=59)) == {"current_days": 3, "longest_days": 3}
    next_day = local(tz, days[-1][:10] + "T12:00")
    next_day = next_day.replace(day=next_day.day + 1)
    assert streak_at(learner, next_day)["current_days"] == 3
    # A whole missed local day ends the current run but not the record.
    two_later = next_day.replace(day=next_day.day + 1)
    assert streak_at(learner, two_later) == {"current_days": 0, "longest_days": 3}


def test_two_completions_on_one_local_day_count_once(app, catalog):
    tz = "Asia/Kolkata"
    learner = signed_in(app, bearer=True, timezone=tz)
    learner.enroll("basics")
    # 00:30 and 23:30 local are the same day in Kolkata but different days in UTC.
    complete_at(learner, local(tz, "2026-05-10T00:30"), "intro")
    complete_at(learner, local(tz, "2026-05-10T23:30"), "numbers")
    assert streak_at(learner, local(tz, "2026-05-10T23:59")) == {"current_days": 1, "longest_days": 1}


def test_changing_timezone_keeps_the_days_already_earned(app, catalog):
    learner = signed_in(app, bearer=True, timezone="America/New_York")
    learner.enroll("basics")
    learner.enroll("advanced")
    ny = "America/New_York"
    # Late evenings in New York: in Tokyo these would be the following mornings.
    complete_at(learner, local(ny, "2026-06-01T22:00"), "intro")
    complete_at(learner, local(ny, "2026-06-02T22:00"), "numbers")
    with time_machine.travel(local(ny, "2026-06-02T22:30"), tick=False):
        assert learner.patch("/api/v1/me", json={"timezone": "Asia/Tokyo"}).status_code == 200
    tokyo = "Asia/Tokyo"
    # 2026-06-03 evening in Tokyo is the next local day after the last one earned (06-02).
    complete_at(learner, local(tokyo, "2026-06-03T20:00"), "plots")
    assert streak_at(learner, local(tokyo, "2026-06-03T21:00")) == {"current_days": 3, "longest_days": 3}
