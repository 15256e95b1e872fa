"""The migrations build exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from segue.store import open_store
from segue.store.migrate import current_revision, head_revision
from segue.store.schema import metadata


def assert_migrated_like_the_models(url: str, tmp_path) -> None:
    """Opening ``url`` (an empty database) upgrades it to head: the tables, columns and
    indexes of schema.py, exactly."""
    store = open_store(url, blob_dir=tmp_path / "blobs")
    try:
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
        assert current_revision(store.engine) == head_revision()
    finally:
        store.close()


def test_migrated_schema_matches_the_models(tmp_path) -> None:
    """Upgrading an empty database to head gives the tables, columns and indexes of schema.py."""
    assert_migrated_like_the_models(f"sqlite:///{tmp_path / 'm.db'}", tmp_path)


def test_a_database_from_a_newer_segue_is_refused(tmp_path) -> None:
    """A revision this code does not know is MigrationRequired, and nothing is changed."""
    import pytest
    import sqlalchemy as sa

    from segue.errors import MigrationRequired

    url = f"sqlite:///{tmp_path / 'n.db'}"
    open_store(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    with pytest.raises(MigrationRequired, match="9999"):
        open_store(url)


def test_migrated_postgres_schema_matches_the_models(pg_url, tmp_path) -> None:
    """The one Alembic history builds, on PostgreSQL too, exactly the schema of schema.py."""
    assert_migrated_like_the_models(pg_url, tmp_path)


def test_a_database_on_a_network_file_system_is_recognised(tmp_path) -> None:
    """The mount that holds a path decides: the longest matching mount point wins."""
    from pathlib import Path

    from segue.store.sqlite import NETWORK_FILESYSTEMS, filesystem_of

    mounts = "\n".join(
        [
            "/dev/root / ext4 rw 0 0",
            f"server:/export {tmp_path / 'shared'} nfs4 rw 0 0",
            f"tmpfs {tmp_path / 'shared' / 'local'} tmpfs rw 0 0",
        ]
    )
    assert filesystem_of(tmp_path / "shared" / "segue.db", mounts) == "nfs4"
    assert filesystem_of(tmp_path / "shared" / "local" / "segue.db", mounts) == "tmpfs"
    assert filesystem_of(Path("/var/lib/segue.db"), mounts) == "ext4"
    assert filesystem_of(tmp_path / "sharedness" / "segue.db", mounts) == "ext4"
    assert "nfs4" in NETWORK_FILESYSTEMS and "ext4" not in NETWORK_FILESYSTEMS
