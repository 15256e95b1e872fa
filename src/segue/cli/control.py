"""Operator commands: rerun from a step, skip a step, replay a task's past, fork it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from segue.cli import render
from segue.cli.common import (
    OPTIONS,
    JsonFlag,
    Reason,
    act_then_drive,
    fail,
    out,
    plural,
    print_json,
    read_json_arg,
    show_task,
)
from segue.service import UNSET, read_definition

NoRun = Annotated[bool, typer.Option("--no-run", help="Do not run the steps here.")]


def rerun(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    step: Annotated[str, typer.Argument(help="The step to run again, with all downstream.")],
    input: Annotated[
        str | None,
        typer.Option(
            "--input", "-i", help="For a wait step: @file.json, - or JSON to answer it at once."
        ),
    ] = None,
    reason: Reason = None,
    no_run: NoRun = False,
    as_json: JsonFlag = False,
) -> None:
    """Run a step and everything downstream again, as a new generation.

    A wait step waits again with its last input as the prefill (re-confirm)
    unless --input answers it. Older artifacts stay readable by attempt.
    """
    value: Any = UNSET if input is None else read_json_arg(input)
    act_then_drive(
        task_id,
        lambda tasks: tasks.rerun(task_id, step, value, reason),
        no_run=no_run,
        as_json=as_json,
    )


def skip(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    step: Annotated[str, typer.Argument(help="A FAILED or waiting step.")],
    reason: Reason = None,
    no_run: NoRun = False,
    as_json: JsonFlag = False,
) -> None:
    """Skip a FAILED or waiting step so its dependents proceed (a FAILED task reopens)."""
    act_then_drive(
        task_id, lambda tasks: tasks.skip(task_id, step, reason), no_run=no_run, as_json=as_json
    )


def replay(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    at: Annotated[int, typer.Option("--at", min=1, max=2**31 - 1, help="The event's seq.")],
    as_json: JsonFlag = False,
) -> None:
    """Show a task as it was right after event SEQ, rebuilt from its event log."""
    with OPTIONS.tasks(create=False) as tasks:
        past = tasks.history(task_id, at)
    if as_json:
        print_json(past)
        return
    event = past["event"]
    out.print(
        f"[bold]after event {at} of {past['revision']}[/bold]: {event['type']}"
        + (f" {event['step']}" if event.get("step") else "")
        + f" at {event['at']}"
    )
    show_task(past["task"])
    out.print("[bold]artifacts then[/bold]")
    out.print(render.artifacts_table(past["artifacts"]))


def fork(
    task_id: Annotated[str, typer.Argument(help="The task to fork.")],
    at: Annotated[
        int,
        typer.Option("--at", min=1, max=2**31 - 1, help="Start from the state after this event."),
    ],
    no_run: NoRun = False,
    as_json: JsonFlag = False,
) -> None:
    """Start a new task from a task's state after event SEQ (the original is untouched)."""
    act_then_drive(None, lambda tasks: tasks.fork(task_id, at), no_run=no_run, as_json=as_json)


def migrate(
    task_id: Annotated[str, typer.Argument(help="The task to move.")],
    to: Annotated[
        int, typer.Option("--to", min=1, max=2**31 - 1, help="The version to move it to.")
    ],
    maps: Annotated[
        list[str] | None, typer.Option("--map", help="old=new for a renamed step (repeatable).")
    ] = None,
    reason: Reason = None,
    no_run: NoRun = False,
    as_json: JsonFlag = False,
) -> None:
    """Move a task to another version of its pipeline; refused, with every reason, when unsafe."""
    step_map: dict[str, str] = {}
    for item in maps or []:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            fail(f"--map '{item}' is not old=new.", 2)
        step_map[old] = new
    act_then_drive(
        task_id,
        lambda tasks: tasks.migrate(task_id, to, step_map, reason),
        no_run=no_run,
        as_json=as_json,
    )


def plan(
    file: Annotated[Path, typer.Argument(help="The new definition (not registered).")],
    as_json: JsonFlag = False,
) -> None:
    """Before registering a new version: the in-flight tasks of older ones, by step,
    and whether each could migrate to it (and why not)."""  # noqa: D205,D209
    text = read_definition(file)
    with OPTIONS.tasks(create=False) as tasks:
        found = tasks.plan(text, str(file))
    if as_json:
        print_json(found)
        return
    out.print(
        f"{found['pipeline']} v{found['version']}: {plural(found['in_flight'], 'task')} "
        "of other versions in flight",
        markup=False,
    )
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("version", "status", "current step", "tasks", "can migrate", "why not"):
        table.add_column(column, overflow="fold")
    for g in found["groups"]:
        table.add_row(
            str(g["version"]),
            g["status"],
            Text(str(g["current_step"] or "")),
            str(g["tasks"]),
            "yes" if g["can_migrate"] else "no",
            Text("; ".join(g["reasons"])),
        )
    out.print(table)
