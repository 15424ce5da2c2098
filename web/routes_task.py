"""The task page behind a signed email link, and its forms.

  GET  /roadmaps/{roadmap}/tasks/{task}?token=T[&action=done]   the page (``action`` opens a form)
  POST /roadmaps/{roadmap}/tasks/{task}                         one action; 303 back to the page

A POST is checked in this order before anything else is read from it: its size (as it
arrives, ``web.middleware.BodyLimit``), then the CSRF pair (the form's ``csrf`` against the
browser's nonce cookie and the link's token), then the link itself (``web.deps.task_access``).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from models.errors import UserError
from models.schema import Person, Roadmap
from models.tokens import OFFICE
from web.actions import ACTIONS, apply_action, error_line
from web.deps import Db, TaskAccess, TaskLink, Web, WebContext, task_access
from web.pages import task_page
from web.rendering import render
from web.security import CSRF_COOKIE, N_, Refused, csrf_for

router = APIRouter()


def task_url(roadmap_key: str, task_key: str) -> str:
    return f"/roadmaps/{quote(roadmap_key, safe='')}/tasks/{quote(task_key, safe='')}"


@router.get("/roadmaps/{roadmap_key}/tasks/{task_key}")
def get_task(request: Request, web: Web, session: Db, access: TaskLink, action: str | None = None,
             saved: str | None = None, moved: int = 0) -> Response:
    nonce = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    return set_csrf_cookie(show_task(web, session, access, nonce, focus=action, saved=saved, moved=moved), nonce, web)


def set_csrf_cookie(resp: Response, nonce: str, web: WebContext) -> Response:
    """The browser's CSRF nonce (HttpOnly, SameSite=Strict), for the forms of task and risk pages."""
    resp.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="strict", path="/roadmaps/", max_age=7 * 24 * 3600,
                    secure=web.settings.public_url.startswith("https://"))
    return resp


async def posted_form(request: Request, web: Web) -> dict[str, str]:
    """The form of a POST whose CSRF pair is right; else ``Refused``. Its size was capped before
    it got here (``web.middleware.BodyLimit``)."""
    raw = await request.body()
    body = raw.decode("utf-8", errors="replace")
    form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
    nonce = request.cookies.get(CSRF_COOKIE, "")
    expected = csrf_for(web.secret, nonce, form.get("token", "")).encode()
    if not nonce or not hmac.compare_digest(expected, form.get("csrf", "").encode()):  # bytes: any text compares
        raise Refused(403, N_("The form has expired"), N_(
            "This form could not be checked (it is old, or it was sent from another site). "
            "Open the link from your email again and repeat the change. Nothing was changed."))
    return form


@router.post("/roadmaps/{roadmap_key}/tasks/{task_key}")
def post_task(request: Request, web: Web, session: Db, roadmap_key: str, task_key: str,
              form: Annotated[dict[str, str], Depends(posted_form)]) -> Response:
    access = task_access(web, session, roadmap_key, task_key, form.get("token", ""))
    roadmap, task = access.roadmap, access.task
    try:
        moved = apply_action(session, roadmap, task, form, today=web.today(roadmap),
                               actor=actor_of(roadmap, access.person_key, access.people),
                               person=access.people.get(access.person_key), people=access.people)
    except UserError as exc:
        session.rollback()  # the checks come before any change; this is a safety net
        return show_task(web, session, access, request.cookies[CSRF_COOKIE], status=400, error=exc,
                         focus=form.get("action"), form=form)
    query = urlencode({"token": access.token, "saved": form["action"], "moved": moved})
    return RedirectResponse(f"{task_url(roadmap_key, task_key)}?{query}", status_code=303)


def actor_of(roadmap: Roadmap, person_key: str, people: dict[str, Person]) -> str:
    """Who made a change, as the history records it."""
    if person_key == OFFICE:
        return f"{roadmap.office_name} <{roadmap.office_email}>"
    p = people[person_key]
    return f"{p.name} <{p.email}>"


def show_task(web: WebContext, session: Db, access: TaskAccess, nonce: str, *, status: int = 200,
              error: Exception | None = None, focus: str | None = None, saved: str | None = None, moved: int = 0,
              form: dict[str, str] | None = None) -> HTMLResponse:
    roadmap, task = access.roadmap, access.task
    page = task_page(session, roadmap, task, access.person_key, web.today(roadmap))
    lang = page["lang"]  # the reader's language, else the roadmap's
    return render("task", status, page=page,
                  token=access.token, csrf=csrf_for(web.secret, nonce, access.token), error=error_line(lang, error),
                  focus=focus if focus in ACTIONS else None, saved=saved if saved in ACTIONS else None,
                  moved=moved, form=form or {}, lang=lang, post_url=task_url(roadmap.key, task.key))
