"""Hostile requests to the web app (issue 11, points 5-7), each refused quickly and cheaply:
a body longer than the cap gets 413 as it arrives (checked against a real uvicorn server on
127.0.0.1, counting what the server let the client send), password guessing gets 429 with
Retry-After, and every response carries the security headers, Starlette's own 404, 405, 422
and 500 included.

These are about HTTP, not the database: they run on SQLite only (tests/test_web.py runs the
pages on both).
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import time_machine
import uvicorn
from fastapi.testclient import TestClient

from config import Settings
from models.tokens import expiry_for, sign_office_token
from tasks.roadmap_jobs import import_file
from tests.test_web import BASE, DAY, KEY, NOW, PASSWORD, form_fields, link, web_env
from web.middleware import SECURITY_HEADERS

MB = 1 << 20


@pytest.fixture
def url(tmp_path, small_yaml, monkeypatch) -> str:
    web_env(monkeypatch)
    db = f"sqlite:///{tmp_path}/roadmap.db"
    import_file(db, small_yaml)
    return db


def make_app(url: str):  # type: ignore[no-untyped-def]
    from web.app import create_app

    return create_app(url, Settings(), clock=lambda: NOW)


def client_at(app, address: str, **kwargs) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(app, base_url=BASE, client=(address, 40000), **kwargs)


# --- request bodies are capped as they arrive ---------------------------------------------


@contextmanager
def serving(app) -> Iterator[int]:  # type: ignore[no-untyped-def]
    """``app`` under a real uvicorn server on a free port of 127.0.0.1, in a thread; its port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def rss_mb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS:"))


def post_chunked(port: int, path: str, total: int, chunk: int = 64 * 1024, *,
                 past_the_answer: bool = False) -> tuple[str, int]:
    """POST ``total`` bytes in chunks, as fast as the server takes them, until it answers (or,
    ``past_the_answer``, on after it) or drops the connection: the status line and how many
    body bytes the server let us send."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=20)
    conn.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                 "Content-Type: application/x-www-form-urlencoded\r\n\r\n".encode())
    piece = f"{chunk:x}\r\n".encode() + b"x" * chunk + b"\r\n"
    sent = 0
    try:
        while sent < total and (past_the_answer or not select.select([conn], [], [], 0)[0]):
            conn.sendall(piece)
            sent += chunk
        if sent >= total:
            conn.sendall(b"0\r\n\r\n")
    except OSError:  # the server closed the connection after its answer
        pass
    return first_line(conn), sent


def first_line(conn: socket.socket) -> str:
    data = b""
    try:
        while b"\r\n" not in data and (more := conn.recv(4096)):
            data += more
    except OSError:
        pass
    conn.close()
    return data.split(b"\r\n")[0].decode()


def test_a_200_mb_chunked_post_is_refused_with_413_after_reading_little(url):
    with serving(make_app(url)) as port:
        before = rss_mb()
        status, sent = post_chunked(port, "/roadmaps/small/tasks/a", 200 * MB)
        grown = rss_mb() - before
    assert status.startswith("HTTP/1.1 413")
    # the cap is 64 KiB; what else got through sits in socket buffers (a few MB on loopback)
    assert sent < 20 * MB and grown < 50, (sent, grown)


def test_three_big_posts_at_once_are_all_refused_and_memory_stays_flat(url):
    with serving(make_app(url)) as port:
        before = rss_mb()
        outcomes: list[tuple[str, int]] = []
        threads = [threading.Thread(target=lambda: outcomes.append(post_chunked(port, "/roadmaps/small/tasks/a",
                                                                                100 * MB))) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        grown = rss_mb() - before
    assert [s.split()[1] for s, _ in outcomes] == ["413"] * 3
    assert all(sent < 20 * MB for _, sent in outcomes) and grown < 50, (outcomes, grown)


def test_a_chunked_post_to_a_route_that_reads_no_body_closes_the_connection(url):
    """Else the server reads (and throws away) the whole body after its answer."""
    with serving(make_app(url)) as port:
        status, sent = post_chunked(port, "/healthz", 50 * MB, past_the_answer=True)
    assert status.startswith("HTTP/1.1 405") and sent < 20 * MB, (status, sent)


def test_a_body_whose_length_is_over_the_cap_is_refused_before_it_is_sent(url):
    with serving(make_app(url)) as port:
        conn = socket.create_connection(("127.0.0.1", port), timeout=5)
        conn.sendall(b"POST /roadmaps/small/tasks/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 524288000\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n\r\n" + b"x" * 1000)
        started = time.perf_counter()
        status = first_line(conn)
    assert status.startswith("HTTP/1.1 413") and time.perf_counter() - started < 2


def test_the_413_page_is_in_the_roadmaps_language_and_the_cap_is_a_setting(url, monkeypatch):
    monkeypatch.setenv("ROADMAP_WEB_MAX_BODY_BYTES", "10000")
    client = client_at(make_app(url), "127.0.0.1")
    page = client.get(link()).text
    data = {**form_fields(page, "blocked"), "reason": "я" * 2000}  # 12 KB URL-encoded
    r = client.post("/roadmaps/small/tasks/a", data=data, follow_redirects=False)
    assert r.status_code == 413 and "Текст слишком длинный" in r.text and r.headers["connection"] == "close"


def test_the_longest_legit_form_fits_under_the_default_cap(url):
    client = client_at(make_app(url), "127.0.0.1")
    page = client.get(link()).text
    data = {**form_fields(page, "blocked"), "reason": "😀" * 2000}  # 4 bytes each, 24 KB URL-encoded
    assert client.post("/roadmaps/small/tasks/a", data=data, follow_redirects=False).status_code == 303


# --- password guessing is slowed ---------------------------------------------------------------


def test_guessing_from_one_address_gets_429_after_ten_failures_and_others_still_sign_in(url):
    app = make_app(url)
    guesser, office = client_at(app, "203.0.113.7"), client_at(app, "198.51.100.2")
    answers = [guesser.get("/roadmaps/small", auth=("office", f"guess{i}")).status_code for i in range(200)]
    assert answers[:10] == [401] * 10 and set(answers[10:]) == {429}
    r = guesser.get("/roadmaps/small", auth=("office", PASSWORD))  # right at last, but no longer compared
    assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 600
    assert "Слишком много неверных паролей" in r.text and "10 мин" in r.text
    # refused guesses are not counted: the 190 after the block did not use up the account's 100
    assert office.get("/roadmaps/small", auth=("office", PASSWORD)).status_code == 200


def test_guessing_from_many_addresses_stops_password_sign_in_for_the_window_but_not_office_links(url, monkeypatch):
    monkeypatch.setenv("ROADMAP_WEB_SIGN_IN_FAILURES_PER_CLIENT", "3")
    monkeypatch.setenv("ROADMAP_WEB_SIGN_IN_FAILURES_TOTAL", "12")
    app = make_app(url)
    for n in range(4):  # a small botnet: 3 guesses from each of 4 addresses
        bot = client_at(app, f"203.0.113.{n}")
        assert [bot.get("/roadmaps/small", auth=("x", "guess")).status_code for _ in range(3)] == [401] * 3
    office = client_at(app, "198.51.100.2")
    assert office.get("/roadmaps/small", auth=("office", PASSWORD)).status_code == 429
    token = sign_office_token(KEY, "small", expiry_for(DAY))
    assert office.get(f"/roadmaps/small?token={token}").status_code == 200
    with time_machine.travel(time.time() + 601, tick=False):  # the window has passed
        assert office.get("/roadmaps/small", auth=("office", PASSWORD)).status_code == 200


def test_each_wrong_password_is_logged_without_the_password(url, caplog):
    client = client_at(make_app(url), "203.0.113.9")
    with caplog.at_level(logging.WARNING, logger="roadmap.web"):
        client.get("/roadmaps/small", auth=("mallory", "s3cret-guess"))
        client.get("/roadmaps/small", auth=("mallory", "another-guess"))
    lines = [r.getMessage() for r in caplog.records if r.name == "roadmap.web"]
    assert len(lines) == 2 and all("203.0.113.9" in ln and "mallory" in ln for ln in lines)
    assert "2 of 10" in lines[1] and not any("guess" in ln for ln in lines)


def test_a_browser_asking_without_credentials_is_not_counted(url):
    client = client_at(make_app(url), "203.0.113.10")
    assert {client.get("/roadmaps/small").status_code for _ in range(30)} == {401}
    assert client.get("/roadmaps/small", auth=("office", PASSWORD)).status_code == 200


# --- security headers on every response ------------------------------------------------------


def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
    raise RuntimeError("a bug in a page")


@pytest.mark.parametrize("case, status", [
    ("unknown path", 404), ("wrong method", 405), ("bad query value", 422), ("server error", 500),
    ("healthz", 200), ("report download", 200), ("sign in", 401), ("a redirect after a change", 303),
    ("too long", 413), ("too many attempts", 429),
])
def test_every_response_carries_the_security_headers(url, tmp_path, monkeypatch, case, status):
    app = make_app(url)
    client = client_at(app, "127.0.0.1", raise_server_exceptions=False)
    office = ("office", PASSWORD)
    if case == "unknown path":
        r = client.get("/nothing/here")
    elif case == "wrong method":
        r = client.post("/healthz")
    elif case == "bad query value":
        r = client.get(f"{link()}&moved=many")
    elif case == "server error":
        monkeypatch.setattr("web.routes_roadmap.roadmap_page", boom)
        r = client.get("/roadmaps/small", auth=office)
    elif case == "healthz":
        r = client.get("/healthz")
    elif case == "report download":
        (tmp_path / "reports").mkdir(exist_ok=True)
        (tmp_path / "reports" / "small-2014-W46.docx").write_bytes(b"report")
        r = client.get("/roadmaps/small/report.docx", auth=office)
    elif case == "sign in":
        r = client.get("/roadmaps/small")
    elif case == "a redirect after a change":
        page = client.get(link()).text
        r = client.post("/roadmaps/small/tasks/a", data={**form_fields(page, "progress"), "progress": "20"},
                        follow_redirects=False)
    elif case == "too long":
        r = client.post("/roadmaps/small/tasks/a", content=b"x" * 70_000)
    else:
        for _ in range(11):
            r = client.get("/roadmaps/small", auth=("office", "wrong"))
    assert r.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, name
    assert r.headers["cache-control"] == "no-store"
    assert len(r.headers.get_list("content-security-policy")) == 1
