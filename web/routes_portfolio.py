"""The portfolio page: every active roadmap on one page, for the project office.

  GET  /            leads to the portfolio (303)
  GET  /portfolio   one row per active roadmap (models/portfolio.py, the rows of `roadmap status`
                    without --roadmap), each linking to its roadmap page

The page shows every roadmap, so it opens with the office password only (basic auth with
ROADMAP_WEB_PASSWORD, throttled as on the roadmap page: ``web.deps.portfolio_access``); an
office link opens one roadmap and never this page, and without a password set it answers 401,
as the roadmap page does to a visitor without a link. Each row is on today in its roadmap's
timezone by the app's clock, as the roadmap page it links to. The page is in the language of
the active roadmaps when they share one, else in English (as a page whose URL names no roadmap).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.portfolio import portfolio, slip_text
from models.schema import Roadmap
from web.deps import Db, OfficePassword, Web, WebContext
from web.rendering import render

router = APIRouter()
SUMMARY = ("red", "amber", "green", "grey", "error")  # the order of the counts above the table, as the CLI's


@router.get("/")
def get_root() -> Response:
    return RedirectResponse("/portfolio", status_code=303)


@router.get("/portfolio", dependencies=[OfficePassword])
def get_portfolio(web: Web, session: Db) -> Response:
    page = portfolio_page(session, web)
    return render("portfolio", page=page, lang=page["lang"])


def portfolio_page(session: Session, web: WebContext) -> dict[str, Any]:
    """The ``page`` of templates/web/portfolio.html.j2: the portfolio's ``rows``, each with the
    ``url`` of its roadmap page and its ``slip`` written out; the ``counts`` of each colour (and
    of errors), the day of the rows when they share one (``as_of``, else None), how many
    roadmaps are ``archived`` (not listed), whether there is any roadmap at all (``stored``),
    and the page's ``lang``."""
    stored = dict(session.execute(select(Roadmap.archived, func.count()).group_by(Roadmap.archived)).all())
    rows = portfolio(session, None, today=web.today)["roadmaps"] if stored else []
    for row in rows:
        row["url"] = f"/roadmaps/{quote(row['key'], safe='')}"
        row["slip"] = slip_text(row["slip"])
    colours = [row["rag"] or "error" for row in rows]
    days = {row["as_of"] for row in rows}
    languages = {lang for archived, lang in session.execute(select(Roadmap.archived, Roadmap.language).distinct())
                 if not archived or not stored.get(False)}  # the active roadmaps', else all the archived ones'
    return dict(
        rows=rows, counts=[(c, colours.count(c)) for c in SUMMARY if c in colours],
        as_of=dt.date.fromisoformat(days.pop()) if len(days) == 1 else None,
        archived=stored.get(True, 0), stored=bool(stored),
        lang=languages.pop() if len(languages) == 1 else "en",
    )
