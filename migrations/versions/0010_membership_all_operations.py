"""memberships: working in every operation is an explicit grant; no membership means none.

A membership is one operation, or the all-operations grant (``all_operations``, no operation);
a check constraint keeps it one or the other. Until this revision a user without membership
worked in every operation: each such user gets the explicit grant here, so nobody loses access
on upgrade, and from now on unticking a user's last operation leaves them in none.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:56:44.053957

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("all_operations", sa.Boolean(), server_default="false", nullable=False)
        )
        batch_op.alter_column("operation_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_check_constraint(
            op.f("ck_membership_operation_or_all_operations"),
            "(operation_id IS NULL) = all_operations",
        )
    # data: what "no membership" meant so far, written down
    op.execute(
        "INSERT INTO membership (user_id, operation_id, all_operations, created_at) "
        "SELECT u.id, NULL, true, CURRENT_TIMESTAMP FROM user_account u "
        "WHERE NOT EXISTS (SELECT 1 FROM membership m WHERE m.user_id = u.id)"
    )


def downgrade():
    # the grant goes back to what it meant before: no membership
    op.execute("DELETE FROM membership WHERE all_operations")
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_membership_operation_or_all_operations"), type_="check")
        batch_op.alter_column("operation_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("all_operations")
