"""What happened after the answer: how fast a human was greeted, voicemail left.

``greet_delay_ms`` is the time from the end of the callee's first words to our first
audio; ``abandoned`` marks a live answer not greeted within the limit (the abandon rate
regulators count); ``voicemail_left`` marks a message dropped after the beep.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("greet_delay_ms", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("abandoned", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("voicemail_left", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("voicemail_left")
        batch.drop_column("abandoned")
        batch.drop_column("greet_delay_ms")
