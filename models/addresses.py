"""The one e-mail address rule, shared by the roadmap loader, the settings and the mail.

An address is accepted only if it can be delivered as written: one addr-spec with an ASCII
local part and a DNS domain of at least two labels (an internationalised domain is turned
into punycode). Anything else is refused rather than "fixed": a repaired address could
deliver mail to someone else.
"""

from __future__ import annotations

import functools
import re
from email.headerregistry import Address

# C0 and C1 controls, DEL and the Unicode line separators: anything a mail parser
# might treat as the end of a header line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SPECIALS = re.compile(r'[()<>@,:;."\[\]\\]')  # RFC 5322's specials, and the escape
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")


class InvalidAddress(ValueError):
    """An address we refuse to put in a header, an SMTP envelope or the database."""


def sanitise(text: str) -> str:
    """Replace control characters with spaces, so a subject or display name taken from
    user data ("Hi\\r\\nBcc: evil@x") can never start a header of its own."""
    return _CONTROL.sub(" ", text)


@functools.lru_cache(maxsize=4096)
def parse_address(value: str) -> Address:
    """Split "Name <addr>" or "addr" and check the address; the display name is sanitised.

    Raises InvalidAddress with a one-line message that quotes the value."""
    match = re.fullmatch(r"\s*(.*?)\s*<([^<>]*)>\s*", value, re.DOTALL)
    name, addr = (match.group(1), match.group(2)) if match else ("", value.strip())
    if re.search(r"[,;:@<>]", _QUOTED.sub('""', name)):
        # A second address, a list or a group (`"Bad" <x@y.org>, <z@evil.example>`) would be
        # read as a display name followed by the last address; a name with these is quoted.
        raise InvalidAddress(f'one address only ("Name <addr@host>" or addr@host; quote a name with , ; : @ < >): '
                             f"{value!r}")
    if _CONTROL.search(addr):
        raise InvalidAddress(f"address contains control characters: {value!r}")
    try:
        parsed = Address(addr_spec=addr)
    except Exception:  # the parser raises several unrelated types, some with no useful text
        raise InvalidAddress(f"not a valid e-mail address: {value!r}") from None
    if not parsed.username or not parsed.domain or not parsed.username.isascii():
        raise InvalidAddress(f"not a deliverable ASCII e-mail address: {value!r}")
    try:
        domain = parsed.domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidAddress(f"domain cannot be encoded for DNS: {value!r}") from None
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidAddress(f"not a valid e-mail domain: {value!r}")
    return Address(display_name=sanitise(_unquote(name)).strip(), username=parsed.username, domain=domain)


def _unquote(name: str) -> str:
    """The text of a display name written as one quoted-string ("O'Brien, Pat"), else the
    name as written: so that ``mailbox`` round-trips any name exactly."""
    if _QUOTED.fullmatch(name):
        return re.sub(r"\\(.)", r"\1", name[1:-1], flags=re.DOTALL)
    return name


def mailbox(name: str, email: str) -> str:
    """"Name <addr>" as ``parse_address`` reads it back, the name exactly as given (quoted when
    it holds a comma, quotes, angle brackets or other specials, so that they are only text);
    the bare address when the name is blank. tasks/mail.py encodes the name for the header."""
    name = name.strip()
    if not name:
        return email
    if _SPECIALS.search(name):
        name = '"' + re.sub(r'(["\\])', r"\\\1", name) + '"'
    return f"{name} <{email}>"


def named_sender(sender: str, name: str) -> str:
    """The From of our mail: ``sender`` as configured when it names itself ("Name <addr>"),
    else its address under ``name`` (the office's), so that an inbox shows who writes."""
    parsed = parse_address(sender)
    return sender if parsed.display_name else mailbox(name, parsed.addr_spec)


def address_key(value: str) -> str:
    """An address as two are compared: two people whose addresses differ only in case share
    a mailbox in practice (domains are case-blind, and so are nearly all servers' local parts)."""
    return parse_address(value).addr_spec.lower()


def is_email(value: str) -> bool:
    """A bare address ("addr@host", no display name) that parse_address accepts."""
    try:
        return "<" not in value and bool(parse_address(value))
    except InvalidAddress:
        return False
