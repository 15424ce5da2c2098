"""Handing mail to an SMTP server or a folder (building it is tasks/mail_message.py).

The one module that talks SMTP. Everything above it deals in ``OutgoingMessage`` values;
``prepare`` turns one into its envelope and wire bytes (kept by the outbox, so a resend is
byte-identical) and a transport's ``send_prepared`` delivers them, raising ``SendError``
whose ``permanent`` flag tells the caller whether trying again later could help.

yagmail opens, secures and logs in the connection (password, keyring or OAuth2); the
message goes over its public ``smtp`` connection. docs/mail.md says why not ``yag.send()``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Self

import yagmail

from models.addresses import parse_address
from tasks.mail_message import OutgoingMessage, message_bytes
from tasks.smtp_login import LoginSetupError, Security, keyring_password, log_in, yagmail_client

if TYPE_CHECKING:
    from config.settings import Settings


class SendError(Exception):
    """Delivery failed. ``permanent`` is True when sending the same message again will
    fail the same way (recipient refused, 5xx, bad address); False when a later attempt
    may succeed (server down, timeout, 4xx, broken configuration fixed by an operator).
    """

    def __init__(self, message: str, *, permanent: bool, smtp_code: int | None = None,
                 retry_in_run: bool = True, configuration: bool = False):
        super().__init__(message)
        self.permanent = permanent
        self.smtp_code = smtp_code
        # False for failures of the connection, not of the message (bad login, TLS, server
        # unreachable after every reconnect): nothing more can be sent over it in this run.
        self.retry_in_run = retry_in_run and not permanent
        # True when an operator must fix the settings first (login, TLS): retrying is useless
        # and repeated bad logins lock accounts.
        self.configuration = configuration


@dataclass(frozen=True)
class Prepared:
    """A message as it goes on the wire: its envelope and its bytes."""

    message_id: str
    sender: str
    recipients: tuple[str, ...]
    data: bytes


def prepare(msg: OutgoingMessage) -> Prepared:
    """The envelope (bare addresses) and bytes of a message. Raises SendError (permanent)
    when the message can never be sent as it is (a bad address or Message-ID)."""
    try:
        data = message_bytes(msg)
        sender = parse_address(msg.sender).addr_spec
        recipients = tuple(parse_address(a).addr_spec for a in msg.to)
    except ValueError as exc:
        raise SendError(str(exc), permanent=True) from None
    return Prepared(msg.message_id, sender, recipients, data)


# --- transports ------------------------------------------------------------------


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
    """Sends a batch of messages over one SMTP connection, opened and logged in by yagmail.

    The connection opens on the first send and closes on leaving the ``with`` block.
    Transient failures (connection refused, timeouts, disconnects, 4xx) are retried up to
    ``retries`` more times, reconnecting, with backoff ``backoff * 2**n`` seconds, unless the
    message data had gone out: a timeout or disconnect after DATA can mean the server kept
    the message, so it is not sent again in this batch (a later run sends it again, with the
    same Message-ID, so at most one copy more).

    Login: ``oauth2_file`` (yagmail's Google OAuth2 file), else ``password``, else the keyring
    entry yagmail.register() makes. An authentication or TLS failure is not retried, and later
    sends in the batch fail at once without reconnecting: repeated bad logins lock accounts.
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
        oauth2_file: str | os.PathLike[str] | None = None,
        tls_context: ssl.SSLContext | None = None,
    ):
        if security not in ("none", "starttls", "ssl"):
            raise ValueError(f"smtp security must be none, starttls or ssl, not {security!r}")
        self.host, self.port, self.security = host, port, security
        self.user, self.timeout = user, timeout
        self.retries, self.backoff, self.sleep = retries, backoff, sleep
        self.oauth2_file = Path(oauth2_file).expanduser() if oauth2_file else None
        self._password = password
        self._tls_context = tls_context  # None: tasks/smtp_login.py's default, with certificate checks
        self._yag: yagmail.SMTP | None = None
        self._fatal: SendError | None = None
        self._data_sent = False  # whether the current attempt reached the DATA command
        self.connect_attempts = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        yag, self._yag = self._yag, None
        if yag is None:
            return
        try:
            yag.close()  # QUIT; marks it closed so yagmail's __del__ does not try again
        except (OSError, smtplib.SMTPException):
            yag.smtp.close()

    def send_prepared(self, msg: Prepared) -> None:
        """Deliver one prepared message or raise SendError."""
        if (fatal := self._fatal) is not None:
            raise SendError(str(fatal), permanent=False, smtp_code=fatal.smtp_code, retry_in_run=False,
                            configuration=fatal.configuration)
        for attempt in range(self.retries + 1):
            self._data_sent = False
            try:
                refused = self._connection().sendmail(msg.sender, list(msg.recipients), msg.data)
            except (smtplib.SMTPException, OSError, UnicodeEncodeError) as exc:
                error = self._classify(exc)
                if self._data_sent and _connection_level(exc):
                    # The data went out and then the reply never came (a timeout, a dropped
                    # connection): the server may have kept the message. Sending it again now
                    # would make one copy per reconnect; the outbox tries it in a later run.
                    self.close()
                    raise SendError(f"{error} (after the message data was sent: it may have arrived)",
                                    permanent=False, smtp_code=error.smtp_code) from None
                if error.retry_in_run and attempt < self.retries:
                    self.close()
                    self.sleep(self.backoff * 2**attempt)
                    continue
                if error.retry_in_run and _connection_level(exc):
                    # The server stayed unreachable through every reconnect: fail the rest
                    # of the batch at once instead of waiting through the same again per message.
                    error.retry_in_run = False
                    self._fatal = error
                raise error from None
            if refused:
                # The others got it, so resending would duplicate it for them.
                raise SendError(self._scrub(f"delivered, but refused for {_describe(refused)}"),
                                permanent=True, smtp_code=next(iter(refused.values()))[0])
            return

    def _connection(self) -> smtplib.SMTP:
        """The open connection, connecting and logging in through yagmail if needed."""
        if self._yag is not None and self._yag.smtp is not None:
            return self._yag.smtp
        try:
            if self.oauth2_file is None and self.user is not None and self._password is None:
                self._password = keyring_password(self.user)
            yag = yagmail_client(self.host, self.port, self.security, user=self.user,
                                 password=self._password, oauth2_file=self.oauth2_file,
                                 timeout=self.timeout, tls_context=self._tls_context)
            self.connect_attempts += 1
            log_in(yag)
        except LoginSetupError as exc:
            raise self._config_error(str(exc)) from None
        self._yag = yag
        smtp, data = yag.smtp, yag.smtp.data

        def data_noted(msg: bytes | str) -> tuple[int, bytes]:  # smtplib sends the data from here on
            self._data_sent = True
            return data(msg)

        smtp.data = data_noted
        return smtp

    def _classify(self, exc: BaseException) -> SendError:
        """The error to raise; its ``retry_in_run`` says whether trying again could help."""
        where = f"{self.host}:{self.port}"
        code = getattr(exc, "smtp_code", None)
        reply = f"{code} {_text(getattr(exc, 'smtp_error', b''))}"
        # 530 "authentication required", 535 "credentials invalid": yagmail does not check
        # the reply to its XOAUTH2 command, so a refused token shows up at MAIL FROM.
        if isinstance(exc, smtplib.SMTPAuthenticationError) or code in (530, 535):
            who = f"user {self.user!r}" if self.user else "no smtp_user configured"
            return self._config_error(f"SMTP authentication failed at {where} ({who}): {reply}", code)
        if isinstance(exc, UnicodeEncodeError):
            # Only the login is encoded as text; the message itself goes as bytes.
            return self._config_error(f"SMTP authentication failed at {where}: smtplib can only send ASCII "
                                      "user names and passwords")
        if isinstance(exc, (smtplib.SMTPNotSupportedError, ssl.SSLCertVerificationError)):
            return self._config_error(f"SMTP {self.security} setup with {where} failed: {exc}")
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [c for c, _ in exc.recipients.values()]
            return SendError(self._scrub(f"recipients refused by {where}: {_describe(exc.recipients)}"),
                             permanent=all(c >= 500 for c in codes), smtp_code=codes[0])
        if isinstance(exc, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)):
            # 5xx to MAIL FROM or DATA: this message will never be accepted as it is.
            return SendError(self._scrub(f"message refused by {where}: {reply}"),
                             permanent=exc.smtp_code >= 500, smtp_code=exc.smtp_code)
        return SendError(self._scrub(f"SMTP server {where} unavailable: {type(exc).__name__}: {exc}"),
                         permanent=False, smtp_code=code if isinstance(code, int) else None)

    def _config_error(self, text: str, code: int | None = None) -> SendError:
        """A failure that retrying within this run cannot fix. Remembered so the rest of
        the batch fails fast instead of logging in wrongly again and again."""
        self._fatal = SendError(self._scrub(text), permanent=False, smtp_code=code, retry_in_run=False,
                                configuration=True)
        return self._fatal

    def _scrub(self, text: str) -> str:
        """Remove the password, plain or base64 as in AUTH PLAIN/LOGIN, from a message
        that may quote a server reply."""
        if not self._password:
            return text
        encoded = [self._password] + ([f"\0{self.user}\0{self._password}"] if self.user else [])
        secrets = {self._password, *(base64.b64encode(s.encode()).decode() for s in encoded)}
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


def _connection_level(exc: BaseException) -> bool:
    """Whether a failure worth retrying (an SMTPException or OSError) is one of the connection
    itself rather than of one message or recipient."""
    # SMTPException is an OSError too, but its other kinds answer for one message.
    return (isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError))
            or not isinstance(exc, smtplib.SMTPException))


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _describe(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{rcpt}: {code} {_text(text)}" for rcpt, (code, text) in refused.items())


# What the delivery task needs: open for a batch (``with``), ``send_prepared`` each message.
Transport = SmtpTransport | FolderTransport


def transport_from_settings(settings: Settings) -> Transport:
    """SMTP when a host is configured, otherwise the outbox folder."""
    if not settings.smtp_host:
        return FolderTransport(settings.outbox_dir)
    secret = settings.smtp_password
    return SmtpTransport(settings.smtp_host, settings.effective_smtp_port, settings.smtp_security,
                         settings.smtp_user, secret.get_secret_value() if secret is not None else None,
                         settings.smtp_timeout, oauth2_file=settings.smtp_oauth2_file)
