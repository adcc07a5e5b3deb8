"""outbound sending (route, attempts, resends) and broadcast audiences (area, tags)

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-28 04:35:01.143676

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
BROADCAST_CONTACT = 'broadcast_id IS NOT NULL AND retry_of_id IS NULL'


def upgrade():
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('area', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('tags', JSON, server_default='[]', nullable=False))

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('route', sa.Enum('text', 'template', 'sms_fallback', name='send_route', native_enum=False, create_constraint=True, length=32), nullable=True))
        batch_op.add_column(sa.Column('content_sid', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('content_variables', JSON, nullable=True))
        batch_op.add_column(sa.Column('send_attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('send_attempted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('retry_of_id', sa.Integer(), nullable=True))
        batch_op.create_index('uq_message_broadcast_contact', ['broadcast_id', 'contact_id'], unique=True, postgresql_where=sa.text(BROADCAST_CONTACT), sqlite_where=sa.text(BROADCAST_CONTACT))
        batch_op.create_foreign_key(batch_op.f('fk_message_retry_of_id_message'), 'message', ['retry_of_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index('ix_message_retry_of_id', ['retry_of_id'], unique=False, postgresql_where=sa.text('retry_of_id IS NOT NULL'), sqlite_where=sa.text('retry_of_id IS NOT NULL'))


def downgrade():
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_retry_of_id', postgresql_where=sa.text('retry_of_id IS NOT NULL'), sqlite_where=sa.text('retry_of_id IS NOT NULL'))
        batch_op.drop_constraint(batch_op.f('fk_message_retry_of_id_message'), type_='foreignkey')
        batch_op.drop_index('uq_message_broadcast_contact', postgresql_where=sa.text(BROADCAST_CONTACT), sqlite_where=sa.text(BROADCAST_CONTACT))
        # the Enum column carries a named CHECK constraint; drop it with its column
        batch_op.drop_constraint(batch_op.f('ck_message_send_route'), type_='check')
        batch_op.drop_column('retry_of_id')
        batch_op.drop_column('send_attempted_at')
        batch_op.drop_column('send_attempts')
        batch_op.drop_column('content_variables')
        batch_op.drop_column('content_sid')
        batch_op.drop_column('route')

    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_column('tags')
        batch_op.drop_column('area')
