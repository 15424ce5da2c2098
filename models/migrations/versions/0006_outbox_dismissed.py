"""outbox.dismissed_at and outbox.dismissed_by: failed messages someone chose not to send

`roadmap outbox dismiss` sets a failed message's status to `dismissed` and records who and
when; the content and the last error stay. Dismissed messages are never sent and no longer
counted as failed messages waiting.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, not batch mode's copy-and-rename: dropping the old outbox table would
    # cascade to its outbox_content rows (see 0005).
    op.add_column('outbox', sa.Column('dismissed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('outbox', sa.Column('dismissed_by', sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.execute("UPDATE outbox SET status = 'failed' WHERE status = 'dismissed'")
    op.drop_column('outbox', 'dismissed_by')
    op.drop_column('outbox', 'dismissed_at')
