"""Contacts per campaign and status, kept exact by triggers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG = [
    """
    CREATE FUNCTION dialer_cc_counts() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO campaign_status_counts (campaign_id, status, shard, n)
        SELECT campaign_id, status, pg_backend_pid() % 16, count(*) FROM new_rows
        GROUP BY campaign_id, status
        ON CONFLICT (campaign_id, status, shard)
        DO UPDATE SET n = campaign_status_counts.n + EXCLUDED.n;
      ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO campaign_status_counts (campaign_id, status, shard, n)
        SELECT campaign_id, status, pg_backend_pid() % 16, -count(*) FROM old_rows
        GROUP BY campaign_id, status
        ON CONFLICT (campaign_id, status, shard)
        DO UPDATE SET n = campaign_status_counts.n + EXCLUDED.n;
      ELSE
        INSERT INTO campaign_status_counts (campaign_id, status, shard, n)
        SELECT campaign_id, status, pg_backend_pid() % 16, sum(d) FROM (
          SELECT campaign_id, status, 1 AS d FROM new_rows
          UNION ALL SELECT campaign_id, status, -1 AS d FROM old_rows) AS changes
        GROUP BY campaign_id, status HAVING sum(d) <> 0
        ON CONFLICT (campaign_id, status, shard)
        DO UPDATE SET n = campaign_status_counts.n + EXCLUDED.n;
      END IF;
      RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER dialer_cc_counts_ins AFTER INSERT ON campaign_contacts "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION dialer_cc_counts()",
    "CREATE TRIGGER dialer_cc_counts_upd AFTER UPDATE ON campaign_contacts "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION dialer_cc_counts()",
    "CREATE TRIGGER dialer_cc_counts_del AFTER DELETE ON campaign_contacts "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION dialer_cc_counts()",
]

_SQLITE = [
    """
    CREATE TRIGGER dialer_cc_counts_ins AFTER INSERT ON campaign_contacts BEGIN
      INSERT INTO campaign_status_counts (campaign_id, status, shard, n)
      VALUES (NEW.campaign_id, NEW.status, 0, 1)
      ON CONFLICT (campaign_id, status, shard) DO UPDATE SET n = n + 1;
    END
    """,
    """
    CREATE TRIGGER dialer_cc_counts_upd AFTER UPDATE OF status ON campaign_contacts
    WHEN OLD.status IS NOT NEW.status BEGIN
      INSERT INTO campaign_status_counts (campaign_id, status, shard, n)
      VALUES (OLD.campaign_id, OLD.status, 0, -1)
      ON CONFLICT (campaign_id, status, shard) DO UPDATE SET n = n - 1;
      INSERT INTO campaign_status_counts (campaign_id, status, shard, n)
      VALUES (NEW.campaign_id, NEW.status, 0, 1)
      ON CONFLICT (campaign_id, status, shard) DO UPDATE SET n = n + 1;
    END
    """,
    """
    CREATE TRIGGER dialer_cc_counts_del AFTER DELETE ON campaign_contacts BEGIN
      INSERT INTO campaign_status_counts (campaign_id, status, shard, n)
      VALUES (OLD.campaign_id, OLD.status, 0, -1)
      ON CONFLICT (campaign_id, status, shard) DO UPDATE SET n = n - 1;
    END
    """,
]


def upgrade() -> None:
    op.create_table(
        "campaign_status_counts",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "status", "shard",
                                name=op.f("pk_campaign_status_counts")),
    )
    op.execute(
        "INSERT INTO campaign_status_counts (campaign_id, status, shard, n) "
        "SELECT campaign_id, status, 0, count(*) FROM campaign_contacts "
        "GROUP BY campaign_id, status")
    for statement in _PG if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ("ins", "upd", "del"):
            op.execute(f"DROP TRIGGER dialer_cc_counts_{name} ON campaign_contacts")
        op.execute("DROP FUNCTION dialer_cc_counts()")
    else:
        for name in ("ins", "upd", "del"):
            op.execute(f"DROP TRIGGER dialer_cc_counts_{name}")
    op.drop_table("campaign_status_counts")
