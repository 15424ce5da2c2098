"""Planned digests and escalations (``models.notify``) rendered into ``OutgoingMessage`` values.

Plain functions: no Prefect, no database, nothing read but templates, so the same inputs
give the same message, byte for byte (the .ics DTSTAMP comes from the digest's as-of day,
not the clock). The caller chooses the Message-ID and the sender.

Templates: ``templates/mail/<name>.subject.j2``, ``.txt.j2`` and ``.html.j2`` for the names
``reminder`` (one owner's daily digest, also when it only holds rescheduling notices) and
``escalation`` (and ``report``, for tasks/report_jobs.py). The wording lives in
``mail/_phrases.j2`` as gettext messages (models/i18n.py: English ids, the Russian catalog in
``locale/``); the other files are layout. A user folder (``settings.template_dir``) laid out the same way, e.g.
``<folder>/mail/reminder.subject.j2``, overrides the built-in templates file by file.
Only ``.html.j2`` files are autoescaped; undefined names raise instead of rendering empty.

Signed links: with a secret key and a public URL, every task line of a digest and every
task escalation carries links to that task's page in the web app (``web/``), signed for
the recipient (``models/tokens.py``) and valid until 30 days after the mail's as-of day,
so the same inputs still give the same bytes. The templates get them as ``links``, a dict
of task key to ``TaskLinks``; without a secret key it is empty and the mails ask for a
reply instead. A risk escalation to the risk's owner or the office carries a link to the
risk's page (``risk_links``, risk key to URL). The roadmap link at the foot of a person's
digest (``roadmap_url``) opens the read-only roadmap page, signed for them the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, NotRequired, TypedDict, Unpack
from urllib.parse import quote

import jinja2

from config import TEMPLATES_DIR
from models.addresses import mailbox, named_sender
from models.calendar_entries import deadline, stamp_of
from models.errors import UserError
from models.i18n import language
from models.ics import CANCEL, Deadline, build_ics
from models.notify import Digest, Escalation, EscalationDigest, Recipient, TaskLine
from models.report_data import ReportContext
from models.report_words import format_period
from models.subjects import fit_subject, short_title
from models.templating import environment
from models.tokens import (
    OFFICE,
    address_reader,
    expiry_for,
    sign_calendar_token,
    sign_risk_token,
    sign_task_token,
    sign_view_token,
)
from tasks.mail_message import Attachment, OutgoingMessage
from tasks.mail_phrases import Phrases

ICS_CONTENT_TYPE = "text/calendar; method=PUBLISH; charset=utf-8"
ICS_CANCEL_CONTENT_TYPE = "text/calendar; method=CANCEL; charset=utf-8"
# Digest sections in the order the mail shows them: the most urgent first.
SECTIONS = ("overdue", "escalation", "due_today", "before", "checkin", "start", "kickoff", "moved")


class MailArgs(TypedDict):
    """The keyword arguments every ``render_*`` function takes: the roadmap, its office, and
    the envelope the caller chose."""

    roadmap_title: str
    roadmap_key: str
    lang: str  # "ru", "ru_RU" and "ru-RU" alike (models.i18n.language)
    office_name: str
    office_email: str  # also the Reply-To
    sender: str
    message_id: str
    template_dir: NotRequired[Path | None]
    public_url: NotRequired[str | None]
    short_title: NotRequired[str | None]  # the roadmap file's; None: derived (models/subjects.py)


@dataclass(frozen=True)
class TaskLinks:
    """The signed links of one task line: its page, and the same page opened on "mark done"."""

    page: str
    done: str


def task_links(
    secret_key: Any, public_url: str, roadmap_key: str, task_key: str, person_key: str | None, as_of: date,
    days: int = 30,
) -> TaskLinks:
    """Links to a task's page for one person, valid until ``days`` days after ``as_of``."""
    token = sign_task_token(secret_key, roadmap_key, task_key, person_key or OFFICE, expiry_for(as_of, days))
    base = (public_url or "").rstrip("/")  # none: a path on the server that shows the page
    page = f"{base}{_roadmap_path(roadmap_key)}/tasks/{quote(task_key, safe='')}?token={token}"
    return TaskLinks(page=page, done=f"{page}&action=done")


def risk_link(
    secret_key: Any, public_url: str, roadmap_key: str, risk_key: str, person_key: str | None, as_of: date,
    days: int = 30,
) -> str:
    """The link to a risk's page (web/routes_risk.py) for its owner, or the office (``person_key`` None)."""
    token = sign_risk_token(secret_key, roadmap_key, risk_key, person_key or OFFICE, expiry_for(as_of, days))
    base = (public_url or "").rstrip("/")
    return f"{base}{_roadmap_path(roadmap_key)}/risks/{quote(risk_key, safe='')}?token={token}"


def roadmap_view_link(secret_key: Any, public_url: str | None, roadmap_key: str, recipient: Recipient,
                      as_of: date, days: int = 30, office_email: str | None = None) -> str | None:
    """The roadmap link at the foot of a mail: for a person, the read-only page signed for them
    (valid as long as a task link); for the office, the page behind its password; None
    without a public URL. With ``office_email`` (the weekly report's mail), an address that is
    neither a person nor the office (a plain address of ``report_to``) gets a read-only link too."""
    url = roadmap_url_of(public_url, roadmap_key)
    key = _signing_key(secret_key)
    if url is None or not key:
        return url
    reader = recipient.key
    if reader is None and office_email is not None and recipient.email.lower() != office_email.strip().lower():
        reader = address_reader(recipient.email)
    if reader is None:
        return url
    return f"{url}?token={sign_view_token(key, roadmap_key, reader, expiry_for(as_of, days))}"


def calendar_link(secret_key: Any, public_url: str, roadmap_key: str, recipient: Recipient) -> str | None:
    """The recipient's calendar feed link (web/routes_calendar.py), or None for an address that
    is not a person (the project office) or without a key."""
    key = _signing_key(secret_key)
    if not key or recipient.key is None:
        return None
    token = sign_calendar_token(key, roadmap_key, recipient.key, recipient.calendar_generation)
    return f"{(public_url or '').rstrip('/')}/calendar/{token}.ics"


def _signing_key(secret_key: Any) -> Any:
    """The raw key of a pydantic SecretStr or a plain value; None when there is none."""
    raw = secret_key.get_secret_value() if hasattr(secret_key, "get_secret_value") else secret_key
    return raw or None


class MailTemplateError(UserError):
    """A mail template is missing, does not compile, or uses a name the renderer does not pass.
    The message names the template file (FILE:LINE when Jinja knows the line); the Jinja error
    is the ``__cause__``. A user error (exit 2): the fix is in the template folder."""


def mail_environment(template_dir: Path | None = None) -> jinja2.Environment:
    """The Jinja environment for mail: ``template_dir`` (if any) first, then the built-in
    ``templates/``. One environment per folder, kept for the life of the process (Jinja
    still notices edited files). A configured folder that does not exist is an error
    rather than silently ignored."""
    if template_dir is not None:
        template_dir = Path(template_dir).expanduser().resolve()
        if not template_dir.is_dir():
            raise FileNotFoundError(f"template_dir is not a folder: {template_dir}")
    return _environment(template_dir)


@lru_cache(maxsize=16)
def _environment(template_dir: Path | None) -> jinja2.Environment:
    loaders = [jinja2.FileSystemLoader(template_dir)] if template_dir else []
    loaders.append(jinja2.FileSystemLoader(TEMPLATES_DIR))
    return environment(jinja2.ChoiceLoader(loaders), keep_trailing_newline=True,
                       autoescape=jinja2.select_autoescape(["html.j2"], default_for_string=False))


def render_digest(digest: Digest, *, secret_key: Any = None, **args: Unpack[MailArgs]) -> OutgoingMessage:
    """One owner's digest as a message with an .ics of the deadlines it mentions, and another
    (METHOD:CANCEL) withdrawing the entries no longer true (``digest.withdrawn``)."""
    context, files = digest_context(digest, secret_key, args)
    return compose("reminder", digest.recipient, args, context, files)


def digest_context(digest: Digest, secret_key: Any, args: MailArgs) -> tuple[dict[str, Any], tuple[Attachment, ...]]:
    """What the reminder templates get of one roadmap's digest, and its .ics files (also each
    roadmap's part of a digest across roadmaps, tasks/render_shared.py)."""
    lines, key, public_url = digest.lines, _signing_key(secret_key), args.get("public_url")
    if not lines and not digest.withdrawn:
        raise ValueError(f"digest for {digest.recipient.email} on {digest.as_of} has no lines")
    context = {
        "digest": digest,
        "as_of": digest.as_of,
        "kind": digest.kind,
        # A task can be both overdue and moved in one digest; count it once.
        "task_count": len({line.key for line in lines}),
        "kickoff_count": digest.kickoff,
        "sections": [(r, [ln for ln in lines if ln.reason == r])
                     for r in SECTIONS if any(ln.reason == r for ln in lines)],
        "delegated": sorted({(ln.delegated_from, ln.away_until) for ln in lines if ln.delegated_from},
                            key=lambda item: item[0]),
    }
    if key and public_url:
        context["links"] = {
            ln.key: task_links(key, public_url, args["roadmap_key"], ln.key, digest.recipient.key, digest.as_of)
            for ln in lines
        }
    if key and public_url:
        context["calendar_url"] = calendar_link(key, public_url, args["roadmap_key"], digest.recipient)
    context["roadmap_url"] = roadmap_view_link(key, public_url, args["roadmap_key"], digest.recipient, digest.as_of)
    name, lang = f"{args['roadmap_key']}-{digest.as_of.isoformat()}", _lang(digest.recipient, args)
    files = []
    if lines:
        files.append(Attachment(f"{name}.ics", ICS_CONTENT_TYPE,
                                build_ics(_deadlines(lines, args, lang), now=stamp_of(digest.as_of))))
    if digest.withdrawn:
        url = roadmap_url_of(public_url, args["roadmap_key"])
        gone = [deadline(args["roadmap_key"], args["roadmap_title"], lang, url, key=w.task_key,
                         title=w.summary, stage="", due=w.due, sequence=w.sequence) for w in digest.withdrawn]
        files.append(Attachment(f"{name}-cancel.ics", ICS_CANCEL_CONTENT_TYPE,
                                build_ics(gone, now=stamp_of(digest.as_of), method=CANCEL)))
    return context, tuple(files)


def render_escalation_digest(
    digest: EscalationDigest, *, secret_key: Any = None, **args: Unpack[MailArgs]
) -> OutgoingMessage:
    """One recipient's escalations of a day in one message, grouped by level and reason
    (``digest.groups``); every task carries its signed links, valid for 30 days from the
    digest's day. In each group, ``role`` is why the recipient gets it when that is the
    same for every item (else each item says it: a manager of one owner may be the partner
    contact of another task)."""
    return compose("escalation", digest.recipient, args, escalation_context(digest, secret_key, args))


def escalation_context(digest: EscalationDigest, secret_key: Any, args: MailArgs) -> dict[str, Any]:
    """What the escalation templates get of one roadmap's digest (also each roadmap's part of a
    digest across roadmaps, tasks/render_shared.py)."""
    if not digest.items:
        raise ValueError(f"escalation digest for {digest.recipient.email} on {digest.as_of} has no items")
    key, public_url = _signing_key(secret_key), args.get("public_url")
    groups = []
    for group, items in digest.groups:
        entries = [(e, escalation_role(e, args["office_email"])) for e in items]
        roles = {role for _, role in entries}
        groups.append((group, entries, roles.pop() if len(roles) == 1 else None))
    context: dict[str, Any] = {
        "digest": digest, "as_of": digest.as_of, "groups": groups,
        "task_count": len({e.key for e in digest.items if e.subject_kind == "task" and e.trigger != "checkin"}),
        "checkin_count": len({e.key for e in digest.items if e.trigger == "checkin"}),
        "risk_count": len({e.key for e in digest.items if e.subject_kind == "risk"}),
    }
    if key and public_url:
        context["links"] = {
            e.key: task_links(key, public_url, args["roadmap_key"], e.key, digest.recipient.key, digest.as_of)
            for e in digest.items if e.subject_kind == "task"
        }
        # A risk's page acts on the risk: its owner's link (their delegate's while they are away,
        # models/delegation.may_act_on_risk), or the office's; a partner's contact reads only.
        context["risk_links"] = {
            e.key: risk_link(key, public_url, args["roadmap_key"], e.key, digest.recipient.key, digest.as_of)
            for e in digest.items if e.subject_kind == "risk"
            and escalation_role(e, args["office_email"]) in ("owner", "delegate", "office")
        }
        context["calendar_url"] = calendar_link(key, public_url, args["roadmap_key"], digest.recipient)
    context["roadmap_url"] = roadmap_view_link(key, public_url, args["roadmap_key"], digest.recipient, digest.as_of)
    return context


def render_escalation(
    esc: Escalation, *, secret_key: Any = None, as_of: date | None = None, **args: Unpack[MailArgs]
) -> OutgoingMessage:
    """A digest of one escalation; when the caller does not say the day, it is estimated as
    the due date plus the business days late counted as calendar days (a little early, never late)."""
    digest = EscalationDigest(esc.recipient, as_of or _escalation_day(esc), [esc])
    return render_escalation_digest(digest, secret_key=secret_key, **args)


def render_report_mail(
    recipient: Recipient, *, report: ReportContext, attachments: Sequence[Attachment], secret_key: Any = None,
    **args: Unpack[MailArgs]
) -> OutgoingMessage:
    """The weekly report's email to one recipient, the report's files attached (the DOCX first).
    The body says what matters before the attachment: the overall status, the tasks done
    (in all and in the report's week), the tasks late, and the decisions needed."""
    if not attachments:
        raise ValueError("a report mail needs the report attached")
    sm = report.summary
    context = {
        "as_of": report.as_of, "iso_year": report.iso_year, "iso_week": report.iso_week,
        "period": format_period(report.week_start, report.week_end, _lang(recipient, args)),
        "rag": sm.rag, "tasks_done": sm.tasks_done, "tasks_total": sm.tasks_total,
        "done_this_week": sm.done_this_week, "late": sm.overdue_now, "decisions": list(sm.decisions),
        "filename": attachments[0].filename, "filenames": [a.filename for a in attachments],
        # The read-only page signed for its reader, as in owners' mail (the office's: its password).
        "roadmap_url": roadmap_view_link(secret_key, args.get("public_url"), args["roadmap_key"], recipient,
                                         report.as_of, office_email=args["office_email"]),
    }
    return compose("report", recipient, args, context, tuple(attachments))


def compose(name: str, recipient: Recipient, args: MailArgs, context: dict[str, Any],
             attachments: tuple[Attachment, ...] = ()) -> OutgoingMessage:
    """The message of ``mail/<name>.*.j2`` to ``recipient``. The templates see ``context``,
    every ``MailArgs`` field and the recipient."""
    # **args accepts any name at run time; a misspelt optional one must not pass unnoticed.
    if unknown := args.keys() - MailArgs.__required_keys__ - MailArgs.__optional_keys__:
        raise TypeError(f"unexpected keyword arguments: {', '.join(sorted(unknown))}")
    office_email = args["office_email"]
    context = {
        **args,
        "lang": language(_lang(recipient, args)),
        "recipient": recipient,
        "short_title": short_title(args["roadmap_title"], args.get("short_title")),
        "roadmap_url": roadmap_url_of(args.get("public_url"), args["roadmap_key"]),
        "links": {},
        "risk_links": {},
        "delegated": [],
        "calendar_url": None,
        **context,
    }
    subject, text, html = _render_three(name, context, args.get("template_dir"))
    # "Name <addr>" as OutgoingMessage takes it; tasks.mail parses and encodes the name.
    to = mailbox(recipient.name, recipient.email)
    return OutgoingMessage(
        message_id=args["message_id"], sender=named_sender(args["sender"], args["office_name"]), to=(to,),
        subject=subject, text=text, html=html,
        attachments=attachments,
        # The mails invite the reader to answer; answers should reach people, not the robot.
        headers=(("Reply-To", office_email),) if office_email.strip() else (),
    )


def _escalation_day(esc: Escalation) -> date:
    due, late = esc.detail.get("due"), esc.detail.get("days_late")
    if isinstance(due, date) and isinstance(late, int):
        return due + timedelta(days=late)
    try:
        return date.fromisoformat(esc.trigger_value)  # a review date
    except ValueError:  # a score or "occurred": no day in the data; the caller should say it
        review = esc.detail.get("review")
        return review if isinstance(review, date) else date.today()


def escalation_role(esc: Escalation, office_email: str) -> str:
    """Why the recipient gets the escalation: owner | delegate (of an away risk owner) | manager |
    partner | office, or
    manager_or_partner for a level-1 task escalation when the planner did not say
    (``detail["role"]`` wins when present)."""
    if role := esc.detail.get("role"):
        return str(role)
    r = esc.recipient
    if r.key is None or (office_email and r.email.lower() == office_email.lower()):
        return "office"
    if esc.subject_kind == "risk":
        # Risk recipients are the owner, the partner's contact and the office.
        if "owner_key" in esc.detail:
            return "owner" if r.key == esc.detail["owner_key"] else "partner"
        return "owner" if r.name == esc.detail.get("owner") else "partner"
    return "office" if esc.level >= 2 else "manager_or_partner"


def _render_three(name: str, context: dict[str, Any], template_dir: Path | None) -> tuple[str, str, str]:
    """(subject, text, html) of ``mail/<name>.*.j2``. The templates get the wording of
    ``mail/_phrases.j2`` as ``t``; the subject is collapsed to one line, cut to SUBJECT_MAX characters
    (models/subjects.py) and passed on to
    the bodies as ``subject`` (the HTML uses it as its <title>)."""
    env = mail_environment(template_dir)
    builtin = None if template_dir is None else (
        lambda ctx=context: _render(mail_environment(None), "mail/_phrases.j2", ctx, module=True))
    context = {**context, "t": Phrases(_render(env, "mail/_phrases.j2", context, module=True), builtin)}
    subject = fit_subject(_render(env, f"mail/{name}.subject.j2", context))
    context["subject"] = subject
    return subject, _render(env, f"mail/{name}.txt.j2", context), _render(env, f"mail/{name}.html.j2", context)


def _render(env: jinja2.Environment, name: str, context: dict[str, Any], module: bool = False) -> Any:
    """The template rendered, or as a module of macros; errors name the template file."""
    where = name
    try:
        template = env.get_template(name)
        where = template.filename or name
        return template.make_module(context) if module else template.render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise MailTemplateError(f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise MailTemplateError(f"{where}: {type(exc).__name__}: {exc}") from exc


def _lang(recipient: Recipient, args: MailArgs) -> str:
    """The language of a message: its reader's own (``people[].language``), else the roadmap's."""
    return recipient.language or args["lang"]


def _deadlines(lines: list[TaskLine], args: MailArgs, lang: str) -> list[Deadline]:
    """One deadline per task (a task both overdue and moved is listed once: two
    components with one UID in one calendar would confuse clients)."""
    url = roadmap_url_of(args.get("public_url"), args["roadmap_key"])
    seen: dict[str, Deadline] = {}
    for line in lines:
        if line.key not in seen:
            seen[line.key] = deadline(args["roadmap_key"], args["roadmap_title"], lang, url, key=line.key,
                                      title=line.title, stage=line.stage, due=line.due, sequence=line.sequence)
    return list(seen.values())


def _roadmap_path(roadmap_key: str) -> str:
    return f"/roadmaps/{quote(roadmap_key, safe='')}"


def roadmap_url_of(public_url: str | None, roadmap_key: str) -> str | None:
    """The roadmap page's address, or None without a public URL (the mail then has no link)."""
    return f"{public_url.rstrip('/')}{_roadmap_path(roadmap_key)}" if public_url else None
