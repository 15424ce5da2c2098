"""The flows under Prefect (a session-scoped prefect_test_harness), with a real SMTP server.

Each test runs a flow as Prefect runs it (flow and task runs recorded by the harness's
server) and asserts on the emails that arrived at aiosmtpd and on the outbox.
"""

from __future__ import annotations

import shutil
from datetime import date

import pytest
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import select

from flows import prefect_tasks
from flows.daily_cycle import daily_cycle
from flows.send_escalations import send_escalations
from flows.send_reminders import send_reminders
from flows.sync_roadmap import sync_roadmap
from flows.weekly_report import weekly_report
from models.db import session_scope
from models.schema import EscalationItem
from tasks import notify_jobs
from tasks.mail_summary import DeliveryFailed
from tasks.outbox_admin import list_messages
from tasks.report_jobs import snapshots
from tests.smtp_fixtures import point_settings_at

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session", autouse=True)
def prefect_harness():
    with prefect_test_harness(server_startup_timeout=60):
        yield


def no_retry_delays(monkeypatch) -> None:
    """Prefect reads a task's retry delays when it retries: no waiting in tests."""
    for name in dir(prefect_tasks):
        obj = getattr(prefect_tasks, name)
        if hasattr(obj, "retry_delay_seconds") and hasattr(obj, "fn"):
            monkeypatch.setattr(obj, "retry_delay_seconds", [0])


@pytest.fixture
def smtp_env(monkeypatch, smtp_server):
    no_retry_delays(monkeypatch)
    return point_settings_at(smtp_server, monkeypatch)


@pytest.fixture
def url(db_url, small_yaml):
    report = sync_roadmap(path=str(small_yaml), db_url=db_url)
    assert report.roadmap_key == "small" and report.created
    return db_url


def recipients(server) -> list[str]:
    return sorted(m["To"].addresses[0].addr_spec for m in server.messages)


def test_reminders_flow_sends_each_digest_once(url, smtp_env):
    summary = send_reminders(as_of=date(2014, 11, 10), db_url=url)
    assert (summary.planned, summary.recorded, summary.sent, summary.failed) == (2, 2, 2, 0)
    assert recipients(smtp_env) == ["alice@example.org", "bob@example.org"]
    again = send_reminders(as_of=date(2014, 11, 10), db_url=url)
    assert (again.planned, again.recorded, again.duplicates, again.delivered_by_run, again.sent) == (2, 0, 2, 0, 2)
    assert len(smtp_env.messages) == 2


def test_escalations_flow(url, smtp_env):
    summary = send_escalations(as_of=date(2014, 11, 10), db_url=url)
    assert summary.sent == 4 and summary.failed == 0
    assert recipients(smtp_env) == ["bob@example.org", "boss@example.org", "carol@example.org", "pmo@example.org"]


def test_weekly_report_flow_sends_once_per_week(url, smtp_env):
    path, summary = weekly_report(as_of=date(2014, 11, 10), db_url=url)
    assert path.is_file() and summary.sent == 2
    assert recipients(smtp_env) == ["boss@example.org", "director@example.org"]
    _, again = weekly_report(as_of=date(2014, 11, 7), db_url=url)  # week 45's report too (3-9 Nov)
    assert (again.recorded, again.duplicates) == (0, 2)
    assert len(smtp_env.messages) == 2


def test_prefect_retry_after_sending_does_not_send_twice(url, smtp_env, monkeypatch):
    """The delivery task fails after it has sent everything; Prefect retries it; nobody gets a
    second email, because the outbox already marked each message sent."""
    real = notify_jobs.deliver_pending
    calls = []

    def flaky(db_url, settings=None, follow=None):
        stats = real(db_url, settings, follow)
        calls.append(stats.sent)
        if len(calls) == 1:
            from sqlalchemy.exc import OperationalError

            raise OperationalError("SELECT 1", {}, ConnectionError("connection lost after sending"))
        return stats

    monkeypatch.setattr(notify_jobs, "deliver_pending", flaky)
    summary = send_reminders(as_of=date(2014, 11, 10), db_url=url)
    assert calls == [2, 0]  # the retry found nothing left to send
    assert summary.sent == 2 and summary.failed == 0
    assert len(smtp_env.messages) == 2


def test_transient_smtp_failure_is_retried_by_prefect(url, smtp_env, monkeypatch):
    smtp_env.tempfail.add("bob@example.org")
    real = notify_jobs.deliver_pending
    attempts = []

    def recovering(db_url, settings=None, follow=None):
        attempts.append(1)
        if len(attempts) == 3:
            smtp_env.tempfail.clear()  # the server is fine again for the delivery task's first retry
        return real(db_url, settings, follow)

    monkeypatch.setattr(notify_jobs, "deliver_pending", recovering)
    summary = send_reminders(as_of=date(2014, 11, 10), db_url=url)
    # record-and-send, the delivery task (still refused), its first retry (accepted)
    assert len(attempts) == 3 and summary.sent == 2 and summary.failed == 0
    assert recipients(smtp_env) == ["alice@example.org", "bob@example.org"]
    assert sorted(m.attempts for m in list_messages(url)) == [1, 3]


def test_the_daily_cycle_leaves_mail_that_failed_for_now_to_the_delivery_task_retries(url, smtp_env, monkeypatch):
    """A roadmap's cycle is one task (flows/prefect_tasks.cycle): bob's relay refuses for now
    (4xx); the cycle spends one attempt on each of bob's messages (its steps' deliveries count
    as one run), then the delivery task and its retry send them; nothing twice, the cycle not
    run again."""
    from prefect.runtime import task_run

    from tasks import daily_cycle as cycle_jobs

    no_retry_delays(monkeypatch)
    smtp_env.tempfail.add("bob@example.org")
    real_deliver, by_task = notify_jobs.deliver_pending, []

    def deliver(db_url, settings=None, follow=None):
        by_task.append(task_run.task_name)
        if by_task.count("deliver-outbox") == 2:
            smtp_env.tempfail.clear()  # the relay is fine again for the delivery task's retry
        return real_deliver(db_url, settings, follow)

    real_cycle, cycles = cycle_jobs.cycle_summaries, []
    monkeypatch.setattr(notify_jobs, "deliver_pending", deliver)
    monkeypatch.setattr(cycle_jobs, "cycle_summaries", lambda *a: cycles.append(1) or real_cycle(*a))
    summaries = daily_cycle(as_of=date(2014, 11, 10), db_url=url)
    assert len(cycles) == 1 and by_task.count("deliver-outbox") == 2
    assert summaries and all(s.failed == 0 for s in summaries)
    rows = list_messages(url)
    assert rows and {r.status for r in rows} == {"sent"}
    assert {r.attempts for r in rows if r.recipient == "bob@example.org"} == {3}  # cycle, task, its retry
    ids = [m["Message-ID"] for m in smtp_env.messages]
    assert len(ids) == len(set(ids)) == len(rows)  # nothing sent twice


def test_the_daily_cycle_names_what_still_failed_after_the_last_retry(url, smtp_env, monkeypatch):
    from config import get_settings
    from tasks.daily_cycle import CyclesFailed

    no_retry_delays(monkeypatch)
    smtp_env.tempfail.add("bob@example.org")
    state = daily_cycle(as_of=date(2014, 11, 10), db_url=url, return_state=True)
    assert state.is_failed()
    with pytest.raises(CyclesFailed,
                       match=r"^1 of 1 roadmap\(s\) failed: small: 2 message\(s\) failed: bob@example.org"):
        state.result()
    # One attempt in the cycle, then the delivery task's runs until no attempt was left.
    bob = [r for r in list_messages(url) if r.recipient == "bob@example.org"]
    assert {(r.status, r.attempts) for r in bob} == {("failed", get_settings().mail_max_attempts)}


def test_the_daily_cycle_never_retries_a_bad_login(url, monkeypatch):
    from flows import daily_cycle as cycle_flows
    from tests.smtp_fixtures import SmtpRecorder

    no_retry_delays(monkeypatch)
    monkeypatch.setattr(cycle_flows, "deliver_with_retries", lambda *a: pytest.fail("delivery retried"))
    with SmtpRecorder(auth=("roadmap", "right")) as server:
        point_settings_at(server, monkeypatch)
        monkeypatch.setenv("ROADMAP_SMTP_USER", "roadmap")
        monkeypatch.setenv("ROADMAP_SMTP_PASSWORD", "wrong")
        state = daily_cycle(as_of=date(2014, 11, 10), db_url=url, return_state=True)
    assert state.is_failed() and "authentication" in str(state.message).lower()
    assert {m.attempts for m in list_messages(url)} == {0}


def test_permanent_failure_fails_the_flow_run(url, smtp_env):
    smtp_env.refuse.add("bob@example.org")
    state = send_reminders(as_of=date(2014, 11, 10), db_url=url, return_state=True)
    assert state.is_failed()
    with pytest.raises(DeliveryFailed) as info:
        state.result()
    assert info.value.summaries[0].failed == 1 and info.value.summaries[0].sent == 1
    assert recipients(smtp_env) == ["alice@example.org"]


def test_unreachable_database_fails_the_flow_run(monkeypatch, tmp_path):
    no_retry_delays(monkeypatch)
    state = send_reminders(as_of=date(2014, 11, 10), db_url="postgresql://nobody@127.0.0.1:1/none",
                           return_state=True)
    assert state.is_failed()


def test_daily_cycle_catches_up_after_missed_days(url, smtp_env):
    """Nothing ran from Friday 7 Nov to Wednesday 12 Nov (the Monday report day missed):
    reminders are today's only, escalations of the gap go out once, the missed report is made."""
    summaries = daily_cycle(as_of=date(2014, 11, 12), db_url=url)
    kinds = {s.kind: s for s in summaries}
    assert set(kinds) == {"reminders", "escalations", "report"}
    # Written as of the missed Monday: the report of exactly the week it should have covered.
    assert [s.as_of for s in snapshots(url, "small")] == [date(2014, 11, 10)]
    rows = list_messages(url)
    assert {r.as_of for r in rows if r.kind == "reminder"} <= {date(2014, 11, 12)}
    sent_before = len(smtp_env.messages)
    assert sent_before == sum(s.sent for s in summaries) == len(rows)
    # The next day: the report is not made again, and no escalated item is repeated: the
    # next day's digests (a key per recipient and day) carry only items never sent before.
    escalated = {r.dedup_key for r in rows if r.kind == "escalation"}
    assert escalated
    items_before = escalation_item_keys(url)
    assert len(items_before) > len(escalated)  # a digest carries several items
    planned = notify_jobs.plan_escalation_messages(url, None, date(2014, 11, 13))
    assert not {e.dedup_key for d in planned.todo for e in d.items} & items_before
    nxt = daily_cycle(as_of=date(2014, 11, 13), db_url=url)
    assert {s.kind for s in nxt} == {"reminders", "escalations"}
    again = next(s for s in nxt if s.kind == "escalations")
    assert (again.planned, again.recorded, again.duplicates) == (len(planned.todo), len(planned.todo), 0)
    new_escalations = [r for r in list_messages(url) if r.kind == "escalation" and r.dedup_key not in escalated]
    assert len(new_escalations) == again.recorded
    assert len(escalation_item_keys(url)) == len(items_before) + sum(len(d.items) for d in planned.todo)
    assert len(list_messages(url)) == len(smtp_env.messages)


def escalation_item_keys(url):
    """The escalated items recorded so far (dedup keys without the roadmap prefix)."""
    with session_scope(url) as session:
        return {k.split(":", 1)[1] for k in session.scalars(select(EscalationItem.dedup_key))}


def test_daily_cycle_sends_nothing_on_a_public_holiday(url, smtp_env):
    """Monday 9 March 2015 is a Russian public holiday: no reminder, escalation or report."""
    assert daily_cycle(as_of=date(2015, 3, 9), db_url=url) == []
    assert list_messages(url) == [] and smtp_env.messages == [] and snapshots(url, "small") == []


def test_the_scheduled_report_waits_for_the_business_day_after_a_holiday(url, smtp_env):
    """The weekly-report deployment fires daily with when_due: nothing on Monday 9 March 2015
    (a holiday), Monday's report on Tuesday, nothing on Wednesday."""
    assert weekly_report(as_of=date(2015, 3, 9), db_url=url, when_due=True) == (None, None)
    path, summary = weekly_report(as_of=date(2015, 3, 10), db_url=url, when_due=True)
    assert path.name == "small-2015-W10.docx" and summary.sent == 2
    assert weekly_report(as_of=date(2015, 3, 11), db_url=url, when_due=True) == (None, None)
    assert [s.as_of for s in snapshots(url, "small")] == [date(2015, 3, 9)] and len(smtp_env.messages) == 2


def test_flow_refuses_a_password_in_its_parameters(monkeypatch):
    state = send_reminders(db_url="postgresql://u:secret@127.0.0.1/db", return_state=True)
    assert state.is_failed()
    assert "password" in str(state.message) or "password" in repr(state.data)


def test_concurrent_smtp_connections_split_the_outbox(url, smtp_env, monkeypatch):
    """ROADMAP_SMTP_CONNECTIONS=3: three connections send at once; every message is recorded once
    and, with no crash, arrives once: concurrent senders never send one twice."""
    monkeypatch.setenv("ROADMAP_SMTP_CONNECTIONS", "3")
    summaries = daily_cycle(as_of=date(2014, 11, 10), db_url=url)
    ids = [m["Message-ID"] for m in smtp_env.messages]
    assert len(ids) == len(set(ids)) == len(list_messages(url)) == sum(s.sent for s in summaries) == 8
    assert smtp_env.connections >= 3


def test_the_cli_runs_the_same_steps_without_prefect(url, smtp_env, monkeypatch):
    """What `roadmap run` calls without a Prefect API: the same steps as plain functions."""
    from tasks.daily_cycle import daily_cycle as plain_daily_cycle

    monkeypatch.setenv("ROADMAP_SMTP_CONNECTIONS", "2")
    summaries = plain_daily_cycle(url, None, date(2014, 11, 10))
    assert sorted(s.kind for s in summaries) == ["escalations", "reminders", "report"]
    assert len(smtp_env.messages) == len(list_messages(url)) == 8


def test_a_bad_smtp_login_fails_the_run_without_retries(url, monkeypatch):
    """Prefect retries a relay that is away, never a bad login: repeated bad logins lock
    accounts. The run fails at once, naming the message, and uses up none of its attempts."""
    from tests.smtp_fixtures import SmtpRecorder

    no_retry_delays(monkeypatch)
    with SmtpRecorder(auth=("roadmap", "right")) as server:
        point_settings_at(server, monkeypatch)
        monkeypatch.setenv("ROADMAP_SMTP_USER", "roadmap")
        monkeypatch.setenv("ROADMAP_SMTP_PASSWORD", "wrong")
        state = send_reminders(as_of=date(2014, 11, 10), db_url=url, return_state=True)
        logins = len(server.auth_attempts)
    assert state.is_failed()
    assert logins == 2  # one login (smtplib tries PLAIN, then LOGIN), no retry of the delivery task
    assert {m.attempts for m in list_messages(url)} == {0}
    assert "authentication failed" in str(state.message).lower() or "authentication" in repr(state.data)


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed on this machine")
def test_the_report_flow_mails_the_pdf_it_wrote_under_an_upper_case_name(url, smtp_env, tmp_path, monkeypatch):
    """ROADMAP_REPORT_PDF with --out X.PDF: the mail attaches X.PDF, not a guessed X.pdf."""
    from config import reset_settings_cache

    monkeypatch.setenv("ROADMAP_REPORT_PDF", "true")
    reset_settings_cache()
    path, summary = weekly_report(as_of=date(2014, 11, 10), db_url=url, out=str(tmp_path / "X.PDF"))
    assert path == tmp_path / "X.docx" and summary is not None and summary.failed == 0
    assert len(smtp_env.messages) == 2
    for message in smtp_env.messages:
        assert {a.get_filename() for a in message.iter_attachments()} == {"X.docx", "X.PDF"}


@pytest.mark.parametrize("args", [
    ["remind", "--roadmap", "nope"],
    ["run", "--as-of", "2099-01-01"],
    ["report", "--as-of", "1990-01-01"],
    ["report", "--as-of", "2014-10-26"],  # within the window, but the day before the session
    ["import", "tests/data/missing.yaml"],
])
def test_a_user_mistake_under_prefect_is_one_line_before_any_flow_run(url, args):
    """Checked before the flow starts: no failed flow run, no traceback logged by Prefect."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from typer.testing import CliRunner

    from cli.main import app

    def failed_runs() -> int:
        with get_client(sync_client=True) as client:
            only_failed = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.FAILED])))
            return len(client.read_flow_runs(flow_run_filter=only_failed))

    before = failed_runs()
    result = CliRunner().invoke(app, [*args, "--prefect", "--db", url])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()  # a file's problems end with a count line
    assert "Traceback" not in result.output and (len(lines) == 1 or lines[-1].endswith("nothing was changed.")), lines
    assert failed_runs() == before


def test_the_daily_cycle_runs_a_child_flow_per_roadmap_and_fails_at_the_end_naming_the_broken_one(
        db_url, tmp_path, smtp_env):
    """Two roadmaps, "alpha" with a stored calendar this version no longer knows: its
    `roadmap-cycle` child run fails, beta's still sends every message, and the parent run
    fails at the end naming alpha and why."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterParentFlowRunId

    from tasks.daily_cycle import CyclesFailed
    from tests.test_portfolio import add_roadmap, break_calendar

    add_roadmap(db_url, tmp_path, "alpha")
    add_roadmap(db_url, tmp_path, "beta")
    break_calendar(db_url, "alpha")
    state = daily_cycle(as_of=date(2014, 11, 10), db_url=db_url, return_state=True)
    assert state.is_failed()
    with pytest.raises(CyclesFailed) as info:
        state.result()
    assert [(c.roadmap_key, c.why) for c in info.value.failed] == [("alpha", "UnknownCalendar: unknown calendar 'XX'")]
    beta = list_messages(db_url, roadmap_key="beta")
    assert beta and {m.status for m in beta} == {"sent"} and len(smtp_env.messages) == len(beta)
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["roadmap-cycle"])),
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(
                any_=[state.state_details.flow_run_id])))
    assert sorted((r.name, r.state.type.value) for r in children) == [("alpha", "FAILED"), ("beta", "COMPLETED")]


def test_a_batch_run_goes_over_its_roadmaps_in_one_flow_run_and_fails_at_the_end_naming_the_broken_one(
        db_url, tmp_path, smtp_env):
    """The deployed daily cycle's child (`roadmap-cycles`): alpha's stored calendar is broken,
    beta after it still sends every message, no flow run is made per roadmap, and the batch
    fails naming alpha."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    from flows.daily_cycle import roadmap_cycles
    from tasks.daily_cycle import CyclesFailed
    from tests.test_portfolio import add_roadmap, break_calendar

    add_roadmap(db_url, tmp_path, "alpha")
    add_roadmap(db_url, tmp_path, "beta")
    break_calendar(db_url, "alpha")

    def run_names() -> list[str]:  # the harness's server is shared by the module's tests
        with get_client(sync_client=True) as client:
            return [r.name for r in client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(
                any_=["roadmap-cycles", "roadmap-cycle"])))]

    before = run_names()
    state = roadmap_cycles(["alpha", "beta"], as_of=date(2014, 11, 10), db_url=db_url, return_state=True)
    with pytest.raises(CyclesFailed, match=r"^1 of 2 roadmap\(s\) failed: alpha: UnknownCalendar"):
        state.result()
    beta = list_messages(db_url, roadmap_key="beta")
    assert beta and {m.status for m in beta} == {"sent"} and len(smtp_env.messages) == len(beta)
    new_runs = list(run_names())
    for name in before:
        new_runs.remove(name)
    assert new_runs == ["alpha..beta (2)"]
    # One task run per roadmap (what the fan-out costs per roadmap: docs/deployment.md).
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(
            any_=[state.state_details.flow_run_id])))
    assert sorted(r.name.rsplit("-", 1)[0] for r in task_runs) == ["roadmap-cycle-steps"] * 2


def test_batches_cut_the_roadmaps_in_order_into_the_fewest_runs_of_nearly_equal_sizes():
    from flows.fan_out import batches

    keys = [f"r{n:02}" for n in range(45)]
    cut = batches(keys, 20)
    assert [len(b) for b in cut] == [15, 15, 15] and [k for b in cut for k in b] == keys
    assert batches(keys[:4], 1) == [[k] for k in keys[:4]]
    assert batches(keys[:3], 20) == [keys[:3]] and batches([], 20) == []


def test_roadmap_run_under_prefect_goes_over_every_roadmap_and_exits_1_naming_the_failed_one(
        db_url, tmp_path, smtp_env):
    from typer.testing import CliRunner

    from cli.main import app
    from tests.test_portfolio import add_roadmap, break_calendar

    add_roadmap(db_url, tmp_path, "alpha")
    add_roadmap(db_url, tmp_path, "beta")
    break_calendar(db_url, "alpha")
    result = CliRunner().invoke(app, ["run", "--prefect", "--as-of", "2014-11-10", "--db", db_url])
    assert result.exit_code == 1, result.output
    assert "the daily cycle failed for 1 of 2 roadmap(s): alpha (UnknownCalendar: unknown calendar 'XX')" \
        in result.stderr
    assert "beta 2014-11-10 reminders: planned" in result.stdout and "Traceback" not in result.output
    assert {m.status for m in list_messages(db_url, roadmap_key="beta")} == {"sent"}


def test_the_daily_cycle_flow_sends_the_portfolio_report_on_its_day_once(db_url, tmp_path, smtp_env, monkeypatch):
    """After the roadmaps' child runs, a `portfolio-report` task: on Monday (the default day)
    the report goes to each address of ROADMAP_PORTFOLIO_REPORT_TO, of no roadmap; the next
    day's run sends it no more."""
    from typer.testing import CliRunner

    from cli.main import app
    from config import reset_settings_cache
    from tests.test_portfolio import add_roadmap

    add_roadmap(db_url, tmp_path, "alpha")
    add_roadmap(db_url, tmp_path, "beta")
    monkeypatch.setenv("ROADMAP_PORTFOLIO_REPORT_TO", "boss@office.example.org")
    reset_settings_cache()
    result = CliRunner().invoke(app, ["run", "--prefect", "--as-of", "2014-11-10", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "(portfolio) 2014-11-10 portfolio: planned 1, recorded 1" in result.stdout
    (row,) = list_messages(db_url, kind="portfolio")
    assert (row.roadmap_id, row.dedup_key, row.status) == (
        None, "portfolio-report:boss@office.example.org:2014-W45", "sent")
    summaries = daily_cycle(as_of=date(2014, 11, 11), db_url=db_url)
    assert summaries and all(s.roadmap_key != "(portfolio)" for s in summaries)
    assert len(list_messages(db_url, kind="portfolio")) == 1
    assert [m["To"].addresses[0].addr_spec for m in smtp_env.messages].count("boss@office.example.org") == 1
