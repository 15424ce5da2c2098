"""The mail layer: the .ics attachment, messages built by the standard
library (read back with the email package), and delivery through a real SMTP server on
loopback (tests/smtp_fixtures.py), logged in with a password, the keyring or OAuth2."""

from __future__ import annotations

import base64
import email.message
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
import traceback
import urllib.error
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, MIMEPart
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import pytest
import yagmail  # type: ignore[import-untyped]
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from config.settings import Settings
from models.addresses import InvalidAddress, mailbox, parse_address, sanitise
from models.ics import Deadline, build_ics
from tasks.mail import FolderTransport, SendError, SmtpTransport, prepare, transport_from_settings
from tasks.mail_message import Attachment, OutgoingMessage, attachment_name, make_message_id, message_bytes
from tasks.smtp_login import default_tls_context
from tests.smtp_fixtures import SMTP_PASSWORD, SMTP_USER, SmtpRecorder, free_port

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


def text_of(part: MIMEPart | None) -> str:
    """Decoded text with the wire's CRLF line ends turned back into "\n"."""
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n").strip()


def wire(msg: OutgoingMessage) -> bytes:
    return prepare(msg).data


def parse(msg: OutgoingMessage) -> EmailMessage:
    """The message as any mail client reads it."""
    return message_from_bytes(wire(msg), policy=policy.default)  # type: ignore[return-value]


def send(transport: SmtpTransport | FolderTransport, msg: OutgoingMessage) -> None:
    transport.send_prepared(prepare(msg))


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
    now = datetime(2014, 11, 1, 9, 0, tzinfo=UTC)
    assert build_ics([deadline()], now=now) == build_ics([deadline()], now=now)


# --- building ---------------------------------------------------------------------

def test_mime_is_mixed_alternative_with_real_plain_text_and_attachments() -> None:
    msg = reminder()
    parsed = parse(msg)
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


def test_names_in_cyrillic_are_encoded_words_and_read_back() -> None:
    raw = wire(reminder())
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"=?utf-8?" in head  # RFC 2047, nothing raw on the wire
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "Напоминание: 3 задачи до 15 ноября"
    assert str(parsed["From"].addresses[0]) == "Офис дорожной карты <office@roadmap.example>"
    assert str(parsed["To"].addresses[0]) == "Иван Петров <ivan@example.org>"


def test_a_long_cyrillic_subject_keeps_every_space() -> None:
    """The policy's own folder drops the space between two encoded words (CPython gh-144156)."""
    subject = ("Напоминание: 3 задачи до 15 ноября — очень длинная тема письма, "
               "которая точно не уместится в одну строку заголовка")
    raw = wire(reminder(subject=subject))
    assert raw.count(b"\r\n =?utf-8?") >= 2  # folded
    assert message_from_bytes(raw, policy=policy.default)["Subject"] == subject


def test_sender_with_a_display_name_goes_in_from_and_its_address_in_the_envelope() -> None:
    msg = reminder(sender="Проектный офис <pmo@example.org>")
    prepared = prepare(msg)
    assert prepared.sender == "pmo@example.org"
    assert prepared.recipients == ("ivan@example.org",)
    (sender,) = parse(msg)["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Проектный офис", "pmo@example.org")


def test_message_id_date_and_reply_to_are_the_ones_given() -> None:
    msg = reminder(headers=(("Reply-To", "Проектный офис <pmo@example.org>"),))
    now = datetime(2014, 11, 10, 9, 30, tzinfo=UTC)
    parsed = message_from_bytes(message_bytes(msg, now=now), policy=policy.default)
    assert parsed["Message-ID"] == msg.message_id
    assert parsed["Date"].datetime == now
    (reply_to,) = parsed["Reply-To"].addresses
    assert (reply_to.display_name, reply_to.addr_spec) == ("Проектный офис", "pmo@example.org")


def test_bodies_are_7bit_so_any_relay_takes_them() -> None:
    """No 8BITMIME is asked for, so not one byte over 127 may go out."""
    assert wire(reminder()).isascii()


def test_text_only_message_stays_simple() -> None:
    parsed = parse(reminder(html=None, attachments=()))
    assert parsed.get_content_type() == "text/plain"
    assert text_of(parsed) == "Здравствуйте, Иван!\nСрок — 15 ноября 2014 г."


def test_subject_with_crlf_cannot_add_a_header() -> None:
    raw = wire(reminder(subject="Hi\r\nBcc: evil@x\nX-Evil: 1"))
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert raw.count(b"\r\nSubject:") == 1
    assert parsed["Subject"] == "Hi  Bcc: evil@x X-Evil: 1"


def test_display_name_with_crlf_is_sanitised() -> None:
    parsed = parse(reminder(to=(mailbox("Ivan\r\nBcc: evil@x", "ivan@example.org"),)))
    assert parsed["Bcc"] is None
    assert parsed["To"].addresses[0].addr_spec == "ivan@example.org"
    assert parsed["To"].addresses[0].display_name == "Ivan  Bcc: evil@x"


@pytest.mark.parametrize("two", ['"Bad" <x@y.org>, <z@evil.example>', "Bad, Name <z@evil.example>",
                                 "x@y.org <z@evil.example>", "a: b <z@evil.example>"])
def test_an_unquoted_name_that_could_hide_a_second_address_is_refused(two: str) -> None:
    with pytest.raises(InvalidAddress, match="one address only"):
        parse_address(two)


@pytest.mark.parametrize("bad", [
    "ivan@example.org\r\nBcc: evil@x",
    "Ivan <ivan@example.org\r\nBcc: evil@x>",
    "ivan@exa\x00mple.org",
    "not an address",
    "ivan@example.org, evil@x.org",
    "@example.org",
    "иван@example.org",
    "ivan@localhost",
    "ivan@exa_mple.org",
])
def test_bad_recipient_is_a_permanent_failure_naming_the_value(bad: str) -> None:
    with pytest.raises(SendError) as caught:
        prepare(reminder(to=(bad,)))
    assert caught.value.permanent is True
    assert repr(bad) in str(caught.value)
    assert "\n" not in str(caught.value) and "\r" not in str(caught.value)


def test_an_internationalised_domain_goes_out_as_punycode() -> None:
    assert prepare(reminder(to=("Иван <ivan@почта.рф>",))).recipients == ("ivan@xn--80a1acny.xn--p1ai",)


def test_bad_sender_or_reply_to_is_rejected_too() -> None:
    with pytest.raises(InvalidAddress):
        message_bytes(reminder(sender="office@roadmap.example\nBcc: evil@x"))
    with pytest.raises(InvalidAddress):
        message_bytes(reminder(headers=(("Reply-To", "Проектный офис <pmo@>"),)))


def test_extra_headers_cannot_replace_managed_ones() -> None:
    with pytest.raises(SendError, match="'To'"):
        prepare(reminder(headers=(("To", "evil@x"),)))
    parsed = parse(reminder(headers=(("X-Roadmap-Task", "T-42\r\nBcc: evil@x"),)))
    assert parsed["X-Roadmap-Task"] == "T-42  Bcc: evil@x" and parsed["Bcc"] is None


def test_no_header_the_message_sets_itself_can_be_added_twice() -> None:
    for name in parse(reminder()).keys():
        for spelling in (name, name.lower()):
            with pytest.raises(SendError, match="extra header name not allowed"):
                prepare(reminder(headers=((spelling, "x"),)))


@settings(max_examples=300, deadline=None)
@given(subject=st.text(max_size=300), name=st.text(max_size=40), data=st.binary(max_size=400))
def test_any_subject_name_and_attachment_survive_the_round_trip(subject: str, name: str,
                                                                data: bytes) -> None:
    """Read back by the email package: the same subject and file name (controls made
    spaces), the same bytes, and no line over 78 characters."""
    filename = sanitise(name).strip() or "a.bin"
    blob = Attachment(filename, "application/octet-stream", data)
    raw = wire(reminder(subject=subject, attachments=(blob,)))
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    parsed = message_from_bytes(raw, policy=policy.default)
    assert " ".join(parsed["Subject"].split()) == " ".join(sanitise(subject).split())
    attachment = list(parsed.iter_attachments())[-1]
    assert attachment.get_content() == data
    assert " ".join((attachment.get_filename() or "").split()) == " ".join(attachment_name(filename).split())


def test_message_ids_are_unique_and_well_formed() -> None:
    ids = {make_message_id("roadmap.example") for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("<") and i.endswith("@roadmap.example>") for i in ids)
    with pytest.raises(ValueError):
        make_message_id("roadmap.example>\r\nBcc: x")


def test_the_sender_setting_takes_a_display_name_and_refuses_a_malformed_address() -> None:
    from pydantic import ValidationError

    settings = Settings(mail_from="Проектный офис <pmo@example.org>")
    assert settings.mail_from_domain == "example.org"
    assert make_message_id(settings.mail_from_domain).endswith("@example.org>")
    with pytest.raises(ValidationError, match="not a valid e-mail"):
        Settings(mail_from="Проектный офис <pmo@>")


# --- SMTP delivery ------------------------------------------------------------------

def test_cyrillic_message_arrives_intact_with_our_message_id(smtp_server: SmtpRecorder) -> None:
    msg = reminder()
    with smtp(smtp_server) as transport:
        send(transport, msg)
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


def test_what_arrives_is_exactly_the_prepared_bytes(smtp_server: SmtpRecorder) -> None:
    """The outbox keeps these bytes when it records a message: a resend is byte-identical."""
    prepared = prepare(reminder())
    with smtp(smtp_server) as transport:
        transport.send_prepared(prepared)
        transport.send_prepared(prepared)
    assert [r.data for r in smtp_server.received] == [prepared.data] * 2


def test_a_batch_uses_one_connection(smtp_server: SmtpRecorder) -> None:
    with smtp(smtp_server) as transport:
        for _ in range(3):
            send(transport, reminder())
    assert len(smtp_server.received) == 3
    assert smtp_server.connections == 1
    assert {r.connection for r in smtp_server.received} == {1}
    assert transport.connect_attempts == 1


def test_reconnects_after_the_server_restarts(smtp_server: SmtpRecorder) -> None:
    sleeps: list[float] = []
    with smtp(smtp_server, sleep=sleeps.append) as transport:
        send(transport, reminder())
        smtp_server.stop()
        smtp_server.start()  # same port, the old connection is gone
        send(transport, reminder())
    assert len(smtp_server.received) == 2
    assert transport.connect_attempts == 2
    assert len(sleeps) == 1


def test_a_reply_that_comes_after_the_timeout_is_not_answered_with_more_copies(smtp_server: SmtpRecorder) -> None:
    """A slow relay keeps the message but replies after our timeout: the transport must not
    resend it on a new connection (old code: one copy per reconnect, four in all)."""
    smtp_server.reply_delay = 1.0
    sleeps: list[float] = []
    transport = SmtpTransport("127.0.0.1", smtp_server.port, "none", retries=3, sleep=sleeps.append, timeout=0.3)
    with transport, pytest.raises(SendError, match="may have arrived") as caught:
        send(transport, reminder())
    assert caught.value.permanent is False and caught.value.retry_in_run is True  # a later run sends it again
    smtp_server.wait_for(1, timeout=3.0)
    time.sleep(1.2)  # anything sent on a new connection would have arrived by now
    assert len(smtp_server.received) == 1
    assert transport.connect_attempts == 1 and sleeps == []
    smtp_server.reply_delay = 0.0
    with transport:  # the next message goes out on a fresh connection
        send(transport, reminder())
    assert len(smtp_server.received) == 2


def test_server_down_is_transient_after_the_configured_retries(smtp_down_port: int) -> None:
    sleeps: list[float] = []
    transport = SmtpTransport("127.0.0.1", smtp_down_port, "none", retries=3, backoff=0.5,
                              sleep=sleeps.append, timeout=2.0)
    with transport, pytest.raises(SendError) as caught:
        send(transport, reminder())
    assert caught.value.permanent is False
    assert transport.connect_attempts == 4  # the first try and three retries
    assert sleeps == [0.5, 1.0, 2.0]


def test_a_server_down_through_every_retry_fails_the_rest_of_the_batch_at_once(smtp_down_port: int) -> None:
    sleeps: list[float] = []
    transport = SmtpTransport("127.0.0.1", smtp_down_port, "none", retries=1, sleep=sleeps.append, timeout=2.0)
    with transport:
        for _ in range(2):
            with pytest.raises(SendError, match="unavailable") as caught:
                send(transport, reminder())
            assert caught.value.retry_in_run is False and caught.value.permanent is False
    assert transport.connect_attempts == 2 and len(sleeps) == 1  # no new tries for the second message


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
            send(transport, reminder())
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
            send(transport, reminder())
        assert len(server.received) == 1
        assert transport.connect_attempts == 2
    finally:
        server.stop()


def test_refused_recipient_is_permanent_and_the_batch_goes_on(smtp_server: SmtpRecorder) -> None:
    smtp_server.refuse.add("gone@example.org")
    with smtp(smtp_server) as transport:
        with pytest.raises(SendError) as caught:
            send(transport, reminder(to=("gone@example.org",)))
        send(transport, reminder())
    assert caught.value.permanent is True and caught.value.smtp_code == 550
    assert "gone@example.org" in str(caught.value)
    assert [r.rcpt_tos for r in smtp_server.received] == [("ivan@example.org",)]
    assert smtp_server.connections == 1


def test_partly_refused_message_is_permanent_not_resent(smtp_server: SmtpRecorder) -> None:
    smtp_server.refuse.add("gone@example.org")
    with smtp(smtp_server) as transport, pytest.raises(SendError) as caught:
        send(transport, reminder(to=("ivan@example.org", "gone@example.org")))
    assert caught.value.permanent is True
    assert [r.rcpt_tos for r in smtp_server.received] == [("ivan@example.org",)]


def test_deferred_recipient_is_retried_then_transient(smtp_server: SmtpRecorder) -> None:
    smtp_server.tempfail.add("busy@example.org")
    sleeps: list[float] = []
    with smtp(smtp_server, retries=2, sleep=sleeps.append) as transport:
        with pytest.raises(SendError) as caught:
            send(transport, reminder(to=("busy@example.org",)))
    assert caught.value.permanent is False and caught.value.smtp_code == 451
    assert len(sleeps) == 2 and smtp_server.received == []


def test_bad_address_fails_permanently_without_connecting(smtp_server: SmtpRecorder) -> None:
    with smtp(smtp_server) as transport, pytest.raises(SendError) as caught:
        send(transport, reminder(to=("ivan@example.org\r\nBcc: evil@x",)))
    assert caught.value.permanent is True
    assert smtp_server.connections == 0


def test_correct_login_delivers(smtp_server_auth: SmtpRecorder) -> None:
    with smtp(smtp_server_auth, user=SMTP_USER, password=SMTP_PASSWORD) as transport:
        send(transport, reminder())
        send(transport, reminder())
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
                    send(transport, reminder())
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
            send(transport, reminder())
    assert caught.value.permanent is False and "пароль" not in str(caught.value)


def test_server_requiring_login_without_user_is_a_config_error(
        smtp_server_auth: SmtpRecorder) -> None:
    with smtp(smtp_server_auth) as transport, pytest.raises(SendError) as caught:
        send(transport, reminder())
    assert caught.value.permanent is False and "authentication" in str(caught.value)


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A system keyring that lives in this process."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.passwords.pop((service, username), None)


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    monkeypatch.setattr("getpass.getpass", lambda *a, **k: pytest.fail("prompted for a password"))
    before = keyring.get_keyring()
    keyring.set_keyring(memory := MemoryKeyring())
    yield memory
    keyring.set_keyring(before)


def test_password_from_the_environment_logs_in(smtp_server_auth: SmtpRecorder,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("HOST", "127.0.0.1"), ("PORT", str(smtp_server_auth.port)),
                        ("SECURITY", "none"), ("USER", SMTP_USER), ("PASSWORD", SMTP_PASSWORD)):
        monkeypatch.setenv(f"ROADMAP_SMTP_{name}", value)
    with transport_from_settings(Settings()) as transport:
        send(transport, reminder())
    assert smtp_server_auth.auth_attempts == [(SMTP_USER, True)]
    assert len(smtp_server_auth.received) == 1


def test_without_a_password_the_one_yagmail_register_stored_is_used(
        smtp_server_auth: SmtpRecorder, memory_keyring: MemoryKeyring) -> None:
    yagmail.register(SMTP_USER, SMTP_PASSWORD)  # what docs/mail.md tells an operator to run
    assert memory_keyring.passwords == {("yagmail", SMTP_USER): SMTP_PASSWORD}
    with smtp(smtp_server_auth, user=SMTP_USER, password=None) as transport:
        send(transport, reminder())
    assert smtp_server_auth.auth_attempts == [(SMTP_USER, True)]
    assert len(smtp_server_auth.received) == 1


def test_missing_password_is_a_config_error_and_never_prompts(
        smtp_server_auth: SmtpRecorder, memory_keyring: MemoryKeyring) -> None:
    with smtp(smtp_server_auth, user=SMTP_USER, password=None) as transport:
        with pytest.raises(SendError, match="no SMTP password.*no keyring entry for service 'yagmail'") as caught:
            send(transport, reminder())
    assert caught.value.permanent is False and caught.value.retry_in_run is False
    assert smtp_server_auth.connections == 0


def test_a_machine_without_a_keyring_is_a_config_error_too(smtp_server_auth: SmtpRecorder) -> None:
    before = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        with smtp(smtp_server_auth, user=SMTP_USER, password=None) as transport:
            with pytest.raises(SendError, match="keyring unavailable: NoKeyringError"):
                send(transport, reminder())
    finally:
        keyring.set_keyring(before)
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
            send(untrusting, reminder())
        assert caught.value.permanent is False and untrusting.connect_attempts == 1
        assert server.received == []

        trusting = SmtpTransport(server.host, server.port, "starttls", timeout=5.0,
                                 tls_context=ssl.create_default_context(cafile=str(cert)))
        with trusting:
            send(trusting, reminder())
        assert len(server.received) == 1


def test_implicit_tls_checks_the_certificate_too(self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    with SmtpRecorder(ssl_context=server_ctx) as server:
        untrusting = SmtpTransport(server.host, server.port, "ssl", timeout=5.0,
                                   sleep=lambda s: None)
        with untrusting, pytest.raises(SendError, match="CERTIFICATE_VERIFY_FAILED"):
            send(untrusting, reminder())
        trusting = SmtpTransport(server.host, server.port, "ssl", user=None, timeout=5.0,
                                 tls_context=ssl.create_default_context(cafile=str(cert)))
        with trusting:
            send(trusting, reminder())
        assert len(server.received) == 1


def test_certificates_are_loaded_once_per_process_and_not_at_all_without_tls(smtp_server) -> None:
    default_tls_context.cache_clear()
    plain = [SmtpTransport(smtp_server.host, smtp_server.port, "none", timeout=5.0) for _ in range(2)]
    for transport in plain:
        with transport:
            send(transport, reminder())
    assert default_tls_context.cache_info().currsize == 0  # none asked for: nothing loaded
    assert default_tls_context() is default_tls_context()  # one context for every connection


# --- OAuth2: yagmail's file for Google accounts ------------------------------------------

GMAIL = "office@gmail.example"
ACCESS_TOKEN = "ya29.test-access-token"


def oauth2_file(folder: Path, **changes: object) -> Path:
    """The file yagmail's interactive set-up writes (docs/mail.md)."""
    info = {"email_address": GMAIL, "google_client_id": "id.apps.googleusercontent.com",
            "google_client_secret": "client-secret", "google_refresh_token": "1//refresh"}
    path = folder / "oauth2.json"
    path.write_text(json.dumps({**info, **changes}))
    return path


class _Controller(Controller):
    def factory(self) -> SMTP:
        with warnings.catch_warnings():
            # "AUTH without requiring TLS": aiosmtpd only counts STARTTLS; this is TLS throughout.
            warnings.simplefilter("ignore")
            return super().factory()


class XOAuth2Server:
    """An implicit-TLS SMTP server that takes AUTH XOAUTH2 with ACCESS_TOKEN and nothing else."""

    def __init__(self, tls: ssl.SSLContext):
        self.offered: list[str] = []
        self.received: list[bytes] = []
        self.controller = _Controller(self, hostname="127.0.0.1", port=free_port(), ssl_context=tls,
                                     server_hostname="localhost", auth_required=True,
                                     auth_require_tls=False)

    async def auth_XOAUTH2(self, server: object, args: list[str]) -> AuthResult:
        self.offered.append(base64.b64decode(args[1]).decode())
        ok = self.offered[-1] == f"user={GMAIL}\x01auth=Bearer {ACCESS_TOKEN}\x01\x01"
        return AuthResult(success=ok, handled=False)

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        self.received.append(bytes(envelope.original_content or b""))
        return "250 OK"

    def __enter__(self) -> XOAuth2Server:
        self.controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.controller.stop()


@pytest.fixture
def google(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, str]]:
    """Google's token endpoint, answering every refresh with ACCESS_TOKEN; no network, and
    any prompt of yagmail's interactive set-up fails the test."""
    refreshes: list[dict[str, str]] = []

    def refresh(**params: str) -> tuple[str, int]:
        refreshes.append(params)
        return ACCESS_TOKEN, 3600

    monkeypatch.setattr(yagmail.oauth2, "refresh_authorization", refresh)
    monkeypatch.setattr("builtins.input", lambda *a: pytest.fail("prompted"))
    return refreshes


def tls_pair(cert: Path, key: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    return server_ctx, ssl.create_default_context(cafile=str(cert))


def test_oauth2_file_logs_in_with_a_fresh_access_token(
        self_signed: tuple[Path, Path], tmp_path: Path, google: list[dict[str, str]]) -> None:
    server_tls, client_tls = tls_pair(*self_signed)
    with XOAuth2Server(server_tls) as server:
        transport = SmtpTransport("127.0.0.1", server.controller.port, "ssl", timeout=5.0,
                                  oauth2_file=oauth2_file(tmp_path), tls_context=client_tls)
        with transport:
            send(transport, reminder())
            send(transport, reminder())
    assert google == [{"google_client_id": "id.apps.googleusercontent.com",
                       "google_client_secret": "client-secret", "google_refresh_token": "1//refresh"}]
    assert server.offered == [f"user={GMAIL}\x01auth=Bearer {ACCESS_TOKEN}\x01\x01"]
    assert len(server.received) == 2


def test_a_refused_oauth2_token_is_an_authentication_error(
        self_signed: tuple[Path, Path], tmp_path: Path, google: list[dict[str, str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yagmail.oauth2, "refresh_authorization", lambda **params: ("revoked", 3600))
    server_tls, client_tls = tls_pair(*self_signed)
    with XOAuth2Server(server_tls) as server:
        transport = SmtpTransport("127.0.0.1", server.controller.port, "ssl", timeout=5.0,
                                  oauth2_file=oauth2_file(tmp_path), tls_context=client_tls)
        with transport, pytest.raises(SendError, match="authentication failed") as caught:
            send(transport, reminder())
    assert caught.value.retry_in_run is False and server.received == []


def test_google_refusing_the_refresh_token_is_a_config_error(
        self_signed: tuple[Path, Path], tmp_path: Path, google: list[dict[str, str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(**params: str) -> tuple[str, int]:
        raise urllib.error.HTTPError("https://accounts.google.com/o/oauth2/token", 400,
                                     "Bad Request", email.message.Message(), None)

    monkeypatch.setattr(yagmail.oauth2, "refresh_authorization", refused)
    server_tls, client_tls = tls_pair(*self_signed)
    with XOAuth2Server(server_tls) as server:
        transport = SmtpTransport("127.0.0.1", server.controller.port, "ssl", timeout=5.0,
                                  sleep=lambda s: pytest.fail("retried"),
                                  oauth2_file=oauth2_file(tmp_path), tls_context=client_tls)
        with transport, pytest.raises(SendError, match="refused by Google: 400") as caught:
            send(transport, reminder())
    assert caught.value.retry_in_run is False and transport.connect_attempts == 1


@pytest.mark.parametrize("problem, contents", [
    ("missing", None),
    ("client secrets only", {"installed": {"client_id": "x", "client_secret": "y"}}),
    ("no refresh token", {"google_refresh_token": ""}),
])
def test_an_unusable_oauth2_file_is_a_config_error_without_prompting(
        tmp_path: Path, google: list[dict[str, str]], smtp_down_port: int,
        problem: str, contents: dict[str, object] | None) -> None:
    path = tmp_path / "oauth2.json"
    if problem == "client secrets only":
        path.write_text(json.dumps(contents))
    elif contents is not None:
        path = oauth2_file(tmp_path, **contents)
    transport = SmtpTransport("127.0.0.1", smtp_down_port, "ssl", oauth2_file=path)
    with transport, pytest.raises(SendError, match="not a usable yagmail OAuth2 file") as caught:
        send(transport, reminder())
    assert caught.value.retry_in_run is False and transport.connect_attempts == 0
    assert google == []


def test_oauth2_needs_implicit_tls(tmp_path: Path, google: list[dict[str, str]],
                                   smtp_down_port: int) -> None:
    transport = SmtpTransport("127.0.0.1", smtp_down_port, "starttls", oauth2_file=oauth2_file(tmp_path))
    with transport, pytest.raises(SendError, match="OAuth2 needs ROADMAP_SMTP_SECURITY=ssl"):
        send(transport, reminder())
    assert transport.connect_attempts == 0


# --- the outbox folder ----------------------------------------------------------------

def test_folder_transport_writes_one_file_per_message_id(tmp_path: Path) -> None:
    msg, other = reminder(), reminder()
    with FolderTransport(tmp_path / "outbox") as transport:
        send(transport, msg)
        send(transport, msg)  # a re-run: same id, same file
        send(transport, other)
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
    google = transport_from_settings(Settings(smtp_host="smtp.gmail.com", smtp_security="ssl",
                                              smtp_oauth2_file=tmp_path / "oauth2.json"))
    assert isinstance(google, SmtpTransport) and google.oauth2_file == tmp_path / "oauth2.json"
    blank = transport_from_settings(Settings.model_validate({"smtp_host": "mail.example.org",
                                                             "smtp_oauth2_file": " "}))
    assert isinstance(blank, SmtpTransport) and blank.oauth2_file is None


def test_mail_built_with_shared_header_objects_is_byte_for_byte_the_stock_registrys(monkeypatch):
    """tasks/mail_message._Registry makes each header class once and parses each header text (or
    address) once, and WIRE folds each header object once; the messages built one after the
    other share them: the bytes must be those of the stock registry and an uncached policy
    (boundaries aside, which are random)."""
    import re
    from dataclasses import replace
    from email.headerregistry import HeaderRegistry

    from tasks import mail_message
    from tasks.mail_message import Attachment, OutgoingMessage, message_bytes

    msg = OutgoingMessage(
        message_id="<1@example.org>", sender="Проектный офис <pmo@example.org>",
        to=("\"Алиса Смирнова, «ОММ»\" <alice@example.org>", "bob@example.org"),
        subject="3 задачи требуют внимания · ОММ · 2 марта " * 3, text="Здравствуйте!\n" * 40,
        html="<p>Здравствуйте!</p>", headers=(("Reply-To", "pmo@example.org"), ("X-Roadmap", "omm")),
        attachments=(Attachment("задачи.ics", "text/calendar; method=PUBLISH; charset=utf-8", b"BEGIN:VCALENDAR"),))
    others = [
        replace(msg, message_id="<2@example.org>", sender="Office <pmo@example.org>", to=("carol@example.org",),
                subject="Short", text="Hello\n", html=None, headers=(("Reply-To", "Desk <desk@example.org>"),)),
        replace(msg, message_id="<3@example.org>", to=("Bob <bob@example.org>",), text="Hi\n" * 3,
                attachments=(Attachment("a.ics", "text/calendar; method=CANCEL; charset=utf-8", b"x"),)),
        replace(msg, message_id="<4@example.org>", sender="Office <pmo@example.org>", to=("Bob <bob@example.org>",),
                subject="3 задачи требуют внимания · ОММ · 2 марта"),
    ]
    now = datetime(2015, 3, 2, 9, 0, tzinfo=UTC)

    def normal(data: bytes) -> bytes:
        return re.sub(rb"={15}\d+==", b"BOUNDARY", data)

    cached = [normal(message_bytes(m, now=now)) for m in [msg, *others, msg, *others]]
    assert mail_message.WIRE.fold_cache, "the header objects were folded once and kept"
    stock = mail_message.WIRE.clone(header_factory=HeaderRegistry())
    assert stock.fold_cache is None  # a clone that changes a setting does not share the cache
    monkeypatch.setattr(mail_message, "WIRE", stock)
    assert cached == [normal(message_bytes(m, now=now)) for m in [msg, *others, msg, *others]]
