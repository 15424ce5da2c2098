"""outbox_parts indexed by roadmap: every message now claims its shares there

A roadmap's own messages claim their share in outbox_parts too (tasks/outbox_record.py
``_claim``), so the table grows with the outbox, and a roadmap's messages
(models/schema.py ``roadmap_messages``) are looked up in it by roadmap.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outbox_parts_roadmap_id', 'outbox_parts', ['roadmap_id'])


def downgrade() -> None:
    op.drop_index('ix_outbox_parts_roadmap_id', table_name='outbox_parts')
