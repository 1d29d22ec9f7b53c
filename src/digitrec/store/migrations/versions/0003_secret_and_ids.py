"""corrections ids never reused (SQLite AUTOINCREMENT), and the server secret undo tokens are
signed with, kept in the database so that every replica using it signs alike

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Without AUTOINCREMENT SQLite hands a deleted row's id to the next row, and an old undo
    # token would then take back someone else's answer. Rebuilding the table keeps every row;
    # PostgreSQL's sequence never reuses an id, so its table stays as it is.
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("corrections", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("server_secrets")
