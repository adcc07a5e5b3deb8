"""auth: revocable sessions, expiring and scoped tokens, TOTP; the per-account lockout goes.

The lockout columns are dropped: sign-in throttling now lives in Redis, per IP and per account
and IP, with backoff instead of a lock anyone could trigger. Tokens made before this revision
get 90 days to live from now (a token without an expiry is refused).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 18:53:02.404939

"""
from alembic import op
import sqlalchemy as sa
from datetime import UTC, datetime, timedelta

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('role', sa.Enum('admin', 'coordinator', 'sector_focal_point', 'protection_focal_point', 'responder', 'viewer', name='token_role', native_enum=False, create_constraint=True, length=32), nullable=True))
        batch_op.add_column(sa.Column('read_only', sa.Boolean(), server_default='false', nullable=False))

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_enabled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')

    op.execute(
        sa.text("UPDATE api_token SET expires_at = :at WHERE expires_at IS NULL").bindparams(
            sa.bindparam("at", datetime.now(UTC) + timedelta(days=90), type_=sa.DateTime(timezone=True))
        )
    )


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_enabled_at')
        batch_op.drop_column('totp_secret')
        batch_op.drop_column('password_changed_at')
        batch_op.drop_column('session_version')

    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('read_only')
        batch_op.drop_column('role')
        batch_op.drop_column('expires_at')
