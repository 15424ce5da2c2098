"""End to end in a real headless browser (Debian's chromium driven by Playwright): a reminder
arrives at a real SMTP server, its "mark done" link is opened and the form submitted, the
task is done in the database and gone from the next day's digest.

Screenshots of the task page and the roadmap page go to tests/artifacts/ (gitignored).
Skips, with the reason, only when /usr/bin/chromium or Playwright is missing; .ci/run
installs chromium.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from config import Settings, reset_settings_cache
from models.db import session_scope
from models.schema import Change, Task
from models.tokens import expiry_for, sign_office_token
from tasks.notify_jobs import deliver_pending, plan_reminders, record_plan
from tasks.roadmap_jobs import import_file
from tests.smtp_fixtures import free_port

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
KEY = "browser-test-secret"
PASSWORD = "office-pass-123"
DAY = date(2014, 11, 10)
NOW = datetime(2014, 11, 10, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed at /usr/bin/chromium "
                                                              "(apt-get install -y chromium; .ci/run does this)")


class Server:
    """The web app under uvicorn in a thread, on a free loopback port."""

    def __init__(self, app, port: int):
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("the web app did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_mark_done_from_a_reminder_in_a_real_browser(db_url, small_yaml, smtp_server, monkeypatch, browser, request):
    from web.app import create_app

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_server.port), "SMTP_SECURITY": "none",
                        "MAIL_FROM": "roadmap@example.org", "SECRET_KEY": KEY, "PUBLIC_URL": base,
                        "WEB_PASSWORD": PASSWORD}.items():
        monkeypatch.setenv(f"ROADMAP_{name}", value)
    reset_settings_cache()
    import_file(db_url, small_yaml)

    # 1. The day's reminders go out through the outbox to the SMTP server.
    record_plan(db_url, plan_reminders(db_url, None, DAY))
    assert deliver_pending(db_url).sent == 2
    mail = next(m for m in smtp_server.messages if m["To"].addresses[0].addr_spec == "alice@example.org")
    html = mail.get_body(("html",)).get_content()
    # The "mark done" link of the Survey line (the HTML part, as a mail client shows it).
    survey = html.split(">Survey<", 1)[1]
    done_link = re.search(r'<a href="([^"]+)"[^>]*>Отметить выполненной</a>', survey).group(1).replace("&amp;", "&")
    assert done_link.startswith(f"{base}/roadmaps/small/tasks/a?token=") and done_link.endswith("&action=done")

    ARTIFACTS.mkdir(exist_ok=True)
    tag = request.node.callspec.id
    app = create_app(db_url, Settings(), clock=lambda: NOW)
    with Server(app, port):
        # 2. Open the link on a phone-sized screen, submit the highlighted form.
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(done_link)
        assert page.locator("h1").inner_text() == "Survey"
        page.screenshot(path=str(ARTIFACTS / f"task-page-{tag}.png"), full_page=True)
        with page.expect_navigation():
            page.locator("form#done button[type=submit]").click()
        assert "Сохранено" in page.locator("[role=status]").inner_text()
        page.screenshot(path=str(ARTIFACTS / f"task-page-done-{tag}.png"), full_page=True)

        # 3. The roadmap page, opened with an office link.
        office = sign_office_token(KEY, "small", expiry_for(DAY))
        wide = browser.new_page(viewport={"width": 1280, "height": 900})
        wide.goto(f"{base}/roadmaps/small?token={office}")
        assert "Small roadmap" in wide.locator("h1").inner_text()
        wide.screenshot(path=str(ARTIFACTS / f"roadmap-page-{tag}.png"), full_page=True)

    # 4. Done in the database, recorded as a web change by Alice.
    with session_scope(db_url) as s:
        a = s.scalar(select(Task).where(Task.key == "a"))
        assert (a.status, a.done_on) == ("done", DAY)
        last = s.scalars(select(Change).where(Change.entity_key == "a", Change.field == "status")
                         .order_by(Change.id.desc())).first()
        assert (last.source, last.actor) == ("web", "Alice <alice@example.org>")

    # 5. The next day's digest no longer reminds of it: it only withdraws its calendar entry.
    plan = plan_reminders(db_url, None, date(2014, 11, 11))
    assert all(line.key != "a" for d in plan.todo for line in d.lines)
    assert [w.task_key for d in plan.todo for w in d.withdrawn] == ["a"]
    assert all("/tasks/a?" not in i.message.text for i in plan.intents)
    record_plan(db_url, plan)  # withdrawn once: never again
    # 12 Nov is a day Survey (5 business days late) would be reminded of if it were still open.
    plan = plan_reminders(db_url, None, date(2014, 11, 12))
    assert all("Survey" not in i.message.text for i in plan.intents)
    assert (ARTIFACTS / f"task-page-{tag}.png").stat().st_size > 0



def test_the_portfolio_page_leads_to_each_roadmap_page_with_the_one_password(db_url, small_yaml, monkeypatch,
                                                                            browser, request):
    """The office signs in once (the password in the address, as a browser's prompt would
    take it) and follows a line of the portfolio to its roadmap page: the browser resends the
    password there (one realm), no second prompt."""
    from web.app import create_app

    for name, value in {"SECRET_KEY": KEY, "WEB_PASSWORD": PASSWORD}.items():
        monkeypatch.setenv(f"ROADMAP_{name}", value)
    reset_settings_cache()
    import_file(db_url, small_yaml)
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    with Server(create_app(db_url, Settings(), clock=lambda: NOW), port):
        page = browser.new_page(viewport={"width": 390, "height": 844})
        refused = page.request.get(f"http://127.0.0.1:{port}/portfolio")  # no password: nothing shown
        assert refused.status == 401 and "Small roadmap" not in refused.text()
        page.goto(f"http://office:{PASSWORD}@127.0.0.1:{port}/")  # leads to /portfolio
        assert page.url.endswith("/portfolio") and page.locator("h1").inner_text() == "Портфель"
        page.screenshot(path=str(ARTIFACTS / f"portfolio-page-{request.node.callspec.id}.png"), full_page=True)
        with page.expect_navigation():
            page.get_by_role("link", name="Small roadmap").click()
        assert page.url.endswith(f"127.0.0.1:{port}/roadmaps/small")
        assert "Small roadmap" in page.locator("h1").inner_text()
        # Typed without the password, the roadmap page opens too: the browser keeps it for the site.
        assert page.goto(f"http://127.0.0.1:{port}/roadmaps/small").status == 200
        assert "Small roadmap" in page.locator("h1").inner_text()
