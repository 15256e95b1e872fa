"""``make demo``: the document pipeline end to end, on a real document, on embedded SQLite.

It runs ``segue docs ingest`` on PEP 8 (bundled): the backend reads the file,
drafts its outline, waits for a person to confirm it, splits the text by the
confirmed outline and embeds the sections. In a terminal you confirm (Enter)
or edit the outline yourself; without one (as in CI) the demo confirms the
draft explicitly with ``--accept-draft`` and says so. Then a *new process*
reads the same task back from the database (``segue tasks show``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from segue.cli import render

SAMPLE = Path(__file__).parent / "docs" / "samples" / "pep-0008.rst"
DATA = Path("demo-data")


def segue(url: str, *args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the ``segue`` CLI in a new process on the demo database."""
    command = [sys.executable, "-m", "segue", "--database-url", url, *args]
    return subprocess.run(command, check=False, text=True, capture_output=capture)


def main() -> int:
    """Run the demo; returns the exit code."""
    shutil.rmtree(DATA, ignore_errors=True)
    url = f"sqlite:///{DATA / 'segue.db'}"
    out = render.console()
    interactive = sys.stdin.isatty()
    out.rule(f"1. segue docs ingest {SAMPLE.name}: read, draft the outline, wait for a person")
    if not interactive:
        out.print("No terminal: the demo confirms the drafted outline as is (--accept-draft).")
    ingest = segue(url, "docs", "ingest", str(SAMPLE), *([] if interactive else ["--accept-draft"]))
    if ingest.returncode != 0:
        return ingest.returncode
    listed = segue(url, "tasks", "list", "--pipeline", "doc_ingest", "--json", capture=True)
    task = json.loads(listed.stdout)["tasks"][0]
    out.rule("2. a new process reads the same task back from the database")
    shown = segue(url, "tasks", "show", task["id"])
    if shown.returncode != 0 or task["status"] != "COMPLETED":
        out.print(f"task {task['id']} is {task['status']}; see it with segue tasks show.")
        return 1
    out.print(
        f"[green]done:[/green] task {task['id']} is COMPLETED; its state, artifacts and events "
        f"are in {DATA / 'segue.db'}, its files in {DATA / 'segue.db-blobs'}."
    )
    out.print(f'try: .venv/bin/segue --database-url {url} docs search {task["id"]} "naming"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
