"""corrections.client_key: the key a page sends with an answer, so that an answer sent again
(its first answer lost on the way back, then sent from the page's outbox) is stored once

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: answers sent without a key (scripts, earlier rows) never collide. A unique index
    # allows many NULLs on SQLite and PostgreSQL alike.
    op.add_column("corrections", sa.Column("client_key", sa.String(64), nullable=True))
    op.create_index("ix_corrections_client_key", "corrections", ["client_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_corrections_client_key", table_name="corrections")
    with op.batch_alter_table("corrections", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("client_key")
