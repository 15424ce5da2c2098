"""Building mail with the standard library: an ``OutgoingMessage`` value becomes the exact
bytes that go on the wire or into an .eml file (``message_bytes``).

Headers are written so that what a reader's parser gets back is what we meant: a display name
is only ever text, a non-ASCII subject keeps its spaces (see ``_WirePolicy``).
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.headerregistry import Address, AddressHeader, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import EmailPolicy
from typing import Any

from models.addresses import InvalidAddress, parse_address, sanitise


class _WirePolicy(EmailPolicy):
    """email.policy.SMTP (CRLF, folding at 78, RFC 2047 encoded words) with 7-bit bodies (the
    library picks quoted-printable or base64: we do not ask the relay for 8BITMIME).

    A non-ASCII subject (or other free-text header) is folded by email.header instead: the
    policy's own folder leaves the space between two encoded words unencoded, and readers
    drop it ("длинная тема" arrives as "длиннаятема"): CPython gh-144156, fixed upstream but
    not in the Python 3.11 we run.

    With ``fold_cache`` (a dict), a header object is folded once: messages share the header
    objects of the same text (``_Registry``), and a header object never changes."""

    fold_cache: dict[int, tuple[str, bytes]] | None = None
    FOLD_CACHE_MAX = 256

    def clone(self, **kw: Any) -> _WirePolicy:
        # The generator clones the policy for every part with the same settings: the clone
        # shares the cache. A clone that changes a setting starts without one.
        if "fold_cache" not in kw and any(getattr(self, k) != v for k, v in kw.items()):
            kw["fold_cache"] = None
        return super().clone(**kw)

    def fold_binary(self, name: str, value: str) -> bytes:
        cache = self.fold_cache
        if cache is None or not hasattr(value, "name") or name != value.name:
            return self._fold_binary(name, value)
        # Keyed by identity, the object kept with its bytes: an id is not reused while cached.
        if (hit := cache.get(id(value))) is None:
            if len(cache) >= self.FOLD_CACHE_MAX:
                cache.clear()
            hit = cache[id(value)] = (value, self._fold_binary(name, value))
        return hit[1]

    def _fold_binary(self, name: str, value: str) -> bytes:
        if isinstance(value, AddressHeader) and all(g.display_name is None for g in value.groups):
            return _fold_mailboxes(name, value.addresses, self.linesep).encode("ascii")
        if not isinstance(value, UnstructuredHeader) or value.isascii():
            return super().fold_binary(name, value)
        words = Header(str(value), "utf-8", header_name=name)
        return f"{name}: {words.encode(linesep=self.linesep, maxlinelen=self.max_line_length)}{self.linesep}".encode()


def _fold_mailboxes(name: str, mailboxes: tuple[Address, ...], linesep: str) -> str:
    """From, To or Reply-To written by hand, one mailbox per line, so that a display name is
    only ever text: with a comma, quotes or angle brackets in it a quoted-string, and when it is
    not ASCII, holds "=?" or is long, one RFC 2047 encoded word, decoded once into the name as
    given. The policy's own folder splits a long name and Python 3.11's parser reads it back
    with an extra space, or with a comma outside the quotes as two addresses; and an encoded
    word inside a quoted-string is decoded by some readers ("=?utf-8?q?Boss_=3Cboss=40x=3E?=")."""
    lines = []
    for i, box in enumerate(mailboxes):
        start = f"{name}: " if i == 0 else " "
        text = _display_name(box.display_name, len(start), linesep) if box.display_name else ""
        addr = f"<{box.addr_spec}>" if text else box.addr_spec
        sep = " " if len(start) + len(text) + len(addr) < 78 else linesep + " "
        lines.append(start + (text + sep if text else "") + addr)
    return ("," + linesep).join(lines) + linesep


def _display_name(name: str, indent: int, linesep: str) -> str:
    fits = len(name) + indent + 2 <= 78
    if name.isascii() and name.isprintable() and "=?" not in name and fits:
        return str(Address(display_name=name, addr_spec="x@x")).removesuffix(" <x@x>")  # quoted when it must be
    # One encoded word even past RFC 2047's 75 characters (readers take it; split, the name
    # would read back with extra spaces), as long as the line stays well within SMTP's 998
    # characters: true of any name within the roadmap file's 300 characters but the longest
    # in four-byte characters, which are split the RFC 2047 way instead.
    word = "=?utf-8?b?" + base64.b64encode(name.encode("utf-8", "replace")).decode("ascii") + "?="
    if len(word) + indent <= 900:
        return word
    return Header(name.encode("utf-8", "replace"), "utf-8").encode(linesep=linesep, maxlinelen=78)


class _Registry(HeaderRegistry):
    """The standard header registry, each header's class made once, and each header given as
    text parsed once: the stock one builds a new class (``type(...)``) for every header it
    parses, and every message re-parses the same MIME headers (``Content-Type: text/plain;
    charset="utf-8"``, ``MIME-Version: 1.0``, the attachment's ``Content-Disposition``...).
    A header object is never changed once made (the email package replaces a header rather than
    edit it), so messages can share one (bench/bench_relay.py's in-process split)."""

    PARSED_MAX = 256  # distinct headers kept (a digest has ~15 that recur); past that it starts again

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type] = {}
        self._parsed: dict[tuple[Any, ...], BaseHeader] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        if (cls := self._classes.get(key)) is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls

    def __call__(self, name: str, value: Any) -> BaseHeader:
        if type(value) is str:
            key: tuple[Any, ...] = (name, value)
        elif type(value) is Address:  # From, Reply-To (tasks/mail_message.build_mime)
            key = (name, None, value.display_name, value.username, value.domain)
        else:  # a datetime, a list of addresses: made each time
            return super().__call__(name, value)
        if (header := self._parsed.get(key)) is None:
            if len(self._parsed) >= self.PARSED_MAX:
                self._parsed.clear()
            header = self._parsed[key] = super().__call__(name, value)
        return header


WIRE = _WirePolicy(linesep="\r\n", cte_type="7bit", header_factory=_Registry()).clone(fold_cache={})
_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
_HEADER_NAME = re.compile(r"[!-9;-~]+")
# Headers build_mime sets itself; letting extra headers repeat them would make two.
_MANAGED_HEADERS = {
    "from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version",
    "content-type", "content-transfer-encoding", "content-disposition", "auto-submitted",
    "x-auto-response-suppress",
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


def make_message_id(domain: str) -> str:
    """A globally unique RFC 5322 Message-ID, ``<hex@domain>``. Random rather than
    derived from content: two reminders with the same subject are different mails."""
    if not domain or re.search(r"[\s<>@\x00-\x1f\x7f]", domain):
        raise ValueError(f"bad Message-ID domain: {domain!r}")
    return f"<{uuid.uuid4().hex}@{domain}>"


# --- building --------------------------------------------------------------------


def build_mime(msg: OutgoingMessage, *, now: datetime | None = None) -> EmailMessage:
    """The message: multipart/mixed > (multipart/alternative > text/plain, text/html) +
    attachments, or a plain text/plain message when there is nothing else.

    Raises InvalidAddress for a bad sender, recipient or Reply-To and ValueError for a bad
    Message-ID or extra header name."""
    if not _MESSAGE_ID.fullmatch(msg.message_id):
        raise ValueError(f"Message-ID must look like <id@domain>: {msg.message_id!r}")
    if not msg.to:
        raise InvalidAddress("message has no recipients")
    mail = EmailMessage(policy=WIRE)
    mail["Message-ID"] = msg.message_id
    mail["Date"] = now or datetime.now().astimezone()
    mail["From"] = parse_address(msg.sender)
    mail["To"] = [parse_address(a) for a in msg.to]
    mail["Subject"] = sanitise(msg.subject)
    # RFC 3834: tells vacation responders and ticket systems not to answer us.
    mail["Auto-Submitted"] = "auto-generated"
    # Exchange's documented switch for suppressing automatic replies (MS-OXCMAIL).
    mail["X-Auto-Response-Suppress"] = "All"
    for name, value in msg.headers:
        if not _HEADER_NAME.fullmatch(name) or name.lower() in _MANAGED_HEADERS:
            raise ValueError(f"extra header name not allowed: {name!r}")
        mail[name] = parse_address(value) if name.lower() == "reply-to" else sanitise(value)
    mail.set_content(msg.text)
    if msg.html is not None:
        mail.add_alternative(msg.html, subtype="html")
    for att in msg.attachments:
        ctype = WIRE.header_factory("Content-Type", sanitise(att.content_type))
        mail.add_attachment(att.data, ctype.maintype, ctype.subtype,
                            filename=attachment_name(att.filename), params=dict(ctype.params))
    return mail


def attachment_name(name: str) -> str:
    """A file name any mail reader and any file system takes: controls made spaces, and the
    characters Windows refuses (and that some parsers read as syntax, e.g. "<>") made "_"."""
    return re.sub(r'[<>:"/\\|?*]', "_", sanitise(name))


def message_bytes(msg: OutgoingMessage, *, now: datetime | None = None) -> bytes:
    """Exactly the bytes that go on the wire or into an .eml file (CRLF line ends)."""
    return build_mime(msg, now=now).as_bytes(policy=WIRE)
