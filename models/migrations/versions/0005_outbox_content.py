"""outbox_content: each message's content, apart from its delivery state, and its wire bytes

The outbox row is updated at every claim and every delivery; on SQLite an update rewrites
the whole row, and with the bodies in it that was most of the cost of marking a message
sent. The content moves to outbox_content, written once, with `raw`: the exact bytes to
send, built when the message is recorded, so a resend is byte for byte the same message
(Reply-To and Date included). Messages recorded before this revision have no `raw` and are
built from their parts when sent, as before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'outbox_content',
        sa.Column('outbox_id', sa.Integer(), nullable=False),
        sa.Column('body_text', sa.Text(), nullable=False),
        sa.Column('body_html', sa.Text(), nullable=True),
        sa.Column('attachments', sa.JSON(), nullable=False),
        sa.Column('raw', sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('outbox_id'),
    )
    op.execute(
        "INSERT INTO outbox_content (outbox_id, body_text, body_html, attachments) "
        "SELECT id, body_text, body_html, attachments FROM outbox"
    )
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not batch mode's copy-and-rename: dropping
    # the old outbox table would cascade to the outbox_content rows just copied.
    for column in ('attachments', 'body_html', 'body_text'):
        op.drop_column('outbox', column)


def downgrade() -> None:
    op.add_column('outbox', sa.Column('body_text', sa.Text(), nullable=False, server_default=''))
    op.add_column('outbox', sa.Column('body_html', sa.Text(), nullable=True))
    op.add_column('outbox', sa.Column('attachments', sa.JSON(), nullable=False, server_default='[]'))
    op.execute(
        "UPDATE outbox SET body_text = c.body_text, body_html = c.body_html, attachments = c.attachments "
        "FROM outbox_content AS c WHERE c.outbox_id = outbox.id"
    )
    op.drop_table('outbox_content')
