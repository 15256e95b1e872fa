"""Human-friendly output for the CLI (rich)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

STATUS_STYLE = {
    "COMPLETED": "green",
    "SKIPPED": "dim",
    "FAILED": "red",
    "CANCELLED": "red",
    "RUNNING": "cyan",
    "READY": "blue",
    "WAITING_USER": "yellow",
    "PENDING": "white",
}


def status_text(status: str) -> Text:
    """A coloured status word."""
    return Text(status, style=STATUS_STYLE.get(status, ""))


def steps_table(view: dict[str, Any]) -> Table:
    """The step table of a task view."""
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("step", "type", "status", "attempt", "started", "finished"):
        table.add_column(column, no_wrap=True)
    table.add_column("note", overflow="fold")
    for step in view["steps"]:
        note = ""
        if step.get("error"):
            note = f"{step['error'].get('type')}: {step['error'].get('message')}"
        elif step.get("reason"):
            note = step["reason"]
        table.add_row(
            step["id"],
            step["type"],
            status_text(step["status"]),
            str(step["attempt"] or ""),
            _time(step["started_at"]),
            _time(step["finished_at"]),
            Text(note, style="dim"),
        )
    return table


def _time(value: str | None) -> str:
    return value[11:23] if value else ""


def task_panel(view: dict[str, Any]) -> Panel:
    """Status, current step and the step table."""
    head = Text.assemble(
        ("task ", "bold"),
        view["id"],
        "  ",
        (f"{view['pipeline']} v{view['version']}", "dim"),
        "  ",
        status_text(view["status"]),
    )
    parts: list[Any] = [head]
    if view.get("current_step"):
        parts.append(Text(f"current step: {view['current_step']}"))
    if view.get("error"):
        parts.append(Text(f"error: {view['error']}", style="red"))
    parts.append(steps_table(view))
    return Panel(Group(*parts), expand=False)


def required_input_panel(required: dict[str, Any]) -> Panel:
    """What a wait step asks for: title, description, schema and prefill."""
    parts: list[Any] = []
    if required.get("description"):
        parts.append(Text(required["description"]))
    parts.append(Text("schema:", style="bold"))
    parts.append(Syntax(json.dumps(required["schema"], indent=2, ensure_ascii=False), "json"))
    if required.get("prefill") is not None:
        parts.append(Text("prefill (press Enter on an empty line to accept it):", style="bold"))
        parts.append(Syntax(json.dumps(required["prefill"], indent=2, ensure_ascii=False), "json"))
    title = f"step '{required['step']}' waits for input: {required.get('title') or ''}"
    return Panel(Group(*parts), title=title, expand=False)


def events_table(events: list[dict[str, Any]]) -> Table:
    """The event log."""
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("seq", "time", "type", "step", "attempt", "actor"):
        table.add_column(column, no_wrap=True)
    table.add_column("data", no_wrap=True, overflow="ellipsis", max_width=50)
    for e in events:
        data = json.dumps(e["data"], ensure_ascii=False) if e["data"] else ""
        table.add_row(
            str(e["seq"]),
            _time(e["at"]),
            e["type"],
            e["step"] or "",
            str(e["attempt"] or ""),
            e["actor"] or "",
            Text(data[:80] + ("…" if len(data) > 80 else ""), style="dim"),
        )
    return table


def artifacts_table(artifacts: list[dict[str, Any]]) -> Table:
    """Current artifacts, with a short preview."""
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("step", "attempt", "kind", "bytes", "sha256"):
        table.add_column(column, no_wrap=True)
    table.add_column("value", no_wrap=True, overflow="ellipsis", max_width=50)
    for a in artifacts:
        preview = json.dumps(a["value"], ensure_ascii=False) if a["kind"] == "json" else "(blob)"
        table.add_row(
            a["step"],
            str(a["attempt"]),
            a["kind"],
            str(a["size"]),
            a["sha256"][:12],
            Text(preview[:70] + ("…" if len(preview) > 70 else ""), style="dim"),
        )
    return table


def console(stderr: bool = False) -> Console:
    """A console that degrades to plain text when not on a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 120
    return Console(stderr=stderr, highlight=False, soft_wrap=stderr, width=width)
