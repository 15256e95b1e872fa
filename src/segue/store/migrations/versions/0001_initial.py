"""The first schema: pipelines, tasks, events, step runs, artifacts, idempotency.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segue_pipelines",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "segue_tasks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("pipeline", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_segue_tasks_status_id", "segue_tasks", ["status", "id"])
    op.create_index("ix_segue_tasks_pipeline_id", "segue_tasks", ["pipeline", "id"])
    op.create_table(
        "segue_events",
        sa.Column("task_id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("step", sa.String(64)),
        sa.Column("attempt", sa.Integer),
        sa.Column("actor", sa.String(200)),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_table(
        "segue_step_runs",
        sa.Column("task_id", sa.String(36), primary_key=True),
        sa.Column("step", sa.String(64), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("not_before_ms", sa.BigInteger, nullable=False),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_token", sa.String(64)),
        sa.Column("lease_expires_ms", sa.BigInteger),
        sa.Column("started_ms", sa.BigInteger),
        sa.Column("finished_ms", sa.BigInteger),
        sa.Column("error", sa.Text),
    )
    op.create_index(
        "ix_segue_step_runs_queued",
        "segue_step_runs",
        ["not_before_ms"],
        sqlite_where=sa.text("status = 'queued'"),
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_segue_step_runs_leases",
        "segue_step_runs",
        ["lease_expires_ms"],
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_table(
        "segue_artifacts",
        sa.Column("task_id", sa.String(36), primary_key=True),
        sa.Column("step", sa.String(64), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("current", sa.Boolean, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.Text),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("meta", sa.Text),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "segue_idempotency",
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    for name in (
        "segue_idempotency",
        "segue_artifacts",
        "segue_step_runs",
        "segue_events",
        "segue_tasks",
        "segue_pipelines",
    ):
        op.drop_table(name)
