"""outbox.roadmap_id nullable: messages of the whole office, not of one roadmap

The portfolio report (`roadmap report --portfolio --send`) and the digests a person gets across
several roadmaps belong to no single roadmap: their outbox rows have no roadmap_id and their
dedup keys no roadmap prefix. Every row before this belongs to its roadmap, as before.

On SQLite the outbox table is rebuilt (batch mode) with foreign keys off
(models/db.migration_connection), so the rows that refer to it are kept.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.alter_column('roadmap_id', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # The office's messages go, with what refers to them (foreign keys are off on SQLite here:
    # models/db.migration_connection). What the digests across roadmaps carried (escalation items,
    # calendar entries, check-ins) is forgotten with them: after a downgrade those may be sent again.
    office = "SELECT id FROM outbox WHERE roadmap_id IS NULL"
    for table in ("outbox_content", "escalation_items", "checkins"):  # ON DELETE CASCADE
        op.execute(f"DELETE FROM {table} WHERE outbox_id IN ({office})")
    op.execute(f"UPDATE calendar_entries SET outbox_id = NULL WHERE outbox_id IN ({office})")  # SET NULL
    op.execute(f"UPDATE changes SET notice_outbox_id = NULL WHERE notice_outbox_id IN ({office})")
    op.execute("DELETE FROM outbox WHERE roadmap_id IS NULL")
    with op.batch_alter_table('outbox') as batch:
        batch.alter_column('roadmap_id', existing_type=sa.Integer(), nullable=False)
