"""Real SMTP servers on loopback for tests (aiosmtpd).

``SmtpRecorder`` is a plain class so that any test, and any test that drives a
sending subprocess, can start one, point a transport at ``host:port`` and read back
what arrived. It records the envelope and raw bytes of every message, which TCP
connection brought it, and can refuse chosen recipients (550) or defer them (451).

It also runs on its own, writing each message to a folder, for a sender in another
process: ``python -m tests.smtp_fixtures --port 2525 --spool /tmp/spool``.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

SMTP_USER = "roadmap-bot"
SMTP_PASSWORD = "correct-horse-battery-42"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now: the address of a server that is down."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    connection: int  # 1-based number of the TCP connection that delivered it

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


class _Handler:
    def __init__(self, recorder: SmtpRecorder):
        self.recorder = recorder

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.recorder.refuse:
            return self.recorder.refusal
        if address in self.recorder.tempfail:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.recorder.data_delay:
            # Lets a test kill the sender while the server is still "working".
            await asyncio.sleep(self.recorder.data_delay)
        self.recorder._record(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=bytes(envelope.original_content or envelope.content or b""),
                connection=getattr(server, "connection_no", 0),
            )
        )
        if self.recorder.reply_delay:
            await asyncio.sleep(self.recorder.reply_delay)  # a slow relay: kept, but slow to say so
        return "250 2.0.0 Message accepted for delivery"


class _Controller(Controller):
    """Numbers each TCP connection and supports port 0 (the OS picks a free port)."""

    def __init__(self, recorder: SmtpRecorder, **kwargs: object):
        super().__init__(_Handler(recorder), **kwargs)
        self.recorder = recorder

    def factory(self) -> SMTP:
        with warnings.catch_warnings():
            # "Requiring AUTH while not requiring TLS": deliberate, loopback only.
            warnings.simplefilter("ignore")
            smtp = SMTP(self.handler, **self.SMTP_kwargs)
        smtp.connection_no = self.recorder._next_connection()  # type: ignore[attr-defined]
        return smtp

    def _trigger_server(self) -> None:
        if self.port == 0:
            assert self.server is not None
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpRecorder:
    """An SMTP server in a background thread that keeps everything it receives.

    ``auth=(user, password)`` makes AUTH PLAIN/LOGIN mandatory (without TLS, which is
    fine on loopback); ``echo_credentials`` puts the offered password into the
    rejection text, as some broken servers do, to test that we scrub it.
    ``tls_context`` offers STARTTLS, ``ssl_context`` speaks TLS from the start.
    ``refuse`` / ``tempfail`` are sets of recipient addresses answered 550 / 451 and may
    be changed while the server runs; ``refusal`` is the reply to a refused one (a relay may
    put anything there). The port stays the same across stop()/start().
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        auth: tuple[str, str] | None = None,
        echo_credentials: bool = False,
        refuse: set[str] | None = None,
        tempfail: set[str] | None = None,
        refusal: str = "550 5.1.1 Mailbox unavailable",
        data_delay: float = 0.0,
        reply_delay: float = 0.0,
        tls_context: ssl.SSLContext | None = None,
        ssl_context: ssl.SSLContext | None = None,
        spool_dir: Path | None = None,
    ):
        self.host, self.port = host, port
        self.auth, self.echo_credentials = auth, echo_credentials
        self.refuse: set[str] = set(refuse or ())
        self.tempfail: set[str] = set(tempfail or ())
        self.refusal = refusal
        self.data_delay = data_delay
        self.reply_delay = reply_delay  # the message is kept at once; the 250 comes this much later
        self.tls_context = tls_context  # offered with STARTTLS, which is then required
        self.ssl_context = ssl_context  # implicit TLS from the first byte (port 465 style)
        self.spool_dir = spool_dir
        self.auth_attempts: list[tuple[str, bool]] = []  # (login, succeeded)
        self._received: list[Received] = []
        self._connections = 0
        self._lock = threading.Lock()
        self._controller: _Controller | None = None

    # -- lifecycle --

    def start(self) -> SmtpRecorder:
        kwargs: dict[str, object] = {"hostname": self.host, "port": self.port,
                                     "server_hostname": "localhost"}
        if self.auth is not None:
            kwargs.update(auth_required=True, auth_require_tls=False,
                          authenticator=self._authenticate)
        if self.tls_context is not None:
            kwargs.update(tls_context=self.tls_context, require_starttls=True)
        if self.ssl_context is not None:
            kwargs.update(ssl_context=self.ssl_context)
        controller = _Controller(self, **kwargs)
        controller.start()
        self.port = controller.port
        self._controller = controller
        with self._lock:
            self._connections = 0  # forget the controller's own start-up probe
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> SmtpRecorder:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what arrived --

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.received]

    @property
    def connections(self) -> int:
        """TCP connections accepted since start() (or the last clear())."""
        with self._lock:
            return self._connections

    def clear(self) -> None:
        with self._lock:
            self._received.clear()
            self._connections = 0
            self.auth_attempts.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Block until at least ``count`` messages arrived; for senders in other threads
        or processes."""
        deadline = time.monotonic() + timeout
        while len(received := self.received) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"got {len(received)} of {count} messages in {timeout}s")
            time.sleep(0.02)
        return received

    # -- called from the server thread --

    def _next_connection(self) -> int:
        with self._lock:
            self._connections += 1
            return self._connections

    def _record(self, item: Received) -> None:
        with self._lock:
            self._received.append(item)
            number = len(self._received)
        if self.spool_dir is not None:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
            (self.spool_dir / f"{number:06d}.eml").write_bytes(item.data)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        assert self.auth is not None
        # handled=False on failure: with aiosmtpd's default (handled=True) the server
        # sends no reply at all and the client hangs until its timeout.
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        ok = (login, password) == self.auth
        with self._lock:
            self.auth_attempts.append((login, ok))
        if ok:
            return AuthResult(success=True)
        echo = f"535 5.7.8 Bad credentials {login}:{password}" if self.echo_credentials else None
        return AuthResult(success=False, handled=False, message=echo)


# -- pytest fixtures --


@pytest.fixture
def smtp_server() -> Iterator[SmtpRecorder]:
    """An open SMTP server; add addresses to ``.refuse`` to get a 550 at RCPT."""
    with SmtpRecorder() as server:
        yield server


def smtp_env_vars(server: SmtpRecorder) -> dict[str, str]:
    """The settings that send to ``server``, without TLS, from roadmap@example.org: for the
    environment of a `roadmap` process a test starts."""
    return {"ROADMAP_SMTP_HOST": "127.0.0.1", "ROADMAP_SMTP_PORT": str(server.port),
            "ROADMAP_SMTP_SECURITY": "none", "ROADMAP_MAIL_FROM": "roadmap@example.org"}


def point_settings_at(server: SmtpRecorder, monkeypatch: pytest.MonkeyPatch) -> SmtpRecorder:
    """Make the application's settings (here and in child processes, which inherit the
    environment) send to ``server`` (``smtp_env_vars``)."""
    from config import reset_settings_cache

    for name, value in smtp_env_vars(server).items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    return server


@pytest.fixture
def smtp_env(monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpRecorder) -> SmtpRecorder:
    """An open SMTP server that the settings point at."""
    return point_settings_at(smtp_server, monkeypatch)


@pytest.fixture
def smtp_server_auth() -> Iterator[SmtpRecorder]:
    """A server that requires AUTH as SMTP_USER / SMTP_PASSWORD."""
    with SmtpRecorder(auth=(SMTP_USER, SMTP_PASSWORD)) as server:
        yield server


@pytest.fixture
def smtp_down_port() -> int:
    """A loopback port with no server behind it."""
    return free_port()


def main() -> None:
    parser = argparse.ArgumentParser(description="Record SMTP mail into a folder.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--spool", type=Path, required=True)
    args = parser.parse_args()
    with SmtpRecorder(args.host, args.port, spool_dir=args.spool) as server:
        print(f"listening on {server.host}:{server.port}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
