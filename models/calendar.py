"""Business days of a roadmap: Monday to Friday minus the country's public holidays.

The holidays come from the `holidays` package, which already includes the days off
that a country transfers (for Russia, e.g. 2 May 2014 moved from 4 January). Dates are
mapped to an index over business days, so adding business days or counting them is a
dictionary look-up and a subtraction, even for ten thousand tasks.
"""

from __future__ import annotations

import bisect
from datetime import date, timedelta
from functools import lru_cache

import holidays as holidays_lib


class UnknownCalendar(ValueError):
    pass


class BusinessCalendar:
    """Business-day arithmetic for one country.

    The index covers a window of years that grows on demand; every date inside the
    window maps to the position of the last business day on or before it.
    """

    def __init__(self, country: str = "RU") -> None:
        self.country = country.upper()
        try:
            holidays_lib.country_holidays(self.country, years=2000)
        except (NotImplementedError, KeyError, AttributeError):
            raise UnknownCalendar(f"unknown calendar {country!r}") from None
        self._first_year = self._last_year = 0
        self._days: list[date] = []
        self._holidays: dict[date, str] = {}

    # -- the index -----------------------------------------------------------
    def _cover(self, d: date) -> None:
        if self._days and self._first_year <= d.year <= self._last_year:
            return
        # Grow only on the side of d: a year added before the first shifts every index, and
        # `_at` corrects its index for that only when it grows backwards.
        first = min(d.year - 1, self._first_year) if self._days else d.year - 1
        last = max(d.year + 2, self._last_year) if self._days else d.year + 2
        hol = holidays_lib.country_holidays(self.country, years=range(first, last + 1))
        self._holidays = dict(hol)
        start = date(first, 1, 1)
        every_day = (start + timedelta(days=n) for n in range((date(last, 12, 31) - start).days + 1))
        self._days = [day for day in every_day if day.weekday() < 5 and day not in self._holidays]
        self._first_year, self._last_year = first, last

    def is_business_day(self, d: date) -> bool:
        self._cover(d)
        return d.weekday() < 5 and d not in self._holidays

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
        """Business days in (a, b]: how late a task due on a is on b (negative when early)."""
        if b < a:
            return -self.between(b, a)
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
        return self.between(start - timedelta(days=1), end)


@lru_cache(maxsize=16)
def calendar_for(country: str) -> BusinessCalendar:
    return BusinessCalendar(country)
