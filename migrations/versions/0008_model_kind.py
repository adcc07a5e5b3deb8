"""model kind: the safety-signal model is stored and promoted beside the sector model, one
promoted model of each kind.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 19:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sector_model_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.Enum('sectors', 'signals', name='model_kind', native_enum=False, create_constraint=True, length=32), server_default='sectors', nullable=False))
        batch_op.drop_index('uq_sector_model_promoted', postgresql_where=sa.text("status = 'promoted'"), sqlite_where=sa.text("status = 'promoted'"))
        batch_op.create_index('uq_model_promoted_per_kind', ['kind'], unique=True, postgresql_where=sa.text("status = 'promoted'"), sqlite_where=sa.text("status = 'promoted'"))


def downgrade():
    with op.batch_alter_table('sector_model_version', schema=None) as batch_op:
        batch_op.drop_index('uq_model_promoted_per_kind', postgresql_where=sa.text("status = 'promoted'"), sqlite_where=sa.text("status = 'promoted'"))
        batch_op.create_index('uq_sector_model_promoted', ['status'], unique=True, postgresql_where=sa.text("status = 'promoted'"), sqlite_where=sa.text("status = 'promoted'"))
        batch_op.drop_column('kind')
