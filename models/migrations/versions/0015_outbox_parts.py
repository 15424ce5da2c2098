"""outbox_parts: each roadmap's share of a digest across roadmaps

A person in several roadmaps gets one reminder digest and one escalation digest a day across
them (tasks/shared_digests.py): a message of the whole office (no roadmap_id, 0014). Each
roadmap's share of it is a row here, under the dedup key the roadmap's own digest would have had
(with the roadmap prefix), so that a later run of that roadmap alone finds it already recorded.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'outbox_parts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('roadmap_id', sa.Integer(), nullable=False),
        sa.Column('dedup_key', sa.String(length=400), nullable=False),
        sa.Column('outbox_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['roadmap_id'], ['roadmaps.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('dedup_key'),
    )
    op.create_index('ix_outbox_parts_outbox_id', 'outbox_parts', ['outbox_id'])


def downgrade() -> None:
    op.drop_index('ix_outbox_parts_outbox_id', table_name='outbox_parts')
    op.drop_table('outbox_parts')
