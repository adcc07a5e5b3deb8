"""message indexes: reply_to_id; case_id, broadcast_id and the trigram search index partial
(filled once triage files a message in a case); drop the one (status, created_at) covers. An
inbound insert, the webhook's hot path, then touches fewer indexes and no GIN index.

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
        batch_op.drop_index('ix_message_body_trgm', postgresql_using='gin', sqlite_where=sa.text('0'))
        batch_op.create_index(
            'ix_message_body_trgm', ['body'], unique=False, postgresql_using='gin',
            postgresql_ops={'body': 'gin_trgm_ops'},
            postgresql_where=sa.text('case_id IS NOT NULL'), sqlite_where=sa.text('0'),
        )
        batch_op.drop_index('ix_message_case_id')
        batch_op.drop_index('ix_message_broadcast_id')
        batch_op.create_index(
            'ix_message_case_id', ['case_id'], unique=False,
            postgresql_where=sa.text('case_id IS NOT NULL'),
            sqlite_where=sa.text('case_id IS NOT NULL'),
        )
        batch_op.create_index(
            'ix_message_broadcast_id', ['broadcast_id'], unique=False,
            postgresql_where=sa.text('broadcast_id IS NOT NULL'),
            sqlite_where=sa.text('broadcast_id IS NOT NULL'),
        )
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
        batch_op.drop_index('ix_message_body_trgm', postgresql_using='gin', sqlite_where=sa.text('0'))
        batch_op.create_index(
            'ix_message_body_trgm', ['body'], unique=False, postgresql_using='gin',
            postgresql_ops={'body': 'gin_trgm_ops'}, sqlite_where=sa.text('0'),
        )
        batch_op.drop_index('ix_message_case_id')
        batch_op.drop_index('ix_message_broadcast_id')
        batch_op.create_index('ix_message_case_id', ['case_id'], unique=False)
        batch_op.create_index('ix_message_broadcast_id', ['broadcast_id'], unique=False)
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
