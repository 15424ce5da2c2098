"""roadmaps.archived: a finished roadmap whose mail has stopped (`roadmap archive KEY`)

An archived roadmap is left out of "every roadmap" (`roadmap run` and the daily-cycle flow
without a key, the portfolio `roadmap status`) and plans no reminder, escalation or report
mail; `roadmap archive KEY --undo` makes it active again. Who archived it and when is in the
history (changes: entity "roadmap", field "archived"). Every roadmap before this is active.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('roadmaps', sa.Column('archived', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    # Plain ALTER TABLE, not batch mode's copy-and-rename: dropping the old roadmaps table would
    # cascade to every row that refers to it (see 0006).
    op.drop_column('roadmaps', 'archived')
