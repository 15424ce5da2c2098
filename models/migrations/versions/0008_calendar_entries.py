"""calendar_entries and people.calendar_generation: calendars that stay true

calendar_entries records, per address and task, what the mail .ics files left in that
person's calendar (UID, last SEQUENCE, due date, title, withdrawn or not), so that a task done,
cancelled, archived or given to someone else can be withdrawn (METHOD:CANCEL) in its former
owner's next mail. people.calendar_generation: the generation of the person's calendar feed
link; raising it (`roadmap calendar-link --revoke`) makes older feed links refused.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'calendar_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('roadmap_id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('person', sa.String(length=100), nullable=True),
        sa.Column('task_key', sa.String(length=100), nullable=False),
        sa.Column('uid', sa.String(length=400), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.Column('due', sa.Date(), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('cancelled', sa.Boolean(), nullable=False),
        sa.Column('outbox_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['roadmap_id'], ['roadmaps.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('roadmap_id', 'email', 'task_key'),
    )
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calendar_generation', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_column('calendar_generation')
    op.drop_table('calendar_entries')
