"""people.language: the language of a person's mail and pages (`people[].language` in the
roadmap file); NULL, as for everyone imported before, means the roadmap's language.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('people', sa.Column('language', sa.String(length=2), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE, not batch mode's copy-and-rename: dropping the old people table would
    # cascade to the rows that refer to it (see 0006).
    op.drop_column('people', 'language')
