"""Building MIME messages and handing them to an SMTP server or an outbox folder.

The one module that talks SMTP. Everything above it deals in ``OutgoingMessage``
values; everything here either turns one into bytes (``build_mime``) or delivers it
(a transport's ``send``), raising ``SendError`` whose ``permanent`` flag tells the
caller whether trying the same message again later could help.

yagmail is used only to open, secure and log in the connection. Its ``send()`` is
avoided on purpose: it returns False instead of raising after disconnects, derives
the Message-ID from From+To+Subject, puts the HTML source in text/plain, opens a new
connection per call, and would prompt on the terminal for a missing password.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
import re
import smtplib
import ssl
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.charset import BASE64, Charset
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import format_datetime, formataddr, quote
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal, Protocol, Self
from urllib.parse import quote as url_quote

import yagmail

if TYPE_CHECKING:
    from config.settings import Settings

Security = Literal["none", "starttls", "ssl"]

# C0 and C1 controls, DEL and the Unicode line separators: anything a mail parser
# might treat as the end of a header line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
_HEADER_NAME = re.compile(r"[!-9;-~]+")
# Headers build_mime sets itself; letting extra headers repeat them would make two.
_MANAGED_HEADERS = {
    "from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version",
    "content-type", "content-transfer-encoding", "content-disposition", "auto-submitted",
}


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar; method=PUBLISH; charset=utf-8"
    data: bytes


@dataclass(frozen=True)
class OutgoingMessage:
    """A message ready to send. ``sender`` and each of ``to`` are "addr@host" or
    "Display Name <addr@host>"; ``message_id`` is fixed by the caller so that a
    retried delivery carries the same id and can be recognised as the same mail."""

    message_id: str
    sender: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()


class InvalidAddress(ValueError):
    """An address we refuse to put in a header or an SMTP envelope."""


class SendError(Exception):
    """Delivery failed. ``permanent`` is True when sending the same message again will
    fail the same way (recipient refused, 5xx, bad address); False when a later attempt
    may succeed (server down, timeout, 4xx, broken configuration fixed by an operator).
    """

    def __init__(self, message: str, *, permanent: bool, smtp_code: int | None = None,
                 retry_in_run: bool = True):
        super().__init__(message)
        self.permanent = permanent
        self.smtp_code = smtp_code
        # False for failures that retrying in this run cannot fix (bad login, TLS, server
        # unreachable after every reconnect): the next run tries again.
        self.retry_in_run = retry_in_run and not permanent


def _connection_level(exc: BaseException) -> bool:
    """A failure of the connection itself rather than of one message or recipient."""
    if isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)):
        return True
    # SMTPException is an OSError too, but its other kinds answer for one message.
    return isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)


def make_message_id(domain: str) -> str:
    """A globally unique RFC 5322 Message-ID, ``<hex@domain>``. Random rather than
    derived from content: two reminders with the same subject are different mails."""
    if not domain or _CONTROL.search(domain) or re.search(r"[\s<>@]", domain):
        raise ValueError(f"bad Message-ID domain: {domain!r}")
    return f"<{uuid.uuid4().hex}@{domain}>"


# --- building --------------------------------------------------------------------


def sanitise(text: str) -> str:
    """Replace control characters with spaces, so a subject or display name taken from
    user data ("Hi\\r\\nBcc: evil@x") can never start a header of its own."""
    return _CONTROL.sub(" ", text)


@functools.lru_cache(maxsize=4096)
def parse_address(value: str) -> Address:
    """Split "Name <addr>" or "addr" and check it strictly.

    Display names are sanitised; the address itself is rejected if it holds control
    characters or does not parse as exactly one addr-spec: silently "fixing" an
    address could deliver mail to someone else.
    """
    match = re.fullmatch(r"\s*(.*?)\s*<([^<>]*)>\s*", value, re.DOTALL)
    name, addr = (match.group(1), match.group(2)) if match else ("", value.strip())
    if _CONTROL.search(addr):
        raise InvalidAddress(f"address contains control characters: {value!r}")
    try:
        parsed = Address(addr_spec=addr)
    except Exception as exc:  # the parser raises several unrelated types
        raise InvalidAddress(f"not a valid e-mail address: {value!r} ({exc})") from None
    if not parsed.username or not parsed.domain or not parsed.username.isascii():
        raise InvalidAddress(f"not a deliverable ASCII e-mail address: {value!r}")
    # Internationalised domains go on the wire as punycode, which every server accepts.
    try:
        domain = parsed.domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidAddress(f"domain cannot be encoded for DNS: {value!r}") from None
    display = sanitise(name).strip().strip('"').strip()
    return Address(display_name=display, username=parsed.username, domain=domain)


def build_mime(msg: OutgoingMessage, *, now: datetime | None = None) -> EmailMessage:
    """The message as a parsed EmailMessage (for inspection): see ``message_bytes``."""
    return message_from_bytes(message_bytes(msg, now=now), policy=policy.SMTP)  # type: ignore[return-value]


def message_bytes(msg: OutgoingMessage, *, now: datetime | None = None) -> bytes:
    """Exactly the bytes that go on the wire or into an .eml file (CRLF line ends):
    multipart/mixed > (multipart/alternative > text/plain, text/html) + attachments,
    reduced to a plain text/plain message when there is nothing else.

    Written directly (see CRLF below): the modern EmailMessage API parses every header it
    is given and took about 3 ms per digest, most of a 500-digest run.
    Raises InvalidAddress for a bad sender or recipient and ValueError for a bad
    Message-ID or extra header name.
    """
    if not _MESSAGE_ID.fullmatch(msg.message_id):
        raise ValueError(f"Message-ID must look like <id@domain>: {msg.message_id!r}")
    if not msg.to:
        raise InvalidAddress("message has no recipients")
    headers = [
        ("Message-ID", msg.message_id),
        ("Date", format_datetime(now or datetime.now().astimezone())),
        ("From", _header_value(_format_address(parse_address(msg.sender)))),
        ("To", _header_value(", ".join(_format_address(parse_address(a)) for a in msg.to))),
        ("Subject", _header_text(sanitise(msg.subject))),
        # RFC 3834: tells vacation responders and ticket systems not to answer us.
        ("Auto-Submitted", "auto-generated"),
        # Exchange's documented switch for suppressing automatic replies (MS-OXCMAIL).
        ("X-Auto-Response-Suppress", "All"),
    ]
    for name, value in msg.headers:
        if not _HEADER_NAME.fullmatch(name) or name.lower() in _MANAGED_HEADERS:
            raise ValueError(f"extra header name not allowed: {name!r}")
        headers.append((name, _header_text(sanitise(value))))

    if msg.html is None and not msg.attachments:
        content, body = _text_part(msg.text, "plain")
    else:
        content, body = _text_part(msg.text, "plain")
        if msg.html is not None:
            content, body = _multipart("alternative", [(content, body), _text_part(msg.html, "html")])
        if msg.attachments:
            content, body = _multipart("mixed", [(content, body), *(_attachment(a) for a in msg.attachments)])
    head = "".join(f"{name}: {value}{CRLF}" for name, value in headers)
    head += "MIME-Version: 1.0" + CRLF + "".join(f"{k}: {v}{CRLF}" for k, v in content)
    return (head + CRLF + body).encode("ascii")


# The message is written directly: every body is already encoded here (quoted-printable
# and base64 by binascii, headers by email.header), so what is left is joining lines
# with CRLF; the email package's generator did the same at several times the cost.
CRLF = "\r\n"
Part = tuple[list[tuple[str, str]], str]  # (content headers, encoded body)


def _header_value(value: str) -> str:
    """A header value on one line, or folded with CRLF + space when longer than 76."""
    if len(value) <= 76:
        return value
    return Header(value).encode(linesep=CRLF)


def _multipart(subtype: str, parts: list[Part]) -> Part:
    boundary = _boundary()
    body = "".join(
        f"--{boundary}{CRLF}" + "".join(f"{k}: {v}{CRLF}" for k, v in headers) + CRLF + payload + CRLF
        for headers, payload in parts
    )
    return [("Content-Type", f'multipart/{subtype}; boundary="{boundary}"')], body + f"--{boundary}--{CRLF}"


# RFC 2047 encoded words carry at most 75 characters; 39 bytes of UTF-8 make 52 of base64,
# so a word plus "=?utf-8?b?", "?=" and the longest header name we write stays under 78.
_WORD_BYTES = 39
# For display names, which formataddr encodes (base64 rather than measuring Q per character).
_UTF8_B = Charset("utf-8")
_UTF8_B.header_encoding = BASE64


def _boundary() -> str:
    """Our own boundary: "=_" never occurs in quoted-printable or base64 bodies, and a
    preset boundary spares the generator compiling a regex per part to check for one."""
    return f"=_{uuid.uuid4().hex[:24]}"  # 96 random bits; the header line stays under 78


def _header_text(value: str) -> str:
    """A header value as it goes on the wire: ASCII as it is (folded when long), anything else
    as base64 encoded words of UTF-8, one per folded line.

    Written here because email.header measures the encoded length of each character in
    Python, which was half the cost of building a digest. A word never splits a character:
    the cut moves back over UTF-8 continuation bytes (10xxxxxx)."""
    if value.isascii():
        return _header_value(value)
    raw = value.encode("utf-8")
    words, start = [], 0
    while start < len(raw):
        end = min(start + _WORD_BYTES, len(raw))
        while end < len(raw) and raw[end] & 0xC0 == 0x80:
            end -= 1
        encoded = binascii.b2a_base64(raw[start:end], newline=False).decode("ascii")
        words.append(f"=?utf-8?b?{encoded}?=")
        start = end
    return (CRLF + " ").join(words)


def _format_address(address: Address) -> str:
    return formataddr((address.display_name, address.addr_spec), charset=_UTF8_B)


def _text_part(text: str, subtype: str) -> Part:
    """A UTF-8 text part in quoted-printable, encoded by binascii's C implementation (the
    email package's own encoder is pure Python and was a third of the cost of a digest)."""
    body = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    encoded = binascii.b2a_qp(body, istext=True).decode("ascii").replace("\n", CRLF)
    return [("Content-Type", f'text/{subtype}; charset="utf-8"'),
            ("Content-Transfer-Encoding", "quoted-printable")], encoded


def _attachment(att: Attachment) -> Part:
    ctype = Message()
    ctype["Content-Type"] = sanitise(att.content_type)
    params = "".join(f'; {k}="{quote(v)}"' for k, v in ctype.get_params()[1:])
    filename = sanitise(att.filename)
    disposition = (f'attachment; filename="{quote(filename)}"' if filename.isascii()
                   else f"attachment; filename*=utf-8''{url_quote(filename)}")
    encoded = binascii.b2a_base64(att.data, newline=False).decode("ascii")
    body = "".join(encoded[i:i + 76] + CRLF for i in range(0, len(encoded), 76))
    return [("Content-Type", f"{ctype.get_content_type()}{params}"),
            ("Content-Transfer-Encoding", "base64"),
            ("Content-Disposition", disposition)], body


def _envelope(msg: OutgoingMessage) -> tuple[str, list[str]]:
    return parse_address(msg.sender).addr_spec, [parse_address(a).addr_spec for a in msg.to]


@dataclass(frozen=True)
class Prepared:
    """A message as it goes on the wire: its envelope and its bytes."""

    message_id: str
    sender: str
    recipients: tuple[str, ...]
    data: bytes


def prepare(msg: OutgoingMessage) -> Prepared:
    """The envelope and bytes of a message. Raises SendError (permanent) when the message
    can never be sent as it is (a bad address or Message-ID)."""
    try:
        data = message_bytes(msg)
        sender, recipients = _envelope(msg)
    except ValueError as exc:
        raise SendError(str(exc), permanent=True) from None
    return Prepared(msg.message_id, sender, tuple(recipients), data)


# --- transports ------------------------------------------------------------------


class Transport(Protocol):
    """What the delivery task needs: open for a batch, send each message, close."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def send(self, msg: OutgoingMessage) -> None: ...

    def send_prepared(self, msg: Prepared) -> None: ...


class FolderTransport:
    """Writes each message to ``<directory>/<message-id>.eml`` instead of sending it:
    for development, dry runs and servers without SMTP. The file name comes from the
    Message-ID, so delivering the same message twice leaves one file, not two."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def path_for(self, message_id: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9._@-]", "_", message_id.strip("<>"))[:100]
        # The hash keeps two ids that differ only in replaced characters apart.
        digest = hashlib.sha1(message_id.encode()).hexdigest()[:8]
        return self.directory / f"{safe}-{digest}.eml"

    def send(self, msg: OutgoingMessage) -> None:
        self.send_prepared(prepare(msg))

    def send_prepared(self, msg: Prepared) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            _write_atomically(self.path_for(msg.message_id), msg.data)
        except OSError as exc:
            raise SendError(f"cannot write to outbox {self.directory}: {exc}",
                            permanent=False) from None


def _write_atomically(path: Path, data: bytes) -> None:
    """A reader (or a crash) sees either no file or the whole file, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".eml.part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SmtpTransport:
    """Sends a batch of messages over one SMTP connection.

    The connection opens on the first ``send`` and closes on leaving the ``with``
    block. Transient failures (connection refused, timeouts, disconnects, 4xx) are
    retried inside ``send`` up to ``retries`` more times, reconnecting, with backoff
    ``backoff * 2**n`` seconds. A disconnect after the message data went out can mean
    the server kept it, so a retry may deliver twice; the fixed Message-ID lets the
    recipient's client fold the copies together.

    An authentication or TLS failure is not retried, and later sends in the same batch
    fail at once without reconnecting: repeated bad logins get accounts locked.
    Passwords go over the wire unencrypted when ``security="none"``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        security: Security = "starttls",
        user: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        *,
        tls_context: ssl.SSLContext | None = None,
    ):
        if security not in ("none", "starttls", "ssl"):
            raise ValueError(f"smtp security must be none, starttls or ssl, not {security!r}")
        self.host, self.port, self.security = host, port, security
        self.user, self.timeout = user, timeout
        self.retries, self.backoff, self.sleep = retries, backoff, sleep
        self._password = password
        # smtplib's own default context skips certificate checks; ours does not.
        self._tls_context = tls_context or ssl.create_default_context()
        self._yag: yagmail.SMTP | None = None
        self._fatal: SendError | None = None
        self.connect_attempts = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        yag, self._yag = self._yag, None
        if yag is None or yag.smtp is None:
            return
        yag.is_closed = True  # stop yagmail's __del__ from trying again
        try:
            yag.smtp.quit()
        except (OSError, smtplib.SMTPException):
            yag.smtp.close()

    def send(self, msg: OutgoingMessage) -> None:
        """Deliver one message or raise SendError."""
        self.send_prepared(prepare(msg))

    def send_prepared(self, msg: Prepared) -> None:
        """Deliver one prepared message or raise SendError."""
        attempt = 0
        while True:
            if self._fatal is not None:
                raise SendError(str(self._fatal), permanent=False, smtp_code=self._fatal.smtp_code,
                                retry_in_run=False)
            try:
                smtp = self._connection()
                refused = smtp.sendmail(msg.sender, list(msg.recipients), msg.data)
            except (smtplib.SMTPException, OSError, UnicodeEncodeError) as exc:
                error, retry = self._classify(exc)
                if retry and attempt >= self.retries and _connection_level(exc):
                    # The server stayed unreachable through every reconnect: fail the rest
                    # of the batch at once instead of waiting through the same again per message.
                    self._fatal = SendError(str(error), permanent=False, smtp_code=error.smtp_code,
                                            retry_in_run=False)
                    raise self._fatal from None
                if not retry or attempt >= self.retries:
                    raise error from None
                self.close()
                self.sleep(self.backoff * 2**attempt)
                attempt += 1
                continue
            if refused:
                # The others got it, so resending would duplicate it for them.
                raise SendError(
                    self._scrub(f"delivered, but refused for {_describe(refused)}"),
                    permanent=True,
                    smtp_code=next(iter(refused.values()))[0],
                )
            return

    def _connection(self) -> smtplib.SMTP:
        """The open connection, connecting and logging in through yagmail if needed."""
        if self._yag is not None and self._yag.smtp is not None:
            return self._yag.smtp
        kwargs: dict[str, object] = {"timeout": self.timeout}
        if self.security == "ssl":
            kwargs["context"] = self._tls_context
        yag = yagmail.SMTP(
            user=self.user,
            password=self._resolve_password(),
            host=self.host,
            port=self.port,
            smtp_ssl=self.security == "ssl",
            smtp_starttls={"context": self._tls_context} if self.security == "starttls" else False,
            smtp_skip_login=self.user is None,
            soft_email_validation=False,
            **kwargs,
        )
        # yagmail appends "@gmail.com" to a user name without "@"; log in as given.
        yag.user = self.user or ""
        self.connect_attempts += 1
        try:
            yag.login()
        except BaseException:
            _discard(yag)
            raise
        self._yag = yag
        return yag.smtp

    def _resolve_password(self) -> str | None:
        """The password, looked up in the keyring under yagmail's service name when the
        settings give none. Done here rather than by yagmail, which would fall back to
        prompting on the terminal and hang a scheduled run."""
        if self.user is None or self._password is not None:
            return self._password
        try:
            import keyring

            found = keyring.get_password("yagmail", self.user)
        except Exception as exc:  # ImportError, or any keyring backend error
            found, why = None, f"keyring unavailable: {type(exc).__name__}"
        else:
            why = "no keyring entry for service 'yagmail'"
        if found is None:
            raise self._config_error(
                f"no SMTP password for user {self.user!r} ({why}); "
                "set ROADMAP_SMTP_PASSWORD or store it with yagmail.register()"
            )
        self._password = found
        return found

    def _classify(self, exc: BaseException) -> tuple[SendError, bool]:
        """(error to raise, whether retrying could help)."""
        where = f"{self.host}:{self.port}"
        code = getattr(exc, "smtp_code", None)
        reply = f"{code} {_text(getattr(exc, 'smtp_error', b''))}"
        # 530 is "authentication required": we logged in wrongly or not at all.
        if isinstance(exc, smtplib.SMTPAuthenticationError) or code == 530:
            who = f"user {self.user!r}" if self.user else "no smtp_user configured"
            return self._config_error(f"SMTP authentication failed at {where} ({who}): {reply}",
                                      code), False
        if isinstance(exc, UnicodeEncodeError):
            # Only the login is encoded as text; the message itself goes as bytes.
            return self._config_error(
                f"SMTP authentication failed at {where}: smtplib can only send ASCII "
                "user names and passwords"), False
        if isinstance(exc, (smtplib.SMTPNotSupportedError, ssl.SSLCertVerificationError)):
            text = f"SMTP {self.security} setup with {where} failed: {exc}"
            return self._config_error(text), False
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [c for c, _ in exc.recipients.values()]
            permanent = all(c >= 500 for c in codes)
            return SendError(
                self._scrub(f"recipients refused by {where}: {_describe(exc.recipients)}"),
                permanent=permanent, smtp_code=codes[0],
            ), not permanent
        if isinstance(exc, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)):
            # 5xx to MAIL FROM or DATA: this message will never be accepted as it is.
            permanent = exc.smtp_code >= 500
            return SendError(self._scrub(f"message refused by {where}: {reply}"),
                             permanent=permanent, smtp_code=exc.smtp_code), not permanent
        return SendError(
            self._scrub(f"SMTP server {where} unavailable: {type(exc).__name__}: {exc}"),
            permanent=False, smtp_code=code if isinstance(code, int) else None,
        ), True

    def _config_error(self, text: str, code: int | None = None) -> SendError:
        """A failure that retrying within this run cannot fix. Remembered so the rest of
        the batch fails fast instead of logging in wrongly again and again."""
        self._fatal = SendError(self._scrub(text), permanent=False, smtp_code=code, retry_in_run=False)
        return self._fatal

    def _scrub(self, text: str) -> str:
        """Remove the password, plain or base64 as in AUTH PLAIN/LOGIN, from a message
        that may quote a server reply."""
        if not self._password:
            return text
        secrets = {self._password, _b64(self._password)}
        if self.user:
            secrets.add(_b64(f"\0{self.user}\0{self._password}"))
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _describe(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{rcpt}: {code} {_text(text)}" for rcpt, (code, text) in refused.items())


def _discard(yag: yagmail.SMTP) -> None:
    """Drop a half-open connection without letting its errors hide the real one."""
    yag.is_closed = True
    if yag.smtp is not None:
        try:
            yag.smtp.close()
        except OSError:
            pass


def transport_from_settings(settings: Settings) -> SmtpTransport | FolderTransport:
    """SMTP when a host is configured, otherwise the outbox folder."""
    if not settings.smtp_host:
        return FolderTransport(settings.outbox_dir)
    secret = settings.smtp_password
    return SmtpTransport(
        settings.smtp_host,
        settings.effective_smtp_port,
        settings.smtp_security,
        settings.smtp_user,
        secret.get_secret_value() if secret is not None else None,
        settings.smtp_timeout,
    )
