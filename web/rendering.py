"""HTML responses: the Jinja environment of the web templates. The headers every response carries
are added by ``web.middleware.SecurityHeaders``."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse

from config import TEMPLATES_DIR
from models.templating import environment


@lru_cache(maxsize=1)
def web_environment() -> jinja2.Environment:
    # every web template is HTML: user text never reaches a page raw
    return environment(jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True)


def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """``templates/web/<name>.html.j2`` in the language ``context["lang"]``."""
    html = web_environment().get_template(f"web/{name}.html.j2").render(**context)
    return HTMLResponse(html, status_code=status)
