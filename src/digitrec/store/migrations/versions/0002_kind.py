"""corrections.kind: "correction" (the model was wrong) or "confirmation" (it was right)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows stored before this revision were all corrections: the API took nothing else.
    with op.batch_alter_table("corrections") as batch:
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="correction"))


def downgrade() -> None:
    with op.batch_alter_table("corrections") as batch:
        batch.drop_column("kind")
