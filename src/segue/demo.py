"""``make demo``: run a pipeline with a wait step to COMPLETED on embedded SQLite.

It registers the built-in ``outline_review`` pipeline, starts a task, lets a
simulated person edit the drafted outline, drives the task to COMPLETED, and
then shows the same task from a *new process* (``segue tasks show``), read
back from the database.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from segue.app import Segue
from segue.cli import render

PIPELINES = Path(__file__).parent / "pipelines"
DATA = Path("demo-data")


def main() -> int:
    """Run the demo; returns the exit code."""
    shutil.rmtree(DATA, ignore_errors=True)
    url = f"sqlite:///{DATA / 'segue.db'}"
    out = render.console()
    with Segue(url, pipelines=[PIPELINES / "outline_review.yaml"]) as engine:
        out.rule("1. start a task: the backend drafts the outline, then waits for a person")
        view = engine.start("outline_review", {})
        out.print(render.task_panel(view))
        required = view["required_input"]
        out.print(render.required_input_panel(required))

        out.rule("2. the person edits the draft: renames one entry, adds another")
        answer = json.loads(json.dumps(required["prefill"]))
        answer["directory"][2]["title"] = "Findings"
        answer["directory"].append({"title": "Conclusion", "level": 1})
        out.print_json(data=answer)
        try:
            engine.advance(view["id"], "confirm", {"directory": [{"title": "", "level": 9}]})
        except Exception as exc:  # shown on purpose: bad input is rejected, nothing changes
            out.print(f"[dim]a bad answer first is rejected:[/dim] {exc}")
        view = engine.advance(view["id"], "confirm", answer)
        out.print(render.task_panel(view))
        task_id = view["id"]

    out.rule("3. a new process reads the same task back from the database")
    command = [
        sys.executable,
        "-m",
        "segue.cli.main",
        "--database-url",
        url,
        "tasks",
        "show",
        task_id,
    ]
    shown = subprocess.run(command, check=False)
    if shown.returncode != 0 or view["status"] != "COMPLETED":
        return 1
    out.print(
        f"[green]done:[/green] task {task_id} is COMPLETED; its state, artifacts and "
        f"events are in {DATA / 'segue.db'}."
    )
    out.print(f"try: .venv/bin/segue --database-url {url} tasks list")
    return 0


if __name__ == "__main__":
    sys.exit(main())
