"""roadmaps.calendar_rules: a roadmap's region and its own days off and working days

`calendar: {country: RU, region: ..., extra_days_off: [...], extra_working_days: [...]}` in the
roadmap file (docs/roadmap-format.md); the country stays in roadmaps.calendar, the rest is
stored here (models/calendar.py stored_rules). NULL for the roadmaps imported before: the
country's calendar alone, as it was.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('roadmaps', sa.Column('calendar_rules', sa.JSON(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE, not batch mode's copy-and-rename: dropping the old roadmaps table would
    # cascade to every row of the roadmap (see 0006).
    op.drop_column('roadmaps', 'calendar_rules')
