"""Digests across roadmaps (models/shared_people.py) rendered into ``OutgoingMessage`` values.

Each roadmap's share is rendered as its own digest would be (tasks/render_mail.py
``digest_context`` and ``escalation_context``, with that roadmap's arguments: its title, key,
signed links, calendar feed and roadmap links, .ics files); the templates
``mail/shared_reminder.*.j2`` and ``mail/shared_escalation.*.j2`` put one section per roadmap,
headed by its short title, around the same bodies as a single roadmap's mail
(``mail/_reminder_body.*.j2``, ``mail/_escalation_body.*.j2``). The envelope (sender's name,
Reply-To, the footer) and the language (unless the reader has their own) are the first
roadmap's. Plain functions: the same inputs give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from models.notify import Digest, EscalationDigest
from models.shared_people import SharedDigest, escalation_totals, task_total
from models.subjects import short_title
from tasks.mail_message import Attachment, OutgoingMessage
from tasks.render_mail import MailArgs, compose, digest_context, escalation_context

# What a part has when its roadmap's context does not set it (no secret key, no public URL).
_PART_DEFAULTS: dict[str, Any] = {"links": {}, "risk_links": {}, "delegated": [], "calendar_url": None,
                                  "roadmap_url": None}


def _mail_args(render_args: Mapping[str, Any], message_id: str) -> tuple[MailArgs, Any]:
    """A roadmap's rendering arguments (tasks/notify_jobs.py ``_render_args``) as ``MailArgs``,
    and its secret key apart."""
    args = {k: v for k, v in render_args.items() if k != "secret_key"}
    return cast(MailArgs, {**args, "message_id": message_id}), render_args.get("secret_key")


def _part(context: dict[str, Any], args: MailArgs) -> dict[str, Any]:
    return {**_PART_DEFAULTS, **context, "roadmap_title": args["roadmap_title"],
            "short_title": short_title(args["roadmap_title"], args.get("short_title"))}


def render_shared_digest(shared: SharedDigest[Digest], render_args: Mapping[str, Mapping[str, Any]],
                         message_id: str) -> OutgoingMessage:
    """One address's reminder digests of several roadmaps as one message; ``render_args``: per
    roadmap key, its rendering arguments. Every share's .ics files are attached, named after
    their roadmap as alone."""
    parts: list[dict[str, Any]] = []
    files: list[Attachment] = []
    for share in shared.shares:
        args, secret_key = _mail_args(render_args[share.roadmap_key], message_id)
        context, attachments = digest_context(share.digest, secret_key, args)
        parts.append(_part(context, args))
        files += attachments
    context = {
        "parts": parts, "as_of": shared.as_of, "kind": shared.kind, "roadmap_count": shared.roadmaps,
        "task_count": task_total(shared), "kickoff_count": sum(s.digest.kickoff for s in shared.shares),
        "any_lines": any(s.digest.lines for s in shared.shares), "any_links": any(p["links"] for p in parts),
    }
    first, _ = _mail_args(render_args[shared.shares[0].roadmap_key], message_id)
    return compose("shared_reminder", shared.recipient, first, context, tuple(files))


def render_shared_escalation(shared: SharedDigest[EscalationDigest],
                             render_args: Mapping[str, Mapping[str, Any]], message_id: str) -> OutgoingMessage:
    """One address's escalation digests of several roadmaps as one message."""
    parts = []
    for share in shared.shares:
        args, secret_key = _mail_args(render_args[share.roadmap_key], message_id)
        parts.append(_part(escalation_context(share.digest, secret_key, args), args))
    tasks, checkins, risks = escalation_totals(shared)
    context = {
        "parts": parts, "as_of": shared.as_of, "roadmap_count": shared.roadmaps,
        "task_count": tasks, "checkin_count": checkins, "risk_count": risks,
        "any_links": any(p["links"] for p in parts), "any_risk_links": any(p["risk_links"] for p in parts),
    }
    first, _ = _mail_args(render_args[shared.shares[0].roadmap_key], message_id)
    return compose("shared_escalation", shared.recipient, first, context)

