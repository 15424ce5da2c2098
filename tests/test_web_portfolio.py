"""The portfolio page (GET /portfolio) over HTTP, on SQLite and PostgreSQL: a row per active
roadmap equal to models/portfolio.py's, behind the office password only, archived roadmaps not
listed, a failing roadmap an error row, user text escaped, the language of the roadmaps.

Roadmaps are tests/data/small.yaml under other keys (tests/test_portfolio.add_roadmap); the
app's clock is tests/test_web's, Monday 10 Nov 2014, 12:00 in Moscow.
"""

from __future__ import annotations

import re
from datetime import date
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from models.db import session_scope
from models.i18n import rag_colour
from models.portfolio import portfolio
from models.schema import Roadmap
from models.tokens import expiry_for, sign_office_token
from tasks.roadmap_jobs import change_task
from tests.test_portfolio import add_roadmap, break_calendar
from tests.test_web import DAY, KEY, NOW, PASSWORD, make_client, web_env

OFFICE = ("office", PASSWORD)


@pytest.fixture
def url(db_url, tmp_path, monkeypatch):
    """Three roadmaps: moscow (one more task done), nyc (its own time zone and calendar), and
    done (archived)."""
    web_env(monkeypatch)
    add_roadmap(db_url, tmp_path, "moscow")
    add_roadmap(db_url, tmp_path, "nyc", timezone="America/New_York", calendar="US")
    add_roadmap(db_url, tmp_path, "done")
    change_task(db_url, "moscow", "c", status="done", on=date(2014, 11, 5), source="cli", actor="test")
    archive(db_url, "done")
    return db_url


def archive(db_url: str, key: str) -> None:
    with session_scope(db_url) as s:
        s.execute(update(Roadmap).where(Roadmap.key == key).values(archived=True))


def retitle(db_url: str, key: str, title: str) -> None:
    with session_scope(db_url) as s:
        s.execute(update(Roadmap).where(Roadmap.key == key).values(title=title))


def expected_rows(db_url: str) -> dict[str, dict]:
    """models/portfolio.py's rows on the app's clock (today in each roadmap's time zone)."""
    with session_scope(db_url) as s:
        doc = portfolio(s, None, today=lambda r: NOW.astimezone(ZoneInfo(r.timezone)).date())
    return {r["key"]: r for r in doc["roadmaps"]}


def table_rows(html: str) -> dict[str, list[str]]:
    """The table's rows by roadmap key: the text of each cell."""
    table = html.split("<table>")[1].split("</table>")[0]
    out = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]:
        cells = [unescape(re.sub(r"<[^>]+>", " ", c)).split() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        out[cells[0][-1]] = [" ".join(c) for c in cells]  # the key is the last word of the first cell
    return out


def test_the_page_lists_every_active_roadmap_with_the_portfolios_figures(url):
    r = make_client(url).get("/portfolio", auth=OFFICE)
    assert r.status_code == 200, r.text
    assert r.headers["content-security-policy"].startswith("default-src 'none'")  # as every page
    assert r.headers["cache-control"] == "no-store" and r.headers["referrer-policy"] == "no-referrer"
    rows, expected = table_rows(r.text), expected_rows(url)
    assert list(rows) == list(expected) == ["moscow", "nyc"]  # done is archived
    assert expected["moscow"]["done"] != expected["nyc"]["done"]  # the rows are told apart
    for key, row in expected.items():
        cells = rows[key]
        assert cells[1] == rag_colour(row["rag"], "ru")
        assert cells[2:4] == [f"{row['done']}/{row['tasks']}", str(row["overdue"])]
        assert cells[4].startswith(row["expected"]) and cells[5] == f"{row['slip']:+d}"
        assert cells[6].startswith(row["next_milestone"]["end"])
        assert cells[7].startswith(str(row["worst_risk"]["score"]))
        assert f'<a href="/roadmaps/{key}">' in r.text
    assert "1 архивная дорожная карта не показана." in r.text
    assert '<html lang="ru">' in r.text and "<h1>Портфель</h1>" in r.text
    assert "на 10 ноября 2014 г." in r.text  # the app's clock: 12:00 in Moscow, 04:00 in New York


def test_each_link_opens_the_roadmap_page_with_the_same_password(url):
    client = make_client(url)
    html = client.get("/portfolio", auth=OFFICE).text
    links = re.findall(r'<a href="([^"]+)">', html)
    assert links == ["/roadmaps/moscow", "/roadmaps/nyc"]
    for path in links:
        assert client.get(path, auth=OFFICE).status_code == 200


def test_the_roadmap_page_leads_back_to_the_portfolio_only_for_the_password(url):
    client = make_client(url)
    assert '<a href="/portfolio">Портфель</a>' in client.get("/roadmaps/moscow", auth=OFFICE).text
    office_link = sign_office_token(KEY, "moscow", expiry_for(DAY))  # it would not open the portfolio
    html = client.get(f"/roadmaps/moscow?token={office_link}").text
    assert "<h1>Small roadmap</h1>" in html and "/portfolio" not in html


def test_without_the_office_password_the_page_is_refused_and_shows_no_roadmap(url):
    client = make_client(url)
    office_link = sign_office_token(KEY, "moscow", expiry_for(DAY))
    for r in (client.get("/portfolio"), client.get("/portfolio", auth=("office", "wrong")),
              client.get(f"/portfolio?token={office_link}")):  # an office link opens its roadmap only
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic"), r.status_code
        assert "Open Workshop" not in r.text and "moscow" not in r.text and "nyc" not in r.text
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
        assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"


def test_without_a_password_set_the_page_is_refused_as_the_roadmap_page(url, monkeypatch):
    monkeypatch.delenv("ROADMAP_WEB_PASSWORD")
    from config import reset_settings_cache

    reset_settings_cache()
    client = make_client(url)
    assert client.get("/portfolio", auth=OFFICE).status_code == 401
    assert client.get("/roadmaps/moscow", auth=OFFICE).status_code == 401


def test_wrong_passwords_are_throttled_with_the_roadmap_pages(url):
    client = make_client(url)
    for _ in range(5):
        assert client.get("/portfolio", auth=("office", "guess")).status_code == 401
        assert client.get("/roadmaps/moscow", auth=("office", "guess")).status_code == 401
    r = client.get("/portfolio", auth=OFFICE)  # the right password too, once blocked
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "moscow" not in r.text


def test_the_site_root_leads_to_the_portfolio(url):
    r = make_client(url).get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/portfolio"


def test_a_hostile_title_is_inert(url):
    retitle(url, "nyc", '<script>alert("x")</script><img src=x onerror=alert(1)>')
    html = make_client(url).get("/portfolio", auth=OFFICE).text
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_roadmap_that_cannot_be_computed_is_an_error_row_and_the_others_are_shown(url):
    break_calendar(url, "nyc")
    r = make_client(url).get("/portfolio", auth=OFFICE)
    assert r.status_code == 200
    rows = table_rows(r.text)
    assert rows["nyc"][1] == "Ошибка" and rows["nyc"][2] == "UnknownCalendar: unknown calendar 'XX'"
    assert rows["moscow"][1] == rag_colour(expected_rows(url)["moscow"]["rag"], "ru")
    assert '<a href="/roadmaps/nyc">' not in r.text  # its roadmap page cannot be drawn either


def test_the_page_is_in_english_when_the_roadmaps_do_not_share_a_language(url, tmp_path):
    with session_scope(url) as s:
        s.execute(update(Roadmap).where(Roadmap.key == "nyc").values(language="en"))
    html = make_client(url).get("/portfolio", auth=OFFICE).text
    assert '<html lang="en">' in html and "<h1>Portfolio</h1>" in html and "1 archived roadmap is not listed." in html


def test_with_every_roadmap_archived_the_page_says_so(url):
    archive(url, "moscow")
    archive(url, "nyc")
    html = make_client(url).get("/portfolio", auth=OFFICE).text
    assert "<table>" not in html and "Активных дорожных карт нет: все в архиве." in html
    assert "3 архивные дорожные карты не показаны." in html


def test_with_no_roadmap_stored_the_page_says_so(db_url, monkeypatch):
    web_env(monkeypatch)
    r = make_client(db_url).get("/portfolio", auth=OFFICE)
    assert r.status_code == 200 and "No roadmap yet." in r.text and "<table>" not in r.text
