"""The FastAPI dependencies of the routes: the app's settings and clock, a database session,
and who the request acts as (a task or risk link, a person's read-only link, or the project office).

``create_app`` puts one ``WebContext`` on ``app.state``; every route reaches it, and what
is built from it, through ``Depends`` (as FastAPI's full-stack template does), so a route
reads as what it needs and what it does.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from models.addresses import address_key, is_email
from models.db import session_scope
from models.delegation import may_act_on_risk, may_update
from models.notify import load_directory
from models.schema import Person, Risk, Roadmap, Task
from models.tokens import (
    ADDRESS_READER,
    TokenError,
    address_reader,
    verify_office_token,
    verify_risk_token,
    verify_task_token,
    verify_view_token,
)
from web.security import N_, Refused, basic_password, link_refused, same_password
from web.throttle import SignInThrottle

log = logging.getLogger("roadmap.web")


@dataclass(frozen=True)
class WebContext:
    """What ``create_app`` was given: settings, database, signing key and clock, and the count
    of wrong passwords (one per app, in memory)."""

    settings: Settings
    url: str
    secret: str
    now: Callable[[], dt.datetime]  # aware; tests pass a fixed clock
    throttle: SignInThrottle

    def today(self, roadmap: Roadmap) -> dt.date:
        """The day in the roadmap's own time zone: it decides lateness and link expiry."""
        return self.now().astimezone(ZoneInfo(roadmap.timezone)).date()

    def language_of(self, roadmap_key: str) -> str:
        """The language of the roadmap a URL names, for a page about a refused request
        (which may come before anything else was read); English if there is no such roadmap."""
        with session_scope(self.url, migrate=False) as session:
            lang = session.scalar(select(Roadmap.language).where(Roadmap.key == roadmap_key))
        return lang or "en"


def get_web(request: Request) -> WebContext:
    web: WebContext = request.app.state.web
    return web


Web = Annotated[WebContext, Depends(get_web)]


def db_session(web: Web) -> Iterator[Session]:
    """One unit of work per request, committed before the response is sent (see ``Db``)."""
    with session_scope(web.url, migrate=False) as session:  # create_app migrated once
        yield session


# scope="function": the commit happens before the response leaves, so a browser that
# follows the redirect after a POST reads what was saved.
Db = Annotated[Session, Depends(db_session, scope="function")]


def find_roadmap(session: Session, roadmap_key: str) -> Roadmap:
    roadmap = session.scalar(select(Roadmap).where(Roadmap.key == roadmap_key))
    if roadmap is None:
        raise Refused(404, N_("Not found"), N_("There is no such roadmap."))
    return roadmap


@dataclass(frozen=True)
class TaskAccess:
    """A task link that may act on its task today: the roadmap, the task, whose link it is."""

    roadmap: Roadmap
    task: Task
    person_key: str
    people: dict[str, Person]
    token: str


def task_access(web: Web, session: Db, roadmap_key: str, task_key: str, token: str = "") -> TaskAccess:
    """The task when ``token`` (``?token=`` of a GET, a field of a POST) is a genuine, unexpired
    link for it whose person may still update it (``models.delegation.may_update``); else ``Refused``."""
    try:
        person = verify_task_token(web.secret, token, roadmap=roadmap_key, task=task_key, now=web.now())
    except TokenError as exc:
        raise link_refused(exc.message, **exc.params) from None
    roadmap = find_roadmap(session, roadmap_key)
    task = session.scalar(select(Task).where(Task.roadmap_id == roadmap.id, Task.key == task_key))
    if task is None or task.archived:
        raise link_refused(N_("The task is no longer in the roadmap."))
    directory = load_directory(session, roadmap)
    if not may_update(task, person, directory.people, directory.partners, web.today(roadmap)):
        raise link_refused(N_("This link was issued to someone who is no longer responsible for this task."))
    return TaskAccess(roadmap, task, person, directory.people, token)


@dataclass(frozen=True)
class RiskAccess:
    """A risk link that may act on its risk: the roadmap, the risk, whose link it is."""

    roadmap: Roadmap
    risk: Risk
    person_key: str
    people: dict[str, Person]
    token: str


def risk_access(web: Web, session: Db, roadmap_key: str, risk_key: str, token: str = "") -> RiskAccess:
    """The risk when ``token`` is a genuine, unexpired link for it issued to the project office
    or to the person who owns the risk now (a live person), or reads the owner's mail while they
    are away (``models.delegation.may_act_on_risk``); else ``Refused``."""
    try:
        person = verify_risk_token(web.secret, token, roadmap=roadmap_key, risk=risk_key, now=web.now())
    except TokenError as exc:
        raise link_refused(exc.message, **exc.params) from None
    roadmap = find_roadmap(session, roadmap_key)
    risk = session.scalar(select(Risk).where(Risk.roadmap_id == roadmap.id, Risk.key == risk_key))
    if risk is None or risk.archived:
        raise link_refused(N_("The risk is no longer in the roadmap."))
    people = {p.key: p for p in session.scalars(select(Person).where(Person.roadmap_id == roadmap.id))}
    if not may_act_on_risk(risk, person, people, web.today(roadmap)):
        raise link_refused(N_("This link was issued to someone who no longer owns this risk."))
    return RiskAccess(roadmap, risk, person, people, token)


def roadmap_reader(request: Request, web: Web, session: Db, roadmap_key: str, token: str = "") -> str | None:
    """Who may read the roadmap page: a person with a read-only link from their mail (their
    key: the page then has no office actions), or a plain address of ``report_to`` with the
    one of the weekly report's mail, else the office (None, ``office_access``)."""
    if token:
        try:
            person = verify_view_token(web.secret, token, roadmap=roadmap_key, now=web.now())
        except TokenError as exc:
            if exc.reason != "purpose":
                raise link_refused(exc.message, **exc.params) from None
        else:
            roadmap = find_roadmap(session, roadmap_key)
            if person.startswith(ADDRESS_READER):  # a plain address of report_to: while it still is one
                plain = {address_reader(address_key(str(a))) for a in roadmap.report_to or [] if is_email(str(a))}
                if person not in plain:
                    raise link_refused(N_("This link was issued to an address that no longer receives the report."))
                return person
            reader = session.scalar(select(Person).where(Person.roadmap_id == roadmap.id, Person.key == person))
            if reader is None or reader.archived:
                raise link_refused(N_("This link was issued to someone who is no longer in the roadmap."))
            return person
    office_access(request, web, roadmap_key, token)
    return None


def office_access(request: Request, web: Web, roadmap_key: str, token: str = "") -> None:
    """The roadmap page is for the project office: a signed office link, or basic auth
    with ROADMAP_WEB_PASSWORD; without either, 401 and the browser's sign-in prompt. Wrong
    passwords are counted per client and in all (``web.throttle``): past the limit, 429."""
    if token:
        try:
            verify_office_token(web.secret, token, roadmap=roadmap_key, now=web.now())
        except TokenError as exc:
            raise link_refused(exc.message, **exc.params) from None
        return
    office_password(request, web, f"roadmap page {roadmap_key!r}")


def portfolio_access(request: Request, web: Web) -> None:
    """The portfolio shows every roadmap: the office password only, as the roadmap page takes it
    (an office link opens one roadmap, never this page)."""
    office_password(request, web, "portfolio page", link=False)


def office_password(request: Request, web: Web, page: str, *, link: bool = True) -> None:
    """Basic auth with ROADMAP_WEB_PASSWORD (any user name), wrong passwords throttled; without
    a password set, every request gets 401. ``page`` names the page in the log line of a wrong
    password; ``link``: the refusal may point to an office link, which opens that page too."""
    password = web.settings.web_password.get_secret_value() if web.settings.web_password is not None else ""
    user, given = basic_password(request.headers.get("authorization", ""))
    if password and given is not None:
        client = request.client.host if request.client else "unknown"
        wait = web.throttle.wait(client)
        if wait:
            raise Refused(429, N_("Too many attempts"), N_(
                "Too many wrong passwords. Try again in %(minutes)s min, or open the office link.") if link
                else N_("Too many wrong passwords. Try again in %(minutes)s min."),
                headers={"Retry-After": str(wait)}, minutes=-(-wait // 60))
        if same_password(given, password):
            return
        failures = web.throttle.failed(client)
        log.warning("%s: wrong password from %s (user name %r), %d of %d allowed in %d s",
                    page, client, user[:100], failures, web.settings.web_sign_in_failures_per_client,
                    web.throttle.window)
    raise Refused(401, N_("Sign in"), N_("This page is for the project office: sign in with the office password, "
                                         "or open the office link.") if link
                  else N_("This page is for the project office: sign in with the office password."))


TaskLink = Annotated[TaskAccess, Depends(task_access)]
RiskLink = Annotated[RiskAccess, Depends(risk_access)]
Reader = Annotated[str | None, Depends(roadmap_reader)]
Office = Depends(office_access)
OfficePassword = Depends(portfolio_access)
