from datetime import date

import pytest

from models.calendar import BusinessCalendar, UnknownCalendar, calendar_for
from models.dates import DateExprError, parse_date_expr, parse_duration

RU = calendar_for("RU")


def test_weekends_and_russian_holidays_are_not_business_days():
    assert not RU.is_business_day(date(2014, 11, 1))  # Saturday
    assert not RU.is_business_day(date(2014, 11, 4))  # Unity Day
    assert not RU.is_business_day(date(2014, 11, 3))  # day off transferred from 23 February
    assert not RU.is_business_day(date(2014, 5, 2))  # day off transferred from 4 January
    assert RU.is_business_day(date(2014, 11, 5))


def test_adding_business_days_skips_weekend_and_holidays():
    assert RU.add(date(2014, 10, 31), 1) == date(2014, 11, 5)
    assert RU.add(date(2014, 11, 5), -1) == date(2014, 10, 31)
    assert RU.add(date(2014, 11, 15), 1) == date(2014, 11, 17)  # from a Saturday
    assert RU.add(date(2014, 11, 15), -1) == date(2014, 11, 14)
    assert RU.add(date(2014, 11, 17), 0) == date(2014, 11, 17)


def test_a_five_day_task_starting_on_tuesday_is_due_the_following_monday():
    assert RU.span_end(date(2014, 11, 18), 5) == date(2014, 11, 24)
    assert RU.span_end(date(2014, 11, 18), 1) == date(2014, 11, 18)


def test_business_days_between_counts_lateness():
    assert RU.between(date(2014, 10, 31), date(2014, 11, 5)) == 1
    assert RU.between(date(2014, 11, 14), date(2014, 11, 16)) == 0  # only a weekend passed
    assert RU.between(date(2014, 11, 17), date(2014, 11, 14)) == -1
    assert RU.count(date(2014, 11, 17), date(2014, 11, 21)) == 5


def test_calendar_grows_to_far_years():
    cal = BusinessCalendar("RU")
    assert cal.add(date(2030, 1, 1), 1) == date(2030, 1, 9)
    assert cal.add(date(1999, 3, 1), -1) == date(1999, 2, 26)
    assert cal.add(date(2014, 11, 5), 2000) > date(2022, 1, 1)


def test_a_day_many_business_days_away_does_not_depend_on_what_was_computed_before():
    """Growing the calendar's years forward used to add a year at the front too, so the
    index being walked pointed a year early: 1,000 business days came out 2017-11-21.
    (Counting the working Saturdays: three from 2014 to 2018, eight from 2010 to 2014.)"""
    far = BusinessCalendar("RU")
    far.roll_forward(date(2030, 1, 1))
    for cal in (BusinessCalendar("RU"), far):
        assert cal.span_end(date(2014, 10, 28), 1000) == date(2018, 11, 14)
    for cal in (BusinessCalendar("RU"), far):
        assert cal.add(date(2014, 10, 28), -1000) == date(2010, 10, 19)


def test_unknown_calendar_is_refused():
    with pytest.raises(UnknownCalendar):
        BusinessCalendar("XX")


@pytest.mark.parametrize(
    "text, anchor, offsets",
    [
        ("session + 30bd", "session", ((30, "bd"),)),
        ("stage.launch.end - 5bd", "stage.launch.end", ((-5, "bd"),)),
        ("task.t12 + 2w", "task.t12.due", ((2, "w"),)),
        ("task.t-1.start + 1d - 2bd", "task.t-1.start", ((1, "d"), (-2, "bd"))),
        ("2014-12-01", "2014-12-01", ()),
    ],
)
def test_date_expressions_parse(text, anchor, offsets):
    expr = parse_date_expr(text)
    assert str(expr.anchor) == anchor
    assert expr.offsets == offsets


@pytest.mark.parametrize("text", ["tomorrow", "session + 5x", "session 5bd", "2014-13-01", "task.", ""])
def test_bad_date_expressions_say_why(text):
    with pytest.raises(DateExprError):
        parse_date_expr(text)


def test_expression_evaluates_in_business_days():
    expr = parse_date_expr("session + 1bd")
    assert expr.evaluate(lambda a: date(2014, 10, 31), RU) == date(2014, 11, 5)


@pytest.mark.parametrize("value, days", [(5, 5), ("5bd", 5), (" 3 ", 3)])
def test_durations(value, days):
    assert parse_duration(value) == days


@pytest.mark.parametrize("value", [0, -1, "5d", True, 2.5])
def test_bad_durations(value):
    with pytest.raises(DateExprError):
        parse_duration(value)
