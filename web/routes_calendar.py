"""A person's calendar feed, for Outlook, Google Calendar or Thunderbird to subscribe to.

  GET  /calendar/{token}.ics     the person's open tasks (models/calendar_entries.py ``feed``)

The token (``roadmap calendar-link PERSON``, and the link at the foot of every digest) names
the roadmap, the person and the generation of their link; it does not expire, and is revoked
by raising the person's generation (``roadmap calendar-link PERSON --revoke``). A token that
is damaged, tampered with, revoked, or names a person no longer in the roadmap gets 403 and
the refusal page: no calendar data. The feed holds the person's own tasks only.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select

from models.calendar_entries import feed
from models.schema import Person, Roadmap
from models.tokens import TokenError, verify_calendar_token
from tasks.render_mail import roadmap_url_of
from web.deps import Db, Web
from web.security import N_, link_refused

router = APIRouter()
CALENDAR_TYPE = "text/calendar; charset=utf-8"


@router.get("/calendar/{token}.ics")
def get_calendar(web: Web, session: Db, token: str) -> Response:
    try:
        roadmap_key, person_key, generation = verify_calendar_token(web.secret, token)
    except TokenError as exc:
        raise link_refused(exc.message, **exc.params) from None
    roadmap = session.scalar(select(Roadmap).where(Roadmap.key == roadmap_key))
    person = None if roadmap is None else session.scalar(
        select(Person).where(Person.roadmap_id == roadmap.id, Person.key == person_key))
    if roadmap is None or person is None or person.archived:
        raise link_refused(N_("This calendar link belongs to no one in the roadmap any more."))
    if person.calendar_generation != generation:
        raise link_refused(N_("This calendar link was revoked. Ask the project office for the new one."))
    body = feed(session, roadmap, person.key, roadmap_url_of(web.settings.public_url, roadmap.key), web.now())
    return Response(body, media_type=CALENDAR_TYPE)
