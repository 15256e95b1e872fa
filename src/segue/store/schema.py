"""The tables, written once for every backend (SQLAlchemy Core).

JSON is kept as text so the same columns work on SQLite and PostgreSQL;
times that queries compare (leases, backoff) are integer epoch milliseconds.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    literal_column,
    text,
)
from sqlalchemy.sql.expression import ColumnClause

metadata = MetaData()

pipelines = Table(
    "segue_pipelines",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)

tasks = Table(
    "segue_tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("pipeline", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("state", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("ix_segue_tasks_status_id", "status", "id"),
    Index("ix_segue_tasks_pipeline_id", "pipeline", "id"),
)

events = Table(
    "segue_events",
    metadata,
    Column("task_id", String(36), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("type", String(32), nullable=False),
    Column("step", String(64)),
    Column("attempt", Integer),
    Column("actor", String(200)),
    Column("at", String(32), nullable=False),
    Column("data", Text, nullable=False),
)

QUEUED: ColumnClause[str] = literal_column("'queued'")
RUNNING: ColumnClause[str] = literal_column("'running'")
"""Run statuses as SQL literals: a partial index (``WHERE status = 'queued'``) serves
only a query that names the status literally; a bound parameter means a full scan."""

step_runs = Table(
    "segue_step_runs",
    metadata,
    Column("task_id", String(36), primary_key=True),
    Column("step", String(64), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("not_before_ms", BigInteger, nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_token", String(64)),
    Column("lease_expires_ms", BigInteger),
    Column("started_ms", BigInteger),
    Column("finished_ms", BigInteger),
    Column("error", Text),
    Index(
        "ix_segue_step_runs_queued",
        "not_before_ms",
        sqlite_where=text("status = 'queued'"),
        postgresql_where=text("status = 'queued'"),
    ),
    Index(
        "ix_segue_step_runs_leases",
        "lease_expires_ms",
        sqlite_where=text("status = 'running'"),
        postgresql_where=text("status = 'running'"),
    ),
)

artifacts = Table(
    "segue_artifacts",
    metadata,
    Column("task_id", String(36), primary_key=True),
    Column("step", String(64), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("generation", Integer, nullable=False),
    Column("current", Boolean, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("value", Text),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("meta", Text),
    Column("created_at", String(32), nullable=False),
)

idempotency = Table(
    "segue_idempotency",
    metadata,
    Column("scope", String(200), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)
