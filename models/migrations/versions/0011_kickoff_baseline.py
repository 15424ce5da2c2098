"""calendar_entries backfilled for the owners who already got reminders: no kick-off avalanche

A kick-off (models/notify.py) lists an owner's open tasks that their calendar holds no entry of
(calendar_entries, 0008). A database from before this version has owners who have been getting
reminders, with their .ics files, for months: without this step every one of them would get a
kick-off listing all their open tasks on the first run after the upgrade. Here every open task
of a person whose address already got a reminder or a rescheduling notice of the roadmap counts
as held by that person's calendar (as it is, give or take: each reminder carried its .ics); it
is recorded with the task's current SEQUENCE and no outbox message. New owners and tasks given
to someone later still get their kick-off.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

OPEN = ('planned', 'in_progress', 'blocked')


def upgrade() -> None:
    bind = op.get_bind()
    meta = sa.MetaData()
    roadmaps = sa.Table('roadmaps', meta, autoload_with=bind)
    people = sa.Table('people', meta, autoload_with=bind)
    tasks = sa.Table('tasks', meta, autoload_with=bind)
    outbox = sa.Table('outbox', meta, autoload_with=bind)
    entries = sa.Table('calendar_entries', meta, autoload_with=bind)
    reminded = {(r, e.lower()) for r, e in bind.execute(
        sa.select(outbox.c.roadmap_id, outbox.c.recipient).where(outbox.c.kind.in_(('reminder', 'notice'))).distinct())}
    if not reminded:
        return
    held = {(r, e, k) for r, e, k in bind.execute(
        sa.select(entries.c.roadmap_id, entries.c.email, entries.c.task_key))}
    keys = dict(bind.execute(sa.select(roadmaps.c.id, roadmaps.c.key)).all())
    emails = {(r, k): e.lower() for r, k, e in bind.execute(
        sa.select(people.c.roadmap_id, people.c.key, people.c.email))}
    rows = []
    for r, key, owner, title, due, sequence in bind.execute(
            sa.select(tasks.c.roadmap_id, tasks.c.key, tasks.c.owner, tasks.c.title, tasks.c.due, tasks.c.sequence)
            .where(tasks.c.archived.is_(False), tasks.c.status.in_(OPEN))):
        email = emails.get((r, owner))
        if email is None or (r, email) not in reminded or (r, email, key) in held:
            continue
        rows.append(dict(roadmap_id=r, email=email, person=owner, task_key=key,
                         uid=f"{key}.{keys[r]}@roadmap-office",  # models/ics.py task_uid
                         sequence=sequence, due=due, summary=title, cancelled=False, outbox_id=None))
    if rows:
        bind.execute(sa.insert(entries), rows)


def downgrade() -> None:
    pass  # the rows stay true: they describe what the calendars hold
