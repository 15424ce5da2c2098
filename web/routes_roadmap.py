"""The project office's pages: the roadmap page and the latest weekly report.

  GET  /roadmaps/{roadmap}[?token=O]                 the roadmap page
  GET  /roadmaps/{roadmap}/report.docx[?token=O]     the latest weekly report

Both need an office link (``roadmap web-link``) or basic auth (``web.deps.office_access``).
The roadmap page also opens, read only, with the link at the foot of a person's mail (a
``view`` token, ``web.deps.roadmap_reader``): the same page without the report download.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from web.deps import Db, Office, Reader, Web, find_roadmap
from web.pages import latest_report, roadmap_page
from web.rendering import render
from web.security import N_, Refused

router = APIRouter()
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@router.get("/roadmaps/{roadmap_key}")
def get_roadmap(web: Web, session: Db, roadmap_key: str, reader: Reader, token: str = "") -> Response:
    roadmap = find_roadmap(session, roadmap_key)
    page = roadmap_page(session, roadmap, web.today(roadmap), web.settings.reports_dir)
    suffix = f"?{urlencode({'token': token})}" if token else ""
    report_url = None if reader else f"/roadmaps/{quote(roadmap.key, safe='')}/report.docx{suffix}"
    portfolio_url = "/portfolio" if reader is None and not token else None  # signed in with the password
    return render("roadmap", page=page, lang=roadmap.language, report_url=report_url, portfolio_url=portfolio_url)


@router.get("/roadmaps/{roadmap_key}/report.docx", dependencies=[Office])
def get_report(web: Web, session: Db, roadmap_key: str) -> Response:
    find_roadmap(session, roadmap_key)
    path = latest_report(web.settings.reports_dir, roadmap_key)
    if path is None:
        raise Refused(404, N_("No report yet"), N_("No weekly report has been written for this roadmap yet."))
    return FileResponse(path, filename=path.name, media_type=DOCX_TYPE)
