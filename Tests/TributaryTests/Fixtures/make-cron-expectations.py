#!/usr/bin/env python3
"""Writes cron-expectations.json: the next times of cron schedules, computed once by references the
Swift code does not share. croniter (PyPI, 6.0.0) enumerates the wall-clock times that match
(on naive datetimes, where it has no time zone to get wrong); zoneinfo maps each to an instant by
the documented rule: a wall time the clocks skip runs at the end of the gap, a repeated one at its
first occurrence, and no instant runs twice. Run by hand: python3 make-cron-expectations.py
"""
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from croniter import croniter

CASES = [
    # (expression, time zone, start as local wall time, why)
    ("0 3 * * 1", "UTC", "2026-12-03T10:00", "weekly on Monday"),
    ("*/15 * * * *", "UTC", "2026-12-31T23:20", "steps across a year's end"),
    ("0 0 31 * *", "UTC", "2026-01-15T00:00", "the 31st skips shorter months"),
    ("0 12 29 2 *", "UTC", "2026-01-01T00:00", "29 February: leap years only"),
    ("0 0 1,15 * mon", "UTC", "2026-06-01T00:00", "day of month or day of week"),
    ("5 4 * * sun", "UTC", "2026-12-03T00:00", "weekday names"),
    ("0 22 * * 1-5", "UTC", "2026-12-03T23:00", "weekday ranges"),
    ("@monthly", "UTC", "2026-11-30T12:00", "nicknames"),
    ("30 8 * jan,jul *", "UTC", "2026-06-30T09:00", "month names"),
    ("0 */6 * * *", "UTC", "2026-02-28T13:00", "hour steps over a month's end"),
    ("59 23 31 12 *", "UTC", "2026-12-31T23:59", "once a year, from the very minute"),
    ("0 0 * * 7", "UTC", "2026-12-01T00:00", "7 is Sunday too"),
    ("30 2 * * *", "Europe/Berlin", "2026-03-27T12:00", "daily at a time the spring change skips"),
    ("30 2 * * *", "Europe/Berlin", "2026-10-23T12:00", "daily at a time the autumn change repeats"),
    ("0 * * * *", "Europe/Berlin", "2026-03-29T00:30", "hourly across the spring gap"),
    ("0 * * * *", "Europe/Berlin", "2026-10-25T00:30", "hourly across the repeated hour"),
    ("*/30 * * * *", "Europe/Berlin", "2026-03-29T01:10", "two times in the gap run once"),
    ("0 3 * * 1", "Europe/Berlin", "2026-03-20T00:00", "weekly across the spring change"),
    ("0 2 * * *", "America/New_York", "2026-03-07T12:00", "New York's spring gap"),
    ("15 1 * * *", "America/New_York", "2026-10-31T12:00", "New York's repeated 01:15"),
    ("0 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00", "a half-hour spring change"),
    ("30 1 * * *", "Australia/Lord_Howe", "2026-04-04T12:00", "a half-hour autumn change"),
    ("0 9 * * *", "Asia/Kolkata", "2026-12-03T00:00", "a half-hour offset without daylight saving"),
]
COUNT = 6


def instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant a naive wall time names in zone, by the rule above."""
    first = wall.replace(tzinfo=zone, fold=0)
    utc = first.astimezone(timezone.utc)
    if utc.astimezone(zone).replace(tzinfo=None) == wall:
        return utc  # it exists; fold=0 is its first occurrence
    # Skipped: fold=0 used the offset from before the change, which lands after it; walk back to it.
    moment = utc
    while (moment - timedelta(minutes=1)).astimezone(zone).utcoffset() == utc.astimezone(zone).utcoffset():
        moment -= timedelta(minutes=1)
    return moment


def main() -> None:
    cases = []
    for expression, zone_name, start_text, why in CASES:
        zone = ZoneInfo(zone_name)
        start_wall = datetime.fromisoformat(start_text)
        start = instant(start_wall, zone)
        wall_times = croniter(expression, start_wall)
        times, latest = [], start
        while len(times) < COUNT:
            moment = instant(wall_times.get_next(datetime), zone)
            if moment > latest:
                times.append(moment)
                latest = moment
        cases.append({
            "cron": expression, "timezone": zone_name, "why": why,
            "after": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "next": [moment.strftime("%Y-%m-%dT%H:%M:%SZ") for moment in times],
        })
    path = Path(__file__).with_name("cron-expectations.json")
    path.write_text(json.dumps(cases, indent=1) + "\n")


main()
