"""The web app: one page per task for the people who get reminders, one roadmap page for
the project office and managers. Server-rendered HTML, no JavaScript, readable on a phone.

Routes:
  GET  /roadmaps/{roadmap}/tasks/{task}?token=T[&action=done]   the task page (signed link)
  POST /roadmaps/{roadmap}/tasks/{task}                         one action; 303 back to the page
  GET  /roadmaps/{roadmap}[?token=O]                            the roadmap page (office)
  GET  /roadmaps/{roadmap}/report.docx[?token=O]                the latest weekly report
  GET  /healthz                                                 "ok"

Security, in the order a request meets it:
1. Task pages: the link's token (``models/tokens.py``) must be genuine, unexpired, for this
   roadmap and task, and its person still entitled (``may_update``); else 403 and a page
   that says why. Nothing else is reachable with it.
2. POST forms carry a CSRF token: HMAC of a random per-browser nonce (cookie ``rm_csrf``,
   HttpOnly, SameSite=Strict) and the link's token; a POST whose form and cookie do not
   match is refused with 403 before anything is read from the form.
3. Roadmap page: HTTP basic auth with ROADMAP_WEB_PASSWORD, or a signed office link
   (``roadmap web-link``); without either, 401.
4. Every page, a refusal too, is in the roadmap's language (``web/strings.py``): a refusal
   names a message key, and the language is looked up from the roadmap key in the URL
   (English for a key that names no roadmap).
5. Every page is autoescaped Jinja; a Content-Security-Policy forbids scripts outright,
   and pages are neither cached nor framed, and send no Referer (the URL holds a token).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, quote, urlencode
from zoneinfo import ZoneInfo

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import SecretStr
from sqlalchemy import select

from config import TEMPLATES_DIR, Settings, get_settings
from models.db import session_scope, upgrade
from models.errors import UserError
from models.i18n import install_gettext
from models.schema import Partner, Person, Roadmap, Task
from models.tokens import OFFICE, TokenError, may_update, verify_office_token, verify_task_token
from web.actions import ACTIONS, FormError, apply_action
from web.pages import roadmap_page, task_page
from web.strings import STRINGS, history_line, strings, text

CSRF_COOKIE = "rm_csrf"
MAX_FORM_BYTES = 64 * 1024  # the longest form is two fields of 2,000 characters and a token
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class WebSettings(Settings):
    """The web app's own settings on top of the shared ones (same ROADMAP_ prefix)."""

    web_password: SecretStr | None = None  # basic auth for the roadmap page; any user name
    web_user: str = "office"  # shown in the browser's prompt only


class Refused(Exception):
    """A request the app turns down: the HTTP status, the keys of the page's title (``t_*``)
    and message in ``web/strings.py``, and the message's values."""

    def __init__(self, status: int, title: str, message: str, **params: Any):
        super().__init__(text("en", message, **params))
        self.status, self.title, self.message, self.params = status, title, message, params


def token_refused(exc: TokenError) -> Refused:
    """Why a link does not work, in words the page can translate (a code without words
    here reads as "not valid")."""
    key = f"tok_{exc.code}"
    return Refused(403, "t_link", key if key in STRINGS["en"] else "tok_invalid", **exc.params)


@lru_cache(maxsize=1)
def web_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # every web template is HTML; user text never reaches a page raw
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return install_gettext(env)


def _secret(settings: Settings) -> str:
    raw = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if not raw:
        raise RuntimeError("ROADMAP_SECRET_KEY is not set: the web app refuses to start without it")
    return raw


def create_app(
    db_url: str | None = None,
    settings: Settings | None = None,
    *,
    clock: Callable[[], dt.datetime] | None = None,
) -> FastAPI:
    """The app for one database. ``clock`` (aware datetimes) is for tests: it decides link
    expiry and "today"; by default the real time."""
    settings = settings or WebSettings()
    secret = _secret(settings)
    url = db_url or settings.database_url
    now = clock or (lambda: dt.datetime.now(dt.timezone.utc))
    password = getattr(settings, "web_password", None)
    secure_cookie = settings.public_url.startswith("https://")
    upgrade(url)  # once here, so requests need not check the schema
    app = FastAPI(title="Roadmap Office", docs_url=None, redoc_url=None, openapi_url=None)

    def today(roadmap: Roadmap) -> dt.date:
        return now().astimezone(ZoneInfo(roadmap.timezone)).date()

    def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("lang", "en")
        html = web_environment().get_template(f"web/{name}.html.j2").render(s=strings(context["lang"]), **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def language_of(roadmap_key: str) -> str:
        """The language of the roadmap a URL names, for a page about a refused request
        (which may come before anything else was read); English if there is no such roadmap."""
        with session_scope(url, migrate=False) as session:
            lang = session.scalar(select(Roadmap.language).where(Roadmap.key == roadmap_key))
        return lang if lang in STRINGS else "en"

    def refused(exc: Refused, roadmap_key: str, headers: dict[str, str] | None = None) -> HTMLResponse:
        lang = language_of(roadmap_key)
        resp = render("error", exc.status, title=strings(lang)[exc.title],
                      message=text(lang, exc.message, **exc.params), lang=lang)
        resp.headers.update(headers or {})
        return resp

    def csrf_for(nonce: str, token: str) -> str:
        mac = hmac.new(secret.encode(), f"csrf|{nonce}|{token}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def find(session: Any, roadmap_key: str, task_key: str | None = None) -> tuple[Roadmap, Task | None]:
        roadmap = session.scalar(select(Roadmap).where(Roadmap.key == roadmap_key))
        if roadmap is None:
            raise Refused(404, "t_not_found", "ref_no_roadmap")
        if task_key is None:
            return roadmap, None
        task = session.scalar(select(Task).where(Task.roadmap_id == roadmap.id, Task.key == task_key))
        return roadmap, task

    def authorise_task(session: Any, roadmap_key: str, task_key: str, token: str) -> tuple[Roadmap, Task, str, dict]:
        """The roadmap, task, person key and people when the link may act on this task."""
        try:
            claims = verify_task_token(secret, token, roadmap=roadmap_key, task=task_key, now=now())
        except TokenError as exc:
            raise token_refused(exc) from None
        except ValueError:
            raise Refused(403, "t_link", "tok_invalid") from None
        roadmap, task = find(session, roadmap_key, task_key)
        if task is None or task.archived:
            raise Refused(403, "t_link", "ref_task_gone")
        people = {p.key: p for p in session.scalars(select(Person).where(Person.roadmap_id == roadmap.id))}
        partners = {p.key: p for p in session.scalars(select(Partner).where(Partner.roadmap_id == roadmap.id))}
        if not may_update(task, claims.person, people, partners, today(roadmap)):
            raise Refused(403, "t_link", "ref_not_responsible")
        return roadmap, task, claims.person, people

    def actor_of(roadmap: Roadmap, person_key: str, people: dict[str, Person]) -> str:
        if person_key == OFFICE:
            return f"{roadmap.office_name} <{roadmap.office_email}>"
        p = people[person_key]
        return f"{p.name} <{p.email}>"

    def show_task(roadmap: Roadmap, task: Task, person_key: str, token: str, session: Any, nonce: str,
                  *, status: int = 200, error: Exception | None = None, focus: str | None = None,
                  saved: str | None = None, moved: int = 0, form: dict[str, str] | None = None) -> HTMLResponse:
        page = task_page(session, roadmap, task, person_key, today(roadmap))
        lang = roadmap.language if roadmap.language in STRINGS else "en"
        names = {p.key: p.name for p in page.people}
        if page.person is not None:
            names[page.person.key] = page.person.name
        if page.owner is not None:
            names[page.owner.key] = page.owner.name
        lines = [history_line(c, lang, names) for c in page.history]
        if isinstance(error, FormError):
            error = text(lang, error.key, **error.params)
        elif error is not None:  # a check of update_task's own, in its words
            error = text(lang, "err_not_saved", detail=str(error))
        resp = render("task", status, page=page, history=lines, token=token, csrf=csrf_for(nonce, token), error=error,
                      focus=focus if focus in ACTIONS else None, saved=saved if saved in ACTIONS else None,
                      moved=moved, form=form or {}, lang=lang,
                      post_url=f"/roadmaps/{quote(roadmap.key, safe='')}/tasks/{quote(task.key, safe='')}")
        return resp

    def set_nonce(resp: Response, nonce: str) -> None:
        resp.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="strict", secure=secure_cookie,
                        path="/roadmaps/", max_age=7 * 24 * 3600)

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    @app.get("/roadmaps/{roadmap_key}/tasks/{task_key}")
    def get_task(request: Request, roadmap_key: str, task_key: str, token: str = "", action: str | None = None,
                 saved: str | None = None, moved: int = 0) -> Response:
        nonce = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        try:
            with session_scope(url, migrate=False) as session:
                roadmap, task, person_key, _ = authorise_task(session, roadmap_key, task_key, token)
                resp = show_task(roadmap, task, person_key, token, session, nonce, focus=action, saved=saved,
                                 moved=moved)
        except Refused as exc:
            return refused(exc, roadmap_key)
        set_nonce(resp, nonce)
        return resp

    @app.post("/roadmaps/{roadmap_key}/tasks/{task_key}")
    async def post_task(request: Request, roadmap_key: str, task_key: str) -> Response:
        raw = await request.body()
        if len(raw) > MAX_FORM_BYTES:
            return refused(Refused(413, "t_too_long", "ref_too_long"), roadmap_key)
        body = raw.decode("utf-8", errors="replace")
        form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        token = form.get("token", "")
        nonce = request.cookies.get(CSRF_COOKIE, "")
        if not nonce or not hmac.compare_digest(csrf_for(nonce, token), form.get("csrf", "")):
            return refused(Refused(403, "t_csrf", "ref_csrf"), roadmap_key)
        return await _run_sync(lambda: _post(roadmap_key, task_key, token, form, nonce))

    def _post(roadmap_key: str, task_key: str, token: str, form: dict[str, str], nonce: str) -> Response:
        try:
            with session_scope(url, migrate=False) as session:
                roadmap, task, person_key, people = authorise_task(session, roadmap_key, task_key, token)
                try:
                    outcome = apply_action(session, roadmap, task, form, today=today(roadmap),
                                           actor=actor_of(roadmap, person_key, people),
                                           person=people.get(person_key), people=people)
                except UserError as exc:
                    session.rollback()  # the checks come before any change; this is a safety net
                    return show_task(roadmap, task, person_key, token, session, nonce, status=400, error=exc,
                                     focus=form.get("action"), form=form)
        except Refused as exc:
            return refused(exc, roadmap_key)
        query = urlencode({"token": token, "saved": outcome.action, "moved": len(outcome.moved)})
        target = f"/roadmaps/{quote(roadmap_key, safe='')}/tasks/{quote(task_key, safe='')}?{query}"
        return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)

    def authorise_office(request: Request, roadmap_key: str, token: str) -> None:
        if token:
            try:
                verify_office_token(secret, token, roadmap=roadmap_key, now=now())
                return
            except TokenError as exc:
                raise token_refused(exc) from None
            except ValueError:
                raise Refused(403, "t_link", "tok_invalid") from None
        if password is not None and password.get_secret_value():
            given = _basic_password(request.headers.get("authorization", ""))
            if given is not None and hmac.compare_digest(given.encode(), password.get_secret_value().encode()):
                return
        raise Refused(401, "t_sign_in", "ref_sign_in")

    def office_headers() -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="Roadmap Office", charset="UTF-8"'}

    @app.get("/roadmaps/{roadmap_key}")
    def get_roadmap(request: Request, roadmap_key: str, token: str = "") -> Response:
        try:
            authorise_office(request, roadmap_key, token)
            with session_scope(url, migrate=False) as session:
                roadmap, _ = find(session, roadmap_key)
                page = roadmap_page(session, roadmap, today(roadmap), settings.reports_dir)
                lang = roadmap.language if roadmap.language in STRINGS else "en"
                suffix = f"?{urlencode({'token': token})}" if token else ""
                return render("roadmap", page=page, lang=lang,
                              report_url=f"/roadmaps/{quote(roadmap.key, safe='')}/report.docx{suffix}")
        except Refused as exc:
            return refused(exc, roadmap_key, headers=office_headers() if exc.status == 401 else None)

    @app.get("/roadmaps/{roadmap_key}/report.docx")
    def get_report(request: Request, roadmap_key: str, token: str = "") -> Response:
        from web.pages import latest_report

        try:
            authorise_office(request, roadmap_key, token)
            with session_scope(url, migrate=False) as session:
                find(session, roadmap_key)
            path = latest_report(settings.reports_dir, roadmap_key)
            if path is None:
                raise Refused(404, "t_no_report", "ref_no_report")
        except Refused as exc:
            return refused(exc, roadmap_key, headers=office_headers() if exc.status == 401 else None)
        return FileResponse(path, filename=path.name, headers={"Cache-Control": "no-store"},
                            media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document")

    return app


async def _run_sync(func: Callable[[], Response]) -> Response:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(func)


def _basic_password(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2]


def app_from_environment() -> FastAPI:
    """For ``uvicorn web.app:app_from_environment --factory``."""
    return create_app(settings=WebSettings())


__all__ = ["create_app", "app_from_environment", "WebSettings", "get_settings"]
