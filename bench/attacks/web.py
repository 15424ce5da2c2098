"""Hostile requests to the roadmap web app (issue 11, points 5-7).

Each attack starts uvicorn in a thread on a free port of 127.0.0.1, serving the checkout's app
on the example roadmap (examples/open-workshop-moscow.yaml, imported into the attack's SQLite
database), and talks to it over a socket: the peak RSS the runner reports is server and client
together (the client's share is a few MB: it sends the same chunk again and again).
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from attacks import attack, cli

PASSWORD = "office-password-2014"
ENV = {"ROADMAP_SECRET_KEY": "attack-bench-secret-key-0123456789", "ROADMAP_WEB_PASSWORD": PASSWORD}
ROADMAP = "open-workshop-moscow"
MB = 1 << 20


@contextmanager
def serving(import_example: bool = False) -> Iterator[int]:
    """The checkout's web app under uvicorn (as `roadmap web` runs it) in a thread; its port."""
    import uvicorn

    from config import Settings
    from web.app import create_app

    if import_example:
        cli("import", str(Path(os.environ["ROADMAP_CODE"]) / "examples" / f"{ROADMAP}.yaml"))
    app = create_app(settings=Settings())
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as uvicorn's own bind does; else 40 ms a request
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", access_log=False, proxy_headers=True))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)


def post_chunked(port: int, total: int, chunk: int = 256 * 1024) -> tuple[str, int, float]:
    """A chunked POST of ``total`` bytes to a task page, sent as fast as the server takes it, until
    it answers or drops the connection: the status, the bytes it let in, the seconds it took."""
    start = time.perf_counter()
    conn = socket.create_connection(("127.0.0.1", port), timeout=60)
    conn.sendall(f"POST /roadmaps/{ROADMAP}/tasks/t01 HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                 "Content-Type: application/x-www-form-urlencoded\r\n\r\n".encode())
    piece = f"{chunk:x}\r\n".encode() + b"x" * chunk + b"\r\n"
    sent = 0
    try:
        while sent < total and not select.select([conn], [], [], 0)[0]:
            conn.sendall(piece)
            sent += chunk
        if sent >= total:
            conn.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    data = b""
    try:
        while b"\r\n" not in data and (more := conn.recv(4096)):
            data += more
    except OSError:
        pass
    conn.close()
    status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "no answer"
    return status, sent, time.perf_counter() - start


@attack("web: one chunked POST of 200 MB", __name__, ENV)
def big_post(tmp: Path) -> str:
    with serving() as port:
        status, sent, seconds = post_chunked(port, 200 * MB)
    return f"{status} after {seconds:.2f} s, server let in {sent / MB:.0f} MB of 200"


@attack("web: three chunked POSTs of 200 MB at once", __name__, ENV)
def three_big_posts(tmp: Path) -> str:
    with serving() as port:
        outcomes: list[tuple[str, int, float]] = []
        threads = [threading.Thread(target=lambda: outcomes.append(post_chunked(port, 200 * MB))) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    statuses = " ".join(sorted(s for s, _, _ in outcomes))
    return (f"{statuses} after {max(s for _, _, s in outcomes):.2f} s, "
            f"server let in {sum(n for _, n, _ in outcomes) / MB:.0f} MB of 600")


@attack("web: password guessing for 5 s", __name__, ENV)
def password_guessing(tmp: Path) -> str:
    import httpx

    with serving(import_example=True) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        statuses: list[int] = []
        start = time.perf_counter()
        while time.perf_counter() - start < 5:
            statuses.append(client.get(f"/roadmaps/{ROADMAP}", auth=("office", f"guess-{len(statuses)}")).status_code)
        seconds = time.perf_counter() - start
        last = client.get(f"/roadmaps/{ROADMAP}", auth=("office", PASSWORD))
        # another address (through a trusted proxy on 127.0.0.1, as behind nginx) with the right password
        other = client.get(f"/roadmaps/{ROADMAP}", auth=("office", PASSWORD), headers={"X-Forwarded-For": "192.0.2.7"})
    checked = statuses.count(401)
    if 429 in statuses:
        rate = f"then 429 from try {statuses.index(429) + 1} (Retry-After {last.headers.get('retry-after')} s)"
    else:
        rate = f"{checked / seconds:.0f}/s, no 429"
    return (f"{len(statuses)} tries in {seconds:.0f} s: {checked} passwords checked, {rate}; "
            f"the right one then: {last.status_code} here, {other.status_code} from another address")


@attack("web: security headers on 404/405/422/500/healthz/report", __name__, ENV)
def headers_everywhere(tmp: Path) -> str:
    import datetime as dt
    from urllib.parse import urlsplit

    import httpx

    import web.routes_roadmap
    from tasks.render_mail import task_links

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in a page")

    reports = Path(os.environ["ROADMAP_REPORTS_DIR"])
    reports.mkdir(parents=True, exist_ok=True)
    (reports / f"{ROADMAP}-2015-W10.docx").write_bytes(b"report")
    with serving(import_example=True) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        links = task_links(ENV["ROADMAP_SECRET_KEY"], "http://x", ROADMAP, "t01", "pmo-head", dt.date.today())
        link = urlsplit(links.page)
        task_page = f"{link.path}?{link.query}"
        office = ("office", PASSWORD)
        answers = {
            "404": client.get("/nothing/here"),
            "405": client.post("/healthz"),
            "422": client.get(f"{task_page}&moved=many"),  # a genuine link, a query value of the wrong type
            "healthz": client.get("/healthz"),
            "report": client.get(f"/roadmaps/{ROADMAP}/report.docx", auth=office),
        }
        web.routes_roadmap.roadmap_page = boom  # type: ignore[assignment]
        answers["500"] = client.get(f"/roadmaps/{ROADMAP}", auth=office)
    wanted = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")
    missing = [f"{name} ({r.status_code})" for name, r in answers.items() if not all(h in r.headers for h in wanted)]
    got = " ".join(str(r.status_code) for r in answers.values())
    return f"{got}: headers missing on {', '.join(missing)}" if missing else f"{got}: all carry the headers"
