"""Signed links: what a token proves, when it stops working, and who may use one."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from models.delegation import acting_for, may_update
from models.tokens import (
    OFFICE,
    TokenError,
    expiry_for,
    sign_office_token,
    sign_task_token,
    verify_office_token,
    verify_task_token,
)

KEY = "test-secret-key"
NOW = datetime(2014, 11, 10, 9, 0, tzinfo=UTC)
EXPIRES = expiry_for(date(2014, 11, 10))


def token(task: str = "a", person: str = "alice", roadmap: str = "small", key: str = KEY, expires=EXPIRES) -> str:
    return sign_task_token(key, roadmap, task, person, expires)


def reason(tok: str, **kw) -> str:
    args = {"roadmap": "small", "task": "a", "now": NOW, **kw}
    with pytest.raises(TokenError) as info:
        verify_task_token(KEY, tok, **args)
    return info.value.reason


def test_it_verifies_its_own_token_and_names_whose_link_it_is():
    assert verify_task_token(KEY, token(), roadmap="small", task="a", now=NOW) == "alice"


def test_expiry_is_thirty_days_after_the_mail_day_by_default():
    assert expiry_for(date(2014, 11, 10)) - timedelta(days=30) == datetime(2014, 11, 10, 23, 59, 59, tzinfo=UTC)


def test_the_same_inputs_give_the_same_token():
    assert token() == token()


def test_a_tampered_payload_is_refused():
    payload, sig = token().split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["t"] = "b"  # point the link at another task
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    assert reason(f"{forged}.{sig}", task="b") == "signature"


def test_a_tampered_signature_is_refused():
    tok = token()
    flipped = tok[:-2] + ("A" if tok[-2] != "A" else "B") + tok[-1]
    assert reason(flipped) == "signature"


def test_a_token_signed_with_another_key_is_refused():
    assert reason(token(key="another-key")) == "signature"


def test_an_expired_token_is_refused():
    assert reason(token(), now=EXPIRES) == "expired"
    assert reason(token(), now=EXPIRES + timedelta(seconds=1)) == "expired"
    verify_task_token(KEY, token(), roadmap="small", task="a", now=EXPIRES - timedelta(seconds=1))


def test_a_token_for_another_task_or_roadmap_is_refused():
    assert reason(token(task="b")) == "task"
    assert reason(token(roadmap="other")) == "roadmap"


@pytest.mark.parametrize("junk", ["", "abc", "abc.", ".abc", "!!!.???", "e30.sig"])
def test_garbage_is_refused_as_malformed_or_unsigned(junk):
    assert reason(junk) in ("malformed", "signature")


def test_an_office_token_is_not_a_task_token_and_back():
    office = sign_office_token(KEY, "small", EXPIRES)
    assert reason(office) == "purpose"
    with pytest.raises(TokenError) as info:
        verify_office_token(KEY, token(), roadmap="small", now=NOW)
    assert info.value.reason == "purpose"
    verify_office_token(KEY, office, roadmap="small", now=NOW)  # no refusal


def refusal(tok: str, **kw) -> TokenError:
    args = {"roadmap": "small", "task": "a", "now": NOW, **kw}
    with pytest.raises(TokenError) as info:
        verify_task_token(KEY, tok, **args)
    return info.value


@pytest.mark.parametrize("make, english", [
    (lambda: "", "This link is incomplete: it may have been cut when copied from the email."),
    (lambda: "!!!.sig", "This link is damaged: it may have been cut when copied from the email."),
    (lambda: token(key="another-key"), "This link is not valid: it was changed, or it was not issued by this server."),
    (lambda: sign_office_token(KEY, "small", EXPIRES), "This link is meant for another page."),
    (lambda: token(task="b"), "This link belongs to another task: use the link next to this task in your email."),
    (lambda: token(roadmap="other"), "This link belongs to another roadmap."),
])
def test_a_refusal_says_why_in_english_for_the_log_and_as_a_message_id_for_the_page(make, english):
    exc = refusal(make())
    assert exc.message == str(exc) == english and exc.params == {}


def test_an_expired_refusal_carries_its_day():
    exc = refusal(token(), now=EXPIRES + timedelta(seconds=1))
    assert (exc.reason, exc.params) == ("expired", {"expires": date(2014, 12, 10)})
    assert exc.message.startswith("This link expired on %(expires)s.")
    assert "This link expired on 2014-12-10" in str(exc)


def test_a_signature_with_characters_outside_ascii_is_refused_not_an_error():
    payload, _ = token().split(".")
    assert reason(f"{payload}.подпись") == "signature"


def test_no_key_no_signing():
    with pytest.raises(ValueError, match="ROADMAP_SECRET_KEY"):
        sign_task_token("", "small", "a", "alice", EXPIRES)


# --- who may act on a task ----------------------------------------------------------


def person(key, manager=None, away_until=None, delegate=None, archived=False):
    return SimpleNamespace(key=key, manager=manager, away_until=away_until, delegate=delegate, archived=archived)


PEOPLE = {
    "boss": person("boss"),
    "alice": person("alice", manager="boss"),
    "bob": person("bob", manager="boss"),
    "carol": person("carol"),
    "gone": person("gone", archived=True),
}
PARTNERS = {"vdnh": SimpleNamespace(key="vdnh", contact="carol")}
TASK = SimpleNamespace(key="c", owner="bob", partners=["vdnh"])
DAY = date(2014, 11, 10)


@pytest.mark.parametrize("who, allowed", [
    ("bob", True),  # the owner
    ("boss", True),  # the owner's manager (level-1 escalations)
    ("carol", True),  # the contact of the task's partner (level-1 escalations)
    (OFFICE, True),  # the project office (level-2 escalations)
    ("alice", False),  # somebody else
    ("gone", False),  # archived
    ("nobody", False),  # unknown
])
def test_who_may_update_a_task(who, allowed):
    assert may_update(TASK, who, PEOPLE, PARTNERS, DAY) is allowed


def test_a_delegate_may_act_only_while_the_owner_is_away():
    people = {**PEOPLE, "bob": person("bob", manager="boss", away_until=date(2014, 11, 14), delegate="alice")}
    assert may_update(TASK, "alice", people, PARTNERS, DAY)
    assert may_update(TASK, "alice", people, PARTNERS, date(2014, 11, 14))
    assert not may_update(TASK, "alice", people, PARTNERS, date(2014, 11, 15))


def test_acting_for_follows_a_chain_of_absences_and_stops_on_a_loop():
    people = {
        "a": person("a", away_until=DAY, delegate="b"),
        "b": person("b", away_until=DAY, delegate="c"),
        "c": person("c"),
        "x": person("x", away_until=DAY, delegate="y"),
        "y": person("y", away_until=DAY, delegate="x"),
    }
    assert acting_for(people, "a", DAY) == "c"
    assert acting_for(people, "a", DAY + timedelta(days=1)) == "a"
    assert acting_for(people, "x", DAY) == "y"  # x -> y -> back to x: stop at y
