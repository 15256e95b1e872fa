"""Schema migrations (Alembic), applied automatically when a store opens."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from segue.errors import MigrationRequired

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest schema revision this code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    """Every revision in this code's history."""
    return {rev.revision for rev in ScriptDirectory.from_config(_config()).walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, *, lock: Callable[[Connection], None] | None = None) -> None:
    """Bring the schema to the newest revision (``lock`` queues concurrent migrators).

    Raises:
        MigrationRequired: the database is at a revision this code does not know
            (written by a newer Segue).
    """
    script = ScriptDirectory.from_config(_config())
    current = current_revision(engine)
    if current == script.get_current_head():
        return
    known = {rev.revision for rev in script.walk_revisions()}
    if current is not None and current not in known:
        raise MigrationRequired(
            f"The database schema is at revision {current}, which this version of Segue does "
            "not know; upgrade Segue (the database was written by a newer one)."
        )
    cfg = _config()
    # The write lock serialises processes that open a new database at the same moment;
    # the later ones find the schema at head and change nothing.
    with engine.connect().execution_options(segue_write=True) as conn, conn.begin():
        if lock is not None:
            lock(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
