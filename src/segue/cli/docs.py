"""``segue docs``: the document pipeline from a terminal (outline, ingest, search)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table
from rich.text import Text

from segue.cli.common import (
    OPTIONS,
    JsonFlag,
    again,
    drive_live,
    err,
    fail,
    finish,
    lit,
    out,
    plural,
    print_json,
    show_task,
    violations_of,
)
from segue.cli.tasks import LocalTasks, RemoteTasks
from segue.client import InvalidInput as RemoteInputInvalid
from segue.core.states import TaskStatus
from segue.errors import InputInvalid
from segue.pipelines import path as pipeline_path

docs_app = typer.Typer(
    no_args_is_help=True,
    help="The document pipeline: draft an outline, ingest a file, search its sections.",
)

CONFIRM_STEP = "directory_confirm"
FileArg = Annotated[Path, typer.Argument(help="A document: .md .rst .txt .html .pdf .docx")]


def read_file(file: Path) -> bytes:
    """The file's bytes, or exit 2 with a sentence saying why not."""
    try:
        return file.read_bytes()
    except FileNotFoundError:
        fail(f"there is no file {file}.", 2)
    except IsADirectoryError:
        fail(f"{file} is a folder; name a file.", 2)
    except OSError as exc:
        fail(f"{file} cannot be read: {exc.strerror}.", 2)


def outline_table(directory: list[dict[str, Any]]) -> Table:
    """A numbered, indented table of outline entries."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("#", justify="right", style="dim")
    table.add_column("level", justify="right")
    table.add_column("title", overflow="fold")
    for n, entry in enumerate(directory, 1):
        indent = "  " * (int(entry.get("level", 1)) - 1)
        table.add_row(str(n), str(entry.get("level")), Text(indent + str(entry.get("title"))))
    return table


@docs_app.command("outline")
def outline(
    file: FileArg,
    method: Annotated[
        str, typer.Option(help="auto (the model when SEGUE_LLM_BASE_URL is set), structure, llm.")
    ] = "auto",
    as_json: JsonFlag = False,
) -> None:
    """Print the draft outline of one file: the code the pipeline's abstract step runs."""
    from pathlib import PurePath

    from segue.docs.formats import read_document
    from segue.docs.handlers import drafted_directory
    from segue.docs.model import DocumentError

    if method not in ("auto", "structure", "llm"):
        fail(f"--method must be auto, structure or llm, not {method!r}.", 2)
    try:
        doc = read_document(read_file(file), file.name)
    except DocumentError as exc:
        fail(str(exc))
    result: dict[str, Any] = drafted_directory(doc, PurePath(file.name).stem or "Document", method)
    if as_json:
        print_json(result)
        return
    out.print(outline_table(result["directory"]))
    summary = f"{plural(len(result['directory']), 'entry')}, method {result['method']}"
    out.print(summary, style="dim", markup=False, highlight=False)
    for warning in result["warnings"]:
        err.print(f"[yellow]note:[/yellow] {lit(warning)}")


@docs_app.command("ingest")
def ingest(
    file: FileArg,
    auto_confirm: Annotated[
        bool, typer.Option("--auto-confirm", help="Skip the confirm step: use the draft as is.")
    ] = False,
    accept_draft: Annotated[
        bool,
        typer.Option(
            "--accept-draft",
            help="Answer the confirm step with the draft unchanged (no terminal needed).",
        ),
    ] = False,
    embedder: Annotated[str, typer.Option(help="hashed-tfidf or minilm.")] = "hashed-tfidf",
    as_json: JsonFlag = False,
) -> None:
    """Run the document pipeline on a file, asking a person to confirm the outline.

    In a terminal the drafted outline is shown: press Enter to accept it, or
    'e' to edit it in $EDITOR as YAML. Without a terminal the command prints
    the task id and the input the confirm step needs, and stops (go on with
    `segue advance`, or any client of the HTTP API), unless --accept-draft.
    """
    data = read_file(file)
    with OPTIONS.tasks() as tasks:
        text = pipeline_path("doc_ingest").read_text(encoding="utf-8")
        registered = tasks.register(text, "doc_ingest.yaml")
        ref = tasks.upload(data, file.name)
        config = {"document": ref["document"], "auto_confirm": auto_confirm, "embedder": embedder}
        view = tasks.start(registered["pipeline"], config, registered["version"])
        OPTIONS.task_id = view["id"]
        view = drive_live(tasks, view["id"], quiet=as_json)
        interactive = sys.stdin.isatty() and not as_json
        if _waiting_for_confirm(view):
            answer = _confirm(view["required_input"], interactive, accept_draft)
            if answer is not None:
                _answer(tasks, view["id"], answer, interactive)
                view = drive_live(tasks, view["id"], quiet=as_json)
        if _waiting_for_confirm(view):
            print_json(view) if as_json else _explain_wait(view)
        elif view["status"] == TaskStatus.COMPLETED.value and not as_json:
            _summary(tasks, view)
        else:
            finish(view, as_json)


def _waiting_for_confirm(view: dict[str, Any]) -> bool:
    required = view.get("required_input") or {}
    return bool(view["status"] == TaskStatus.WAITING_USER.value and required.get("step"))


def _confirm(required: dict[str, Any], interactive: bool, accept: bool) -> Any:
    draft = required.get("prefill") or {"directory": []}
    out.print(outline_table(draft["directory"]))
    if accept:
        out.print("[bold]Confirming the drafted outline unchanged[/bold] (--accept-draft).")
        return draft
    if not interactive:
        return None
    while True:
        choice = input("Enter: accept · e: edit in $EDITOR · q: stop here > ").strip().lower()
        if choice == "":
            return draft
        if choice == "q":
            return None
        if choice == "e":
            return _edit(draft)


def _answer(tasks: LocalTasks | RemoteTasks, task_id: str, answer: Any, interactive: bool) -> None:
    """Submit the outline; in a terminal, an answer the schema refuses goes back to the editor."""
    while True:
        try:
            tasks.advance(task_id, CONFIRM_STEP, answer)
            return
        except (InputInvalid, RemoteInputInvalid) as exc:
            if not interactive:
                raise
            _show_violations(exc)
            input("Press Enter to edit it again > ")
            answer = _edit(answer)


def _edit(draft: Any) -> Any:
    """Let the person edit the outline as YAML until it parses."""
    text = yaml.safe_dump(draft, allow_unicode=True, sort_keys=False, width=200)
    while True:
        text = _run_editor(text)
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            err.print(f"[red]That is not valid YAML[/red]: {lit(exc)}; edit it again.")


def _run_editor(text: str) -> str:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w+", suffix=".yaml", encoding="utf-8", delete=False) as fh:
        fh.write(text)
    try:
        subprocess.run([*shlex.split(editor), fh.name], check=False)
        return Path(fh.name).read_text(encoding="utf-8")
    finally:
        os.unlink(fh.name)


def _show_violations(exc: InputInvalid | RemoteInputInvalid) -> None:
    err.print("[red]That outline does not fit the confirm step's schema:[/red]")
    for pointer, message in violations_of(exc):
        err.print(f"  {lit(pointer or '/')}: {lit(message)}", highlight=False)


def _explain_wait(view: dict[str, Any]) -> None:
    task = view["id"]
    out.print(
        f"Task {task} waits for a person to confirm its outline. Save the draft, edit it, "
        "answer with it:\n"
        f"  {lit(again('tasks', 'prefill', task))} > outline.json\n"
        f"  {lit(again('advance', task, CONFIRM_STEP, '--input', '@outline.json'))}",
        highlight=False,
        soft_wrap=True,
    )


def _summary(tasks: LocalTasks | RemoteTasks, view: dict[str, Any]) -> None:
    show_task(view)
    values = tasks.artifact_values(view["id"])
    upload, parsed = values["upload"], values["directory_parse"]
    sections = parsed["sections"]
    table = Table(box=None, pad_edge=False, header_style="bold", title="sections")
    for column in ("id", "level", "title", "chars"):
        table.add_column(column, overflow="fold")
    for s in sections[:40]:
        indent = "  " * (s["level"] - 1)
        table.add_row(s["id"], str(s["level"]), Text(indent + s["title"]), str(s["chars"]))
    out.print(table)
    if len(sections) > 40:
        out.print(f"[dim]… and {len(sections) - 40} more sections[/dim]")
    for missing in parsed["unlocated"]:
        err.print(f"[yellow]not found in the text:[/yellow] {lit(missing['title'])}")
    file, text = upload["file"], upload["text"]
    out.print(
        f"{file['filename']}: {file['size']:,} bytes of {file['format']}, "
        f"{text['chars']:,} characters, {plural(len(sections), 'section')}, "
        f"{plural(values['embed']['count'], 'vector')} ({values['embed']['embedder']})",
        markup=False,
        highlight=False,
    )
    query = sections[len(sections) // 2]["title"]
    hits = tasks.search(view["id"], query, 1)
    if hits:
        found = f'{hits[0]["section"]} "{hits[0]["title"]}" (score {hits[0]["score"]})'
        out.print(f'search "{query}" → {found}', markup=False, highlight=False)
    hint = again("docs", "search", view["id"], "your words")
    out.print(f"[dim]search more: {lit(hint)}[/dim]", highlight=False, soft_wrap=True)


@docs_app.command("search")
def search(
    task_id: Annotated[str, typer.Argument(help="A completed doc_ingest task.")],
    query: Annotated[str, typer.Argument(help="Words to look for.")],
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="How many sections.")] = 5,
    as_json: JsonFlag = False,
) -> None:
    """The sections of a document task that best match a query, best first."""
    from segue.docs.model import DocumentError

    with OPTIONS.tasks(create=False) as tasks:
        try:
            hits = tasks.search(task_id, query, k)
        except DocumentError as exc:
            fail(str(exc))
    if as_json:
        print_json(hits)
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("score", "section", "title", "preview"):
        table.add_column(column, overflow="fold")
    for hit in hits:
        title = " > ".join([*hit["path"], hit["title"]])
        table.add_row(
            f"{hit['score']:.3f}", hit["section"], Text(title), Text(hit["preview"][:120])
        )
    out.print(table)
