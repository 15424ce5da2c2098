"""The risk page behind a signed email link, and its forms.

  GET  /roadmaps/{roadmap}/risks/{risk}?token=T[&action=status]   the page (``action`` opens a form)
  POST /roadmaps/{roadmap}/risks/{risk}                           one action; 303 back to the page

The link is in the escalation digest of the risk's owner (and of the project office). It
follows the task page's rules: the same CSRF pair is checked first (``posted_form``), then
the link (``web.deps.risk_access``: genuine, unexpired, for this roadmap and risk, and the
risk's current owner or the office); the forms are in ``web/risk_actions.py``.
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from models.errors import UserError
from web.actions import error_line
from web.deps import Db, RiskAccess, RiskLink, Web, WebContext, risk_access
from web.pages import risk_page
from web.rendering import render
from web.risk_actions import RISK_ACTIONS, apply_risk_action
from web.routes_task import actor_of, posted_form, set_csrf_cookie
from web.security import CSRF_COOKIE, csrf_for

router = APIRouter()


def risk_url(roadmap_key: str, risk_key: str) -> str:
    return f"/roadmaps/{quote(roadmap_key, safe='')}/risks/{quote(risk_key, safe='')}"


@router.get("/roadmaps/{roadmap_key}/risks/{risk_key}")
def get_risk(request: Request, web: Web, session: Db, access: RiskLink, action: str | None = None,
             saved: str | None = None) -> Response:
    nonce = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    return set_csrf_cookie(show_risk(web, session, access, nonce, focus=action, saved=saved), nonce, web)


@router.post("/roadmaps/{roadmap_key}/risks/{risk_key}")
def post_risk(request: Request, web: Web, session: Db, roadmap_key: str, risk_key: str,
              form: Annotated[dict[str, str], Depends(posted_form)]) -> Response:
    access = risk_access(web, session, roadmap_key, risk_key, form.get("token", ""))
    roadmap = access.roadmap
    try:
        apply_risk_action(session, roadmap, access.risk, form, today=web.today(roadmap),
                          actor=actor_of(roadmap, access.person_key, access.people))
    except UserError as exc:
        session.rollback()  # the checks come before any change; this is a safety net
        return show_risk(web, session, access, request.cookies[CSRF_COOKIE], status=400, error=exc,
                         focus=form.get("action"), form=form)
    query = urlencode({"token": access.token, "saved": form["action"]})
    return RedirectResponse(f"{risk_url(roadmap_key, risk_key)}?{query}", status_code=303)


def show_risk(web: WebContext, session: Db, access: RiskAccess, nonce: str, *, status: int = 200,
              error: Exception | None = None, focus: str | None = None, saved: str | None = None,
              form: dict[str, str] | None = None) -> HTMLResponse:
    roadmap, risk = access.roadmap, access.risk
    page = risk_page(session, roadmap, risk, access.person_key, web.today(roadmap))
    lang = page["lang"]  # the reader's language, else the roadmap's
    return render("risk", status, page=page,
                  token=access.token, csrf=csrf_for(web.secret, nonce, access.token), error=error_line(lang, error),
                  focus=focus if focus in RISK_ACTIONS else None, saved=saved if saved in RISK_ACTIONS else None,
                  form=form or {}, lang=lang, post_url=risk_url(roadmap.key, risk.key))
