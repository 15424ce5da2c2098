"""The web app: one page per task for the people who get reminders, one roadmap page for
the project office and managers. Server-rendered HTML, no JavaScript, readable on a phone.

Routes (``web/routes_task.py``, ``web/routes_roadmap.py``):
  GET  /roadmaps/{roadmap}/tasks/{task}?token=T[&action=done]   the task page (signed link)
  POST /roadmaps/{roadmap}/tasks/{task}                         one action; 303 back to the page
  GET  /roadmaps/{roadmap}/risks/{risk}?token=T                 the risk page (signed link, owner or office)
  POST /roadmaps/{roadmap}/risks/{risk}                         one action; 303 back to the page
  GET  /roadmaps/{roadmap}[?token=O|V]                          the roadmap page (office; V: a person, read only)
  GET  /roadmaps/{roadmap}/report.docx[?token=O]                the latest weekly report
  GET  /calendar/{token}.ics                                    a person's calendar feed (signed, revocable)
  GET  /portfolio  (and / leads there)                          every active roadmap, a row each (office password)
  GET  /healthz                                                 "ok"

Security, in the order a request meets it:
1. Task pages: the link's token (``models/tokens.py``) must be genuine, unexpired, for this
   roadmap and task, and its person still entitled (``models.delegation.may_update``); else
   403 and a page that says why. Nothing else is reachable with it.
2. POST forms carry a CSRF token: HMAC of a random per-browser nonce (cookie ``rm_csrf``,
   HttpOnly, SameSite=Strict) and the link's token; a POST whose form and cookie do not
   match is refused with 403 before anything is read from the form.
3. Roadmap page: HTTP basic auth with ROADMAP_WEB_PASSWORD, or a signed office link
   (``roadmap web-link``); without either, 401. The roadmap link in a person's mail carries
   a read-only token (``view``): the same page without the report download.
   Risk pages: as task pages, for the risk's current owner or the office only. The portfolio
   shows every roadmap: basic auth only (no office link opens it), 401 without (``web/routes_portfolio.py``).
4. Every page, a refusal too, is in the roadmap's language (gettext, ``models/i18n.py``): a
   refusal (``web.security.Refused``, raised by any route or dependency) carries English
   message ids, said in the language of the roadmap the URL names (English for a key that
   names no roadmap). The portfolio is in the language its roadmaps share, else English.
5. Every page is autoescaped Jinja; a Content-Security-Policy forbids scripts outright,
   and pages are neither cached nor framed, and send no Referer (the URL holds a token):
   these headers go on every response, Starlette's own 404, 405, 422 and 500 too
   (``web.middleware.SecurityHeaders``, outside everything else: ``RoadmapApp``).
6. A request body longer than ROADMAP_WEB_MAX_BODY_BYTES is refused with 413 as it arrives,
   for every route (``web.middleware.BodyLimit``); wrong roadmap-page passwords are counted
   per client and in all, and past the limit refused with 429 (``web.throttle``).
7. Calendar feeds (``web/routes_calendar.py``): the token must be genuine and of the person's
   current generation (``roadmap calendar-link --revoke`` raises it); else 403, no data.
8. The app does not start without a ROADMAP_SECRET_KEY of at least 16 characters
   (``Settings.web_secret_key``), however it is started.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from starlette.types import ASGIApp, Scope

from config import Settings
from models.db import upgrade
from web import routes_calendar, routes_portfolio, routes_risk, routes_roadmap, routes_task
from web.deps import WebContext
from web.middleware import BodyLimit, SecurityHeaders
from web.rendering import render
from web.security import N_, SIGN_IN_HEADERS, Refused, say
from web.throttle import SignInThrottle


class RoadmapApp(FastAPI):
    """FastAPI with the body cap and the security headers around its whole stack: an
    ``add_middleware`` one sits inside Starlette's ``ServerErrorMiddleware``, whose 500 it
    never sees."""

    def build_middleware_stack(self) -> ASGIApp:
        web: WebContext = self.state.web
        return SecurityHeaders(BodyLimit(super().build_middleware_stack(), web.settings.web_max_body_bytes,
                                         too_large_page))


def create_app(
    db_url: str | None = None,
    settings: Settings | None = None,
    *,
    clock: Callable[[], dt.datetime] | None = None,
) -> FastAPI:
    """The app for one database. ``clock`` (aware datetimes) is for tests: it decides link
    expiry and "today"; by default the real time."""
    settings = settings or Settings()
    secret = settings.web_secret_key  # UserError when missing or too short
    url = db_url or settings.database_url
    upgrade(url)  # once here, so requests need not check the schema
    app = RoadmapApp(title="Roadmap Office", docs_url=None, redoc_url=None, openapi_url=None)
    throttle = SignInThrottle(per_client=settings.web_sign_in_failures_per_client,
                              total=settings.web_sign_in_failures_total, window=settings.web_sign_in_window_seconds)
    app.state.web = WebContext(settings, url, secret, clock or (lambda: dt.datetime.now(dt.UTC)), throttle)
    app.include_router(routes_task.router)
    app.include_router(routes_risk.router)
    app.include_router(routes_roadmap.router)
    app.include_router(routes_calendar.router)
    app.include_router(routes_portfolio.router)
    app.add_exception_handler(Refused, refused_page)  # type: ignore[arg-type]

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    return app


def refused_page(request: Request, exc: Refused) -> HTMLResponse:
    """The page of a refused request, in the language of the roadmap its URL names."""
    web: WebContext = request.app.state.web
    lang = web.language_of(request.path_params.get("roadmap_key") or roadmap_key_in(request.url.path))
    resp = render("error", exc.status, title=say(lang, exc.title), message=say(lang, exc.message, **exc.params),
                  lang=lang)
    if exc.status == 401:
        resp.headers.update(SIGN_IN_HEADERS)
    resp.headers.update(exc.headers)
    return resp


def too_large_page(scope: Scope) -> HTMLResponse:
    """The 413 of ``BodyLimit``, which answers before any route has matched."""
    return refused_page(Request(scope), Refused(413, N_("Too long"), N_("The text is too long. Nothing was changed.")))


def roadmap_key_in(path: str) -> str:
    """The roadmap a path names, for a refusal made before routing; "" if none."""
    found = re.match(r"/roadmaps/([^/]+)", path)
    return found.group(1) if found else ""


def app_from_environment() -> FastAPI:
    """For ``uvicorn web.app:app_from_environment --factory``."""
    return create_app(settings=Settings())

