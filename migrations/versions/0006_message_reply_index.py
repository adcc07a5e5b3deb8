"""index message.reply_to_id; drop the partial index the (status, created_at) index covers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 06:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index(
            'ix_message_reply_to_id', ['reply_to_id'], unique=False,
            postgresql_where=sa.text('reply_to_id IS NOT NULL'),
            sqlite_where=sa.text('reply_to_id IS NOT NULL'),
        )
        batch_op.drop_index(
            'ix_message_received',
            postgresql_where=sa.text("status = 'received'"),
            sqlite_where=sa.text("status = 'received'"),
        )


def downgrade():
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index(
            'ix_message_received', ['created_at'], unique=False,
            postgresql_where=sa.text("status = 'received'"),
            sqlite_where=sa.text("status = 'received'"),
        )
        batch_op.drop_index(
            'ix_message_reply_to_id',
            postgresql_where=sa.text('reply_to_id IS NOT NULL'),
            sqlite_where=sa.text('reply_to_id IS NOT NULL'),
        )
