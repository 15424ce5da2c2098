"""escalation_items and roadmaps.short_title: one escalation digest per recipient and day

An escalation mail now carries every item escalated to its recipient that day. Which items
(task at a level, or risk trigger, for one recipient) were sent, and in which message, is
kept in escalation_items under the item's own dedup key, so that the same item at the same
level is never sent twice while the message has a key of its own per recipient and day.
The per-item messages recorded before this revision are copied in, so an upgraded database
does not send them again. roadmaps.short_title: the roadmap's name in mail subjects.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'escalation_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('roadmap_id', sa.Integer(), nullable=False),
        sa.Column('dedup_key', sa.String(length=400), nullable=False),
        sa.Column('outbox_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['roadmap_id'], ['roadmaps.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('dedup_key'),
    )
    op.create_index('ix_escalation_items_outbox_id', 'escalation_items', ['outbox_id'])
    op.execute("INSERT INTO escalation_items (roadmap_id, dedup_key, outbox_id) "
               "SELECT roadmap_id, dedup_key, id FROM outbox WHERE kind = 'escalation'")
    op.add_column('roadmaps', sa.Column('short_title', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('roadmaps', 'short_title')
    op.drop_index('ix_escalation_items_outbox_id', table_name='escalation_items')
    op.drop_table('escalation_items')
