"""Business days of a roadmap: the working days of its country (and region) by the
`holidays` package, with the roadmap's own extra days off and extra working days.

The one rule, ``BusinessCalendar.is_business_day``, is the package's ``is_working_day``:
weekdays that are not public holidays, plus the weekend days a country makes working days
(``weekend_workdays``: Saturday 20 February 2016 in Russia, when 22 February was taken off
in exchange). The package also knows the days off a country transfers (for Russia, e.g.
2 May 2014 moved from 4 January) and each country's weekend. On top of that a roadmap may
name its own days off (``extra_days_off``) and working days (``extra_working_days``).
Everything that counts business days (scheduling, reminders, escalations, days late, the
forecast, the daily cycle's "is anything sent today") asks one BusinessCalendar.

Dates are mapped to an index over business days, so adding business days or counting them
is a dictionary look-up and a subtraction, even for ten thousand tasks.
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib


class UnknownCalendar(ValueError):
    pass


class UnknownRegion(UnknownCalendar):
    pass


def countries() -> list[str]:
    """The ISO codes of the countries the `holidays` package knows."""
    return sorted(holidays_lib.list_supported_countries())


def country_named(name: str) -> str | None:
    """The ISO code of the country whose English name is (close to) ``name``: "Russia" -> "RU"."""
    from holidays.registry import COUNTRIES

    by_name = {names[0].lower(): names[1] for names in COUNTRIES.values()}
    close = difflib.get_close_matches(name.lower().replace(" ", ""), list(by_name), n=1)
    return by_name[close[0]] if close else None


def regions(country: str) -> list[str]:
    """The subdivisions (regions) of ``country`` the package knows, by code and by name."""
    cls = holidays_lib.country_holidays(country.upper(), years=2000).__class__
    return [*cls.subdivisions, *getattr(cls, "subdivisions_aliases", {})]


class BusinessCalendar:
    """Business-day arithmetic for one country (and region), with a roadmap's extra days.

    The index covers a window of years that grows on demand; every date inside the
    window maps to the position of the last business day on or before it.
    """

    def __init__(self, country: str = "RU", region: str | None = None,
                 extra_days_off: frozenset[date] = frozenset(),
                 extra_working_days: frozenset[date] = frozenset()) -> None:
        self.country = country.upper()
        self.region = region or None
        try:
            holidays_lib.country_holidays(self.country, years=2000)
        except (NotImplementedError, KeyError, AttributeError):
            raise UnknownCalendar(f"unknown calendar {country!r}") from None
        if self.region is not None and self.region not in regions(self.country):
            raise UnknownRegion(f"unknown region {region!r} of calendar {self.country}")
        self.extra_days_off = frozenset(extra_days_off)
        self.extra_working_days = frozenset(extra_working_days)
        self._first_year = self._last_year = 0
        self._days: list[date] = []
        self._business: set[date] = set()

    # -- the index -----------------------------------------------------------
    def _cover(self, d: date) -> None:
        if self._days and self._first_year <= d.year <= self._last_year:
            return
        # Grow only on the side of d: a year added before the first shifts every index, and
        # `_at` corrects its index for that only when it grows backwards.
        first = min(d.year - 1, self._first_year) if self._days else d.year - 1
        last = max(d.year + 2, self._last_year) if self._days else d.year + 2
        hol = holidays_lib.country_holidays(self.country, subdiv=self.region, years=range(first, last + 1))
        start = date(first, 1, 1)
        every_day = (start + timedelta(days=n) for n in range((date(last, 12, 31) - start).days + 1))
        self._days = [day for day in every_day if self._working(hol, day)]
        self._business = set(self._days)
        self._first_year, self._last_year = first, last

    def _working(self, hol: holidays_lib.HolidayBase, day: date) -> bool:
        # The roadmap's own days first (the loader refuses a day in both lists), then the
        # package's rule: a weekday not a holiday, or a weekend day made a working day.
        if day in self.extra_working_days:
            return True
        return day not in self.extra_days_off and hol.is_working_day(day)

    def is_business_day(self, d: date) -> bool:
        """Whether d is a working day: tasks are scheduled and counted on it, and mail is sent."""
        self._cover(d)
        return d in self._business

    def next_business_day(self, d: date) -> date:
        """The first business day after d."""
        return self.roll_forward(d + timedelta(days=1))

    def _index(self, d: date) -> int:
        """Position of d among business days; for a non-business day, of the next one."""
        self._cover(d)
        return bisect.bisect_left(self._days, d)

    def _at(self, index: int) -> date:
        while index < 0 or index >= len(self._days):
            edge = self._days[0] if index < 0 else self._days[-1]
            shift = -370 if index < 0 else 370
            before = len(self._days)
            self._cover(edge + timedelta(days=shift))
            if index < 0:
                index += len(self._days) - before
        return self._days[index]

    # -- the arithmetic ---------------------------------------------------------
    def roll_forward(self, d: date) -> date:
        """d itself when it is a business day, else the next business day."""
        return self._at(self._index(d))

    def add(self, d: date, n: int) -> date:
        """n business days after (or before, n < 0) d.

        From a non-business day, +1 is the next business day and -1 the previous one.
        """
        i = self._index(d)
        if n >= 0 and not (i < len(self._days) and self._days[i] == d):
            n -= 1  # i is already the next business day
        return self._at(i + n)

    def span_end(self, start: date, duration: int) -> date:
        """Due date of a task that takes `duration` business days, counting its start day."""
        return self._at(self._index(start) + max(duration, 1) - 1)

    def between(self, a: date, b: date) -> int:
        """Business days in (a, b]: how late a task due on a is on b (negative when early:
        minus the business days in (b, a], the same difference of positions)."""
        self._cover(a)
        self._cover(b)
        return bisect.bisect_right(self._days, b) - bisect.bisect_right(self._days, a)

    def positions(self, days: list[date]) -> list[int]:
        """Business-day positions of several dates on one scale (for slack arithmetic)."""
        if days:
            self._cover(min(days))
            self._cover(max(days))
        return [bisect.bisect_right(self._days, d) for d in days]

    def count(self, start: date, end: date) -> int:
        """Business days in [start, end], inclusive of both ends."""
        if end < start:
            return 0
        self._cover(start)
        self._cover(end)
        # (the business days up to end) - (those before start): between(start - 1 day, end)
        return bisect.bisect_right(self._days, end) - bisect.bisect_left(self._days, start)


@lru_cache(maxsize=16)
def calendar_for(country: str, region: str | None = None, extra_days_off: frozenset[date] = frozenset(),
                 extra_working_days: frozenset[date] = frozenset()) -> BusinessCalendar:
    """The (shared) calendar of a country, region and extra days; UnknownCalendar when the
    package does not know the country or its region."""
    return BusinessCalendar(country, region, extra_days_off, extra_working_days)


# The stored form of a roadmap's region and extra days (roadmaps.calendar_rules), beside its
# country (roadmaps.calendar): written at import, read back for every use of the calendar.
_EXTRA = ("extra_days_off", "extra_working_days")


def stored_rules(region: str | None, extra_days_off: Iterable[date],
                 extra_working_days: Iterable[date]) -> dict | None:
    """{"region": ..., "extra_days_off": [ISO dates], ...}, leaving out what is empty; None
    for none at all (as stored before there were rules)."""
    rules: dict[str, object] = {"region": region} if region else {}
    for name, days in zip(_EXTRA, (extra_days_off, extra_working_days), strict=True):
        if days := sorted(set(days)):
            rules[name] = [d.isoformat() for d in days]
    return rules or None


def stored_calendar(country: str, rules: dict | None) -> BusinessCalendar:
    """The calendar of a stored roadmap: its country and its ``stored_rules``."""
    rules = rules or {}
    days = [frozenset(date.fromisoformat(d) for d in rules.get(name, ())) for name in _EXTRA]
    return calendar_for(country, rules.get("region"), *days)


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` ("Europe/Moscow", "UTC"); ValueError for anything else,
    abbreviations included ("MSK", "EST" would be read as fixed offsets or not at all)."""
    try:
        if "/" not in name and name != "UTC":
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None
