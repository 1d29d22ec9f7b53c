"""corrections.reading: the rows stored from one reading of a whole number (one per digit box)
share a random id; a single digit's answer has none

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Adding a nullable column needs no table rebuild on SQLite (plain ALTER TABLE ADD COLUMN),
    # so the AUTOINCREMENT of 0003 stays as it is; every earlier row keeps NULL.
    op.add_column("corrections", sa.Column("reading", sa.String(32), nullable=True))
    op.create_index("ix_corrections_reading", "corrections", ["reading"])


def downgrade() -> None:
    op.drop_index("ix_corrections_reading", table_name="corrections")
    with op.batch_alter_table("corrections", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("reading")
