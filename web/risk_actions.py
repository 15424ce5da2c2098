"""What each form of the risk page does: checks the input, then one call to
``models.updates.update_risk`` (source "web", the link's person as actor), the function
``roadmap risk update`` calls too, which records every change in the history.

  reviewed     the risk was looked at today (``reviewed_on``), with an optional note
  status       open | mitigated | occurred | closed, with an optional note
  scores       probability and impact, 1 to 5 each, with an optional note
  mitigation   the mitigation plan, rewritten (required; bounded like any form note)

A refused form raises ``web.actions.FormError`` (nothing changed), said in the page's language.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from models.schema import Risk, Roadmap
from models.spec import RISK_STATUSES
from models.updates import update_risk
from web.actions import NOTE, FormError, form_text
from web.security import N_

RISK_ACTIONS = ("reviewed", "status", "scores", "mitigation")
# The forms' fields, as a refusal names them (the labels of templates/web/risk.html.j2).
STATUS, PROBABILITY, IMPACT, MITIGATION = N_("Status"), N_("Probability"), N_("Impact"), N_("Mitigation")


def _score(value: str | None, label: str) -> int:
    given = (value or "").strip()
    if not (given.isascii() and given.isdigit() and 1 <= int(given) <= 5):
        raise FormError(N_("%(field)s: give a whole number from 1 to 5"), field=label)
    return int(given)


def apply_risk_action(session: Session, roadmap: Roadmap, risk: Risk, form: dict[str, str], *, today: dt.date,
                      actor: str) -> None:
    """Apply one form of the risk page; ``FormError`` (nothing changed) when the input is not acceptable."""
    action = form.get("action", "")
    change: dict[str, Any]
    if action == "reviewed":
        change = dict(reviewed=True, note=form_text(form.get("note"), NOTE, False))
    elif action == "status":
        status = (form.get("status") or "").strip()
        if status not in RISK_STATUSES:
            raise FormError(N_("%(field)s: choose one from the list"), field=STATUS)
        change = dict(status=status, note=form_text(form.get("note"), NOTE, False))
    elif action == "scores":
        change = dict(probability=_score(form.get("probability"), PROBABILITY),
                      impact=_score(form.get("impact"), IMPACT), note=form_text(form.get("note"), NOTE, False))
    elif action == "mitigation":
        mitigation = form_text(form.get("mitigation"), MITIGATION, False)
        if mitigation is None:
            raise FormError(N_("%(field)s: write the plan; it may not be empty"), field=MITIGATION)
        change = dict(mitigation=mitigation)
    else:
        raise FormError(N_("Unknown action. Nothing was changed."))
    update_risk(session, roadmap, risk.key, today=today, source="web", actor=actor, **change)
