"""checkins: the check-in lines sent, per task and day

An unanswered check-in goes to the owner's manager (models/checkins.py). Until now it was
decided from "some reminder digest went to the owner's reader on the check-in day", within a
window of days: a check-in older than that window (no escalation run for a few weeks) was never
escalated, and a digest without the check-in line counted as one. Each check-in line sent is
now a row with the message that carried it. Check-ins sent before the upgrade have no row and
are not escalated.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'checkins',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('roadmap_id', sa.Integer(), nullable=False),
        sa.Column('task_key', sa.String(length=100), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('outbox_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['roadmap_id'], ['roadmaps.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('roadmap_id', 'task_key', 'day'),
    )
    op.create_index('ix_checkins_outbox_id', 'checkins', ['outbox_id'])


def downgrade() -> None:
    op.drop_index('ix_checkins_outbox_id', table_name='checkins')
    op.drop_table('checkins')
