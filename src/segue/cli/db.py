"""``segue db``: the schema revision, upgrading it, and an online backup."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segue.cli.common import OPTIONS, DatabaseUrl, JsonFlag, err, out, print_json
from segue.settings import Settings

db_app = typer.Typer(no_args_is_help=True, help="The database: schema revision, upgrade, backup.")


def _url(database_url: str | None) -> str:
    return Settings.from_env(database_url=database_url or OPTIONS.database_url).database_url


@db_app.command("current")
def current(database_url: DatabaseUrl = None, as_json: JsonFlag = False) -> None:
    """Show the schema revision of the database, and whether this Segue can use it."""
    from segue.database import schema_status

    status = schema_status(_url(database_url))
    if as_json:
        print_json(status)
        return
    sentences = {
        "current": "up to date",
        "behind": "older than this Segue: run segue db upgrade",
        "empty": "empty: segue db upgrade (or any command that opens it) creates the tables",
        "newer": "written by a newer Segue: upgrade Segue before using it",
    }
    out.print(
        f"schema {status['current'] or '(none)'}, this Segue's newest {status['head']}: "
        f"{sentences[status['state']]}",
        highlight=False,
    )


@db_app.command("upgrade")
def upgrade(database_url: DatabaseUrl = None, as_json: JsonFlag = False) -> None:
    """Migrate the schema to this Segue's newest revision (safe to run from many nodes)."""
    from segue.database import upgrade_schema

    result = upgrade_schema(_url(database_url))
    if as_json:
        print_json(result)
    elif result["before"] == result["after"]:
        out.print(f"schema {result['after']}: already up to date", highlight=False)
    else:
        out.print(
            f"schema upgraded from {result['before'] or '(empty)'} to {result['after']}",
            highlight=False,
        )


@db_app.command("backup")
def backup(
    path: Annotated[Path, typer.Argument(help="The new file to write (must not exist).")],
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Write an online, consistent copy of a SQLite database (and its blobs) to PATH.

    Writers carry on meanwhile. For PostgreSQL use pg_dump (see docs/operations.md).
    """
    from segue.database import backup as run_backup

    settings = Settings.from_env(
        database_url=database_url or OPTIONS.database_url, blob_dir=OPTIONS.blob_dir
    )
    result = run_backup(settings.database_url, path, settings.blob_dir)
    if as_json:
        print_json(result)
        return
    out.print(f"backed up to {result['path']}", highlight=False)
    err.print(
        f"blobs: {result['blob_files']} files in {result['blobs']}; restore by opening "
        f"sqlite:///{result['path']}",
        highlight=False,
    )
