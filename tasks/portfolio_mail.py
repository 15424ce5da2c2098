"""The portfolio report's email to one address of ROADMAP_PORTFOLIO_REPORT_TO: the DOCX
attached, and a short body with what the head of the office reads first: how many roadmaps
are red, amber and green (and failed), the tasks late across them, and the worst roadmaps
(models/portfolio_report.py ``worst``). Templates: templates/mail/portfolio.*.j2, in the
office's language (ROADMAP_OFFICE_LANGUAGE); the sender's display name and address sign it."""

from __future__ import annotations

from collections.abc import Sequence

from config import Settings
from models.addresses import parse_address
from models.i18n import translations
from models.notify import Recipient
from models.portfolio_report import PortfolioReport
from models.report_words import format_period
from tasks.mail_message import Attachment, OutgoingMessage
from tasks.render_mail import compose


def render_portfolio_mail(email: str, name: str, report: PortfolioReport, attachments: Sequence[Attachment],
                          settings: Settings, message_id: str) -> OutgoingMessage:
    if not attachments:
        raise ValueError("a portfolio report mail needs the report attached")
    lang, week = report.language, report.week
    sender = parse_address(settings.mail_from)
    title = translations(lang).gettext("Roadmap portfolio")
    context = {
        "as_of": week.as_of, "iso_year": week.iso_year, "iso_week": week.iso_week,
        "period": format_period(week.start, week.end, lang), "total": len(report.rows),
        "counts": report.counts(), "worst": report.worst(), "failed": report.failed,
        "filenames": [a.filename for a in attachments], "roadmap_url": None,
    }
    return compose("portfolio", Recipient(email, name), {
        "roadmap_title": title, "roadmap_key": "portfolio", "lang": lang,
        "office_name": sender.display_name, "office_email": sender.addr_spec, "sender": settings.mail_from,
        "message_id": message_id, "template_dir": settings.template_dir, "short_title": title,
    }, context, tuple(attachments))
