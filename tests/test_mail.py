"""The mail layer: the .ics attachment, MIME building, and delivery
through a real SMTP server on loopback (tests/smtp_fixtures.py)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import sys
import threading
import traceback
from datetime import date, datetime, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from config.settings import Settings
from models.ics import Deadline, build_ics
from tasks.mail import (
    Attachment,
    FolderTransport,
    InvalidAddress,
    OutgoingMessage,
    SendError,
    SmtpTransport,
    build_mime,
    make_message_id,
    message_bytes,
    sanitise,
    transport_from_settings,
)
from tests.smtp_fixtures import SMTP_PASSWORD, SMTP_USER, SmtpRecorder

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ICS_TYPE = "text/calendar; method=PUBLISH; charset=utf-8"


def deadline(sequence: int = 1, due: date = date(2014, 11, 15)) -> Deadline:
    return Deadline(uid="task-42@roadmap.example", sequence=sequence,
                    summary="Сдать отчёт по вехе", due=due, url="https://roadmap.example/t/42")


def reminder(**changes: object) -> OutgoingMessage:
    fields: dict[str, object] = dict(
        message_id=make_message_id("roadmap.example"),
        sender="Офис дорожной карты <office@roadmap.example>",
        to=("Иван Петров <ivan@example.org>",),
        subject="Напоминание: 3 задачи до 15 ноября",
        text="Здравствуйте, Иван!\nСрок — 15 ноября 2014 г.",
        html="<p>Здравствуйте, <b>Иван</b>!</p><p>Срок — 15 ноября 2014 г.</p>",
        attachments=(
            Attachment("deadlines.ics", ICS_TYPE, build_ics([deadline()])),
            Attachment("отчёт.docx", DOCX, b"PK\x03\x04 not really a docx"),
        ),
    )
    fields.update(changes)
    return OutgoingMessage(**fields)  # type: ignore[arg-type]


def text_of(part: EmailMessage) -> str:
    """Decoded text with the wire's CRLF line ends turned back into "\n"."""
    return part.get_content().replace("\r\n", "\n").strip()


def smtp(server: SmtpRecorder, **kwargs: object) -> SmtpTransport:
    kwargs.setdefault("sleep", lambda seconds: None)
    kwargs.setdefault("timeout", 5.0)
    return SmtpTransport(server.host, server.port, "none", **kwargs)  # type: ignore[arg-type]


# --- ics ----------------------------------------------------------------------------

def test_ics_has_a_todo_and_an_all_day_event_per_deadline() -> None:
    cal = Calendar.from_ical(build_ics([deadline(sequence=3)]))
    assert str(cal["method"]) == "PUBLISH"
    (todo,) = cal.walk("VTODO")
    (event,) = cal.walk("VEVENT")
    assert str(todo["uid"]) == "task-42@roadmap.example"
    assert str(event["uid"]) == "task-42@roadmap.example-event"
    assert todo.decoded("due") == date(2014, 11, 15)
    assert type(todo.decoded("due")) is date  # a DATE, not a DATE-TIME
    assert (event.decoded("dtstart"), event.decoded("dtend")) == (date(2014, 11, 15),
                                                                 date(2014, 11, 16))
    assert int(todo["sequence"]) == int(event["sequence"]) == 3
    assert str(todo["summary"]) == "Сдать отчёт по вехе"
    assert todo.get("dtstamp") is not None and event.get("dtstamp") is not None


def test_moved_deadline_keeps_its_uids_and_raises_sequence() -> None:
    before = Calendar.from_ical(build_ics([deadline(1)]))
    after = Calendar.from_ical(build_ics([deadline(2, due=date(2014, 11, 20))]))
    uids = lambda cal: sorted(str(c["uid"]) for c in cal.walk() if "uid" in c)  # noqa: E731
    assert uids(before) == uids(after)
    assert [int(c["sequence"]) for c in after.walk("VTODO")] == [2]


def test_ics_is_reproducible_with_a_fixed_clock() -> None:
    now = datetime(2014, 11, 1, 9, 0, tzinfo=timezone.utc)
    assert build_ics([deadline()], now=now) == build_ics([deadline()], now=now)


# --- MIME ---------------------------------------------------------------------------

def test_mime_is_mixed_alternative_with_real_plain_text_and_attachments() -> None:
    msg = reminder()
    parsed = message_from_bytes(message_bytes(msg), policy=policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    alternative, ics, docx = parsed.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, html = alternative.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert text_of(plain) == msg.text
    assert "<" not in plain.get_content()
    assert html.get_content_type() == "text/html" and "<b>Иван</b>" in html.get_content()
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_param("method") == "PUBLISH" and ics.get_content_charset() == "utf-8"
    assert docx.get_content_type() == DOCX and docx.get_filename() == "отчёт.docx"
    assert docx.get_content() == b"PK\x03\x04 not really a docx"
    assert parsed["Message-ID"] == msg.message_id
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Date"] is not None


def test_text_only_message_stays_simple() -> None:
    parsed = build_mime(reminder(html=None, attachments=()))
    assert parsed.get_content_type() == "text/plain"


def test_subject_with_crlf_cannot_add_a_header() -> None:
    raw = message_bytes(reminder(subject="Hi\r\nBcc: evil@x\nX-Evil: 1"))
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert raw.count(b"\r\nSubject:") == 1
    assert parsed["Subject"] == "Hi  Bcc: evil@x X-Evil: 1"


def test_display_name_with_crlf_is_sanitised() -> None:
    parsed = build_mime(reminder(to=("Ivan\r\nBcc: evil@x <ivan@example.org>",)))
    assert parsed["Bcc"] is None
    assert parsed["To"].addresses[0].addr_spec == "ivan@example.org"
    assert parsed["To"].addresses[0].display_name == "Ivan  Bcc: evil@x"


@pytest.mark.parametrize("bad", [
    "ivan@example.org\r\nBcc: evil@x",
    "Ivan <ivan@example.org\r\nBcc: evil@x>",
    "ivan@exa\x00mple.org",
    "not an address",
    "ivan@example.org, evil@x.org",
    "@example.org",
    "иван@example.org",
])
def test_bad_recipient_is_rejected_naming_the_value(bad: str) -> None:
    with pytest.raises(InvalidAddress) as caught:
        build_mime(reminder(to=(bad,)))
    assert repr(bad) in str(caught.value)
    assert "\n" not in str(caught.value) and "\r" not in str(caught.value)


def test_bad_sender_is_rejected_too() -> None:
    with pytest.raises(InvalidAddress):
        build_mime(reminder(sender="office@roadmap.example\nBcc: evil@x"))


def test_extra_headers_cannot_replace_managed_ones() -> None:
    with pytest.raises(ValueError):
        build_mime(reminder(headers=(("To", "evil@x"),)))
    parsed = build_mime(reminder(headers=(("X-Roadmap-Task", "T-42\r\nBcc: evil@x"),)))
    assert parsed["X-Roadmap-Task"] == "T-42  Bcc: evil@x" and parsed["Bcc"] is None


@settings(max_examples=300, deadline=None)
@given(subject=st.text(max_size=300), data=st.binary(max_size=400))
def test_any_subject_and_attachment_survive_the_round_trip(subject: str, data: bytes) -> None:
    """Our own encoded words and base64 lines, read back by the email package: the same
    subject (controls made spaces), the same bytes, and no line over 78 characters."""
    blob = Attachment("a.bin", "application/octet-stream", data)
    msg = reminder(subject=subject, attachments=(blob,))
    raw = message_bytes(msg)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    parsed = message_from_bytes(raw, policy=policy.default)
    assert " ".join(parsed["Subject"].split()) == " ".join(sanitise(subject).split())
    attachment = list(parsed.iter_attachments())[-1]
    assert attachment.get_content() == data


def test_message_ids_are_unique_and_well_formed() -> None:
    ids = {make_message_id("roadmap.example") for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("<") and i.endswith("@roadmap.example>") for i in ids)
    with pytest.raises(ValueError):
        make_message_id("roadmap.example>\r\nBcc: x")


# --- SMTP delivery ------------------------------------------------------------------

def test_cyrillic_message_arrives_intact_with_our_message_id(smtp_server: SmtpRecorder) -> None:
    msg = reminder()
    with smtp(smtp_server) as transport:
        transport.send(msg)
    (got,) = smtp_server.received
    assert got.mail_from == "office@roadmap.example"
    assert got.rcpt_tos == ("ivan@example.org",)
    parsed = got.message
    assert parsed["Subject"] == "Напоминание: 3 задачи до 15 ноября"
    assert parsed["Message-ID"] == msg.message_id
    assert parsed["From"].addresses[0].display_name == "Офис дорожной карты"
    assert parsed["To"].addresses[0].display_name == "Иван Петров"
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert text_of(plain) == msg.text
    assert "Здравствуйте, <b>Иван</b>!" in html.get_content()
    (ics_part,) = [p for p in parsed.iter_attachments() if p.get_content_type() == "text/calendar"]
    cal = Calendar.from_ical(ics_part.get_content())
    (todo,) = cal.walk("VTODO")
    assert (str(todo["uid"]), int(todo["sequence"]), todo.decoded("due")) == (
        "task-42@roadmap.example", 1, date(2014, 11, 15))


def test_a_batch_uses_one_connection(smtp_server: SmtpRecorder) -> None:
    with smtp(smtp_server) as transport:
        for _ in range(3):
            transport.send(reminder())
    assert len(smtp_server.received) == 3
    assert smtp_server.connections == 1
    assert {r.connection for r in smtp_server.received} == {1}
    assert transport.connect_attempts == 1


def test_reconnects_after_the_server_restarts(smtp_server: SmtpRecorder) -> None:
    sleeps: list[float] = []
    with smtp(smtp_server, sleep=sleeps.append) as transport:
        transport.send(reminder())
        smtp_server.stop()
        smtp_server.start()  # same port, the old connection is gone
        transport.send(reminder())
    assert len(smtp_server.received) == 2
    assert transport.connect_attempts == 2
    assert len(sleeps) == 1


def test_server_down_is_transient_after_the_configured_retries(smtp_down_port: int) -> None:
    sleeps: list[float] = []
    transport = SmtpTransport("127.0.0.1", smtp_down_port, "none", retries=3, backoff=0.5,
                              sleep=sleeps.append, timeout=2.0)
    with transport, pytest.raises(SendError) as caught:
        transport.send(reminder())
    assert caught.value.permanent is False
    assert transport.connect_attempts == 4  # the first try and three retries
    assert sleeps == [0.5, 1.0, 2.0]


def test_each_attempt_is_a_new_connection_when_the_server_hangs_up() -> None:
    """Counted on the server side: a listener that accepts and closes at once."""
    accepted = 0
    listener = socket.create_server(("127.0.0.1", 0))

    def hang_up() -> None:
        nonlocal accepted
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted += 1
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    sleeps: list[float] = []
    transport = SmtpTransport("127.0.0.1", listener.getsockname()[1], "none", retries=2,
                              backoff=0.1, sleep=sleeps.append, timeout=2.0)
    try:
        with transport, pytest.raises(SendError) as caught:
            transport.send(reminder())
    finally:
        listener.close()
    assert caught.value.permanent is False
    assert "ServerDisconnected" in str(caught.value)
    assert accepted == 3 and sleeps == [0.1, 0.2]


def test_delivery_succeeds_when_the_server_comes_back(smtp_down_port: int) -> None:
    server = SmtpRecorder(port=smtp_down_port)

    def start_server_while_we_wait(seconds: float) -> None:
        if not server.running:
            server.start()

    transport = SmtpTransport("127.0.0.1", smtp_down_port, "none", retries=3,
                              sleep=start_server_while_we_wait, timeout=2.0)
    try:
        with transport:
            transport.send(reminder())
        assert len(server.received) == 1
        assert transport.connect_attempts == 2
    finally:
        server.stop()


def test_refused_recipient_is_permanent_and_the_batch_goes_on(smtp_server: SmtpRecorder) -> None:
    smtp_server.refuse.add("gone@example.org")
    with smtp(smtp_server) as transport:
        with pytest.raises(SendError) as caught:
            transport.send(reminder(to=("gone@example.org",)))
        transport.send(reminder())
    assert caught.value.permanent is True and caught.value.smtp_code == 550
    assert "gone@example.org" in str(caught.value)
    assert [r.rcpt_tos for r in smtp_server.received] == [("ivan@example.org",)]
    assert smtp_server.connections == 1


def test_partly_refused_message_is_permanent_not_resent(smtp_server: SmtpRecorder) -> None:
    smtp_server.refuse.add("gone@example.org")
    with smtp(smtp_server) as transport, pytest.raises(SendError) as caught:
        transport.send(reminder(to=("ivan@example.org", "gone@example.org")))
    assert caught.value.permanent is True
    assert [r.rcpt_tos for r in smtp_server.received] == [("ivan@example.org",)]


def test_deferred_recipient_is_retried_then_transient(smtp_server: SmtpRecorder) -> None:
    smtp_server.tempfail.add("busy@example.org")
    sleeps: list[float] = []
    with smtp(smtp_server, retries=2, sleep=sleeps.append) as transport:
        with pytest.raises(SendError) as caught:
            transport.send(reminder(to=("busy@example.org",)))
    assert caught.value.permanent is False and caught.value.smtp_code == 451
    assert len(sleeps) == 2 and smtp_server.received == []


def test_bad_address_fails_permanently_without_connecting(smtp_server: SmtpRecorder) -> None:
    with smtp(smtp_server) as transport, pytest.raises(SendError) as caught:
        transport.send(reminder(to=("ivan@example.org\r\nBcc: evil@x",)))
    assert caught.value.permanent is True
    assert smtp_server.connections == 0


def test_correct_login_delivers(smtp_server_auth: SmtpRecorder) -> None:
    with smtp(smtp_server_auth, user=SMTP_USER, password=SMTP_PASSWORD) as transport:
        transport.send(reminder())
        transport.send(reminder())
    assert len(smtp_server_auth.received) == 2
    # yagmail would have logged in as "roadmap-bot@gmail.com"
    assert smtp_server_auth.auth_attempts == [(SMTP_USER, True)]


def test_wrong_password_fails_once_without_leaking_it() -> None:
    secret = "Wr0ng-Secret-Pa55"
    with SmtpRecorder(auth=(SMTP_USER, SMTP_PASSWORD), echo_credentials=True) as server:
        with smtp(server, user=SMTP_USER, password=secret, retries=3) as transport:
            errors = []
            for _ in range(2):
                with pytest.raises(SendError) as caught:
                    transport.send(reminder())
                errors.append(caught.value)
        # One login for the whole batch: retries would get the account locked. (smtplib's
        # login() itself tries each mechanism the server offers, PLAIN then LOGIN.)
        assert server.connections == 1 and transport.connect_attempts == 1
        assert {ok for _, ok in server.auth_attempts} == {False}
    for error in errors:
        assert error.permanent is False
        assert "authentication failed" in str(error)
        rendered = "".join(traceback.format_exception(error)) + repr(error)
        assert secret not in rendered
        assert "***" in str(errors[0])  # the server echoed it; we scrubbed it


def test_non_ascii_password_is_a_clear_error_not_a_crash(smtp_server_auth: SmtpRecorder) -> None:
    with smtp(smtp_server_auth, user=SMTP_USER, password="пароль-42") as transport:
        with pytest.raises(SendError, match="ASCII") as caught:
            transport.send(reminder())
    assert caught.value.permanent is False and "пароль" not in str(caught.value)


def test_server_requiring_login_without_user_is_a_config_error(
        smtp_server_auth: SmtpRecorder) -> None:
    with smtp(smtp_server_auth) as transport, pytest.raises(SendError) as caught:
        transport.send(reminder())
    assert caught.value.permanent is False and "authentication" in str(caught.value)


def test_missing_password_never_prompts(smtp_server_auth: SmtpRecorder,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # as if keyring were not installed
    monkeypatch.setattr("getpass.getpass", lambda *a, **k: pytest.fail("prompted"))
    with smtp(smtp_server_auth, user=SMTP_USER, password=None) as transport:
        with pytest.raises(SendError, match="no SMTP password") as caught:
            transport.send(reminder())
    assert caught.value.permanent is False
    assert smtp_server_auth.connections == 0


# --- TLS: certificates are checked, unlike smtplib's default ---------------------------

@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not available")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def test_starttls_refuses_an_untrusted_certificate_and_accepts_a_trusted_one(
        self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    with SmtpRecorder(tls_context=server_ctx) as server:
        untrusting = SmtpTransport(server.host, server.port, "starttls", timeout=5.0,
                                   sleep=lambda s: None)
        with untrusting, pytest.raises(SendError) as caught:
            untrusting.send(reminder())
        assert caught.value.permanent is False and untrusting.connect_attempts == 1
        assert server.received == []

        trusting = SmtpTransport(server.host, server.port, "starttls", timeout=5.0,
                                 tls_context=ssl.create_default_context(cafile=str(cert)))
        with trusting:
            trusting.send(reminder())
        assert len(server.received) == 1


def test_implicit_tls_checks_the_certificate_too(self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    with SmtpRecorder(ssl_context=server_ctx) as server:
        untrusting = SmtpTransport(server.host, server.port, "ssl", timeout=5.0,
                                   sleep=lambda s: None)
        with untrusting, pytest.raises(SendError, match="CERTIFICATE_VERIFY_FAILED"):
            untrusting.send(reminder())
        trusting = SmtpTransport(server.host, server.port, "ssl", user=None, timeout=5.0,
                                 tls_context=ssl.create_default_context(cafile=str(cert)))
        with trusting:
            trusting.send(reminder())
        assert len(server.received) == 1


# --- the outbox folder ----------------------------------------------------------------

def test_folder_transport_writes_one_file_per_message_id(tmp_path: Path) -> None:
    msg, other = reminder(), reminder()
    with FolderTransport(tmp_path / "outbox") as transport:
        transport.send(msg)
        transport.send(msg)  # a re-run: same id, same file
        transport.send(other)
    files = sorted((tmp_path / "outbox").iterdir())
    assert len(files) == 2
    assert all(f.suffix == ".eml" for f in files)  # no temporary files left behind
    by_id = {message_from_bytes(f.read_bytes(), policy=policy.default)["Message-ID"]: f
             for f in files}
    assert set(by_id) == {msg.message_id, other.message_id}
    parsed = message_from_bytes(by_id[msg.message_id].read_bytes(), policy=policy.default)
    assert parsed["Subject"] == msg.subject
    assert text_of(parsed.get_body(preferencelist=("plain",))) == msg.text


def test_transport_follows_the_settings(tmp_path: Path) -> None:
    folder = transport_from_settings(Settings(smtp_host=None, outbox_dir=tmp_path))
    assert isinstance(folder, FolderTransport) and folder.directory == tmp_path
    remote = transport_from_settings(Settings(smtp_host="mail.example.org", smtp_security="ssl",
                                              smtp_user="bot", smtp_password="pw"))
    assert isinstance(remote, SmtpTransport)
    assert (remote.host, remote.port, remote.security, remote.user) == (
        "mail.example.org", 465, "ssl", "bot")
