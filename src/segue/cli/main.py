"""``segue``: run, inspect and advance tasks from a terminal.

Errors are one sentence on stderr and a non-zero exit code (1: your input,
3: the set-up, 70: a bug); ``--debug`` adds the traceback.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from segue import logs
from segue.app import Segue
from segue.cli import render
from segue.cli.common import (
    OPTIONS,
    TERMINATED,
    DatabaseUrl,
    JsonFlag,
    Reason,
    act_then_drive,
    again,
    drive_live,
    err,
    fail,
    finish,
    interrupted,
    lit,
    out,
    parse_value,
    plural,
    print_json,
    read_json_arg,
    show_task,
    violations_of,
)
from segue.cli.tasks import LocalTasks
from segue.client import ClientError
from segue.client import InvalidInput as RemoteInputInvalid
from segue.core.schemas import check_input
from segue.core.states import TaskStatus
from segue.errors import (
    ConfigInvalid,
    EngineError,
    InputInvalid,
    OperatorError,
    PipelineInvalid,
    Problem,
    UserError,
    VersionConflict,
)
from segue.pipelines import BUILT_IN
from segue.pipelines import path as shipped_pipeline
from segue.runtime.handlers import HandlerRegistry
from segue.runtime.memory import freeze_startup_objects
from segue.service import read_definition
from segue.settings import Settings
from segue.spec import PipelineSpec, StepKind, load_pipeline, to_dot, to_mermaid
from segue.types import JSONValue

app = typer.Typer(
    name="segue",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Segue: durable, backend-owned workflows. Run a pipeline, answer its wait steps, "
    "see where every task stands.",
)
tasks_app = typer.Typer(no_args_is_help=True, help="List and inspect tasks.")
pipelines_app = typer.Typer(no_args_is_help=True, help="Register and list pipeline versions.")
app.add_typer(tasks_app, name="tasks")
app.add_typer(pipelines_app, name="pipelines")


def _print_version(value: bool) -> None:
    if value:
        from segue import __version__

        out.print(f"segue {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    database_url: DatabaseUrl = None,
    blob_dir: Annotated[
        str | None,
        typer.Option(
            "--blob-dir",
            envvar="SEGUE_BLOB_DIR",
            show_envvar=True,
            help="Folder for large artifacts (default: beside the database).",
        ),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="SEGUE_SERVER",
            show_envvar=True,
            help="A Segue server's URL: the task and pipeline commands use its HTTP API "
            "instead of the database (serve ignores it).",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="SEGUE_TOKEN",
            show_envvar=True,
            help="Bearer token for --server (prefer the variable: command lines are visible).",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    allow_unsafe: Annotated[
        bool,
        typer.Option(
            "--allow-unsafe",
            envvar="SEGUE_ALLOW_UNSAFE",
            show_envvar=True,
            help="Open a database whose durability is off (see serve --help), with a loud warning.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print Segue's version and exit.",
            is_eager=True,
            callback=lambda value: _print_version(value),
        ),
    ] = False,
) -> None:
    """Options for every command (they go before the command's name)."""
    OPTIONS.database_url, OPTIONS.blob_dir, OPTIONS.debug = database_url, blob_dir, debug
    OPTIONS.allow_unsafe = allow_unsafe
    OPTIONS.server, OPTIONS.token = server, token


# -- helpers ---------------------------------------------------------------------------


# -- commands --------------------------------------------------------------------------


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Definition files (YAML or JSON).")],
    as_json: JsonFlag = False,
) -> None:
    """Check definitions and report every problem with file, line and column."""
    registry = HandlerRegistry()
    results: list[dict[str, Any]] = []
    for path in files:
        try:
            spec = load_pipeline(read_definition(path), str(path), check_handler=registry.check)
            results.append(
                {
                    "file": str(path),
                    "ok": True,
                    "pipeline": spec.name,
                    "version": spec.version,
                    "problems": [],
                }
            )
        except PipelineInvalid as exc:
            results.append(
                {"file": str(path), "ok": False, "problems": [p.to_dict() for p in exc.problems]}
            )
    if as_json:
        print_json(results)
    else:
        for result in results:
            if result["ok"]:
                out.print(
                    f"[green]ok[/green] {result['file']}: {result['pipeline']} v{result['version']}"
                )
            for p in result["problems"]:
                where = ":".join(str(x) for x in (p["file"], p["line"], p["column"]) if x)
                out.print(
                    f"[red]{lit(where)}[/red]: {lit(p['message'])}", highlight=False, soft_wrap=True
                )
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)


@app.command()
def graph(
    file: Annotated[Path, typer.Argument(help="Definition file (YAML or JSON).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="mermaid or dot.")] = "mermaid",
) -> None:
    """Print a pipeline's DAG as Mermaid (default) or Graphviz DOT."""
    if fmt not in ("mermaid", "dot"):
        fail(f"unknown format '{fmt}'; use mermaid or dot.", 2)
    spec = load_pipeline(read_definition(file), str(file))
    sys.stdout.write(to_mermaid(spec) if fmt == "mermaid" else to_dot(spec))


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Pipeline definition to register and run.")],
    config: Annotated[
        list[str] | None,
        typer.Option("--config", "-c", help="key=value (the value parses as JSON when it can)."),
    ] = None,
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--input", "-i", help="step=@file.json or step={json}: answers for wait steps."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a pipeline, start a task and drive it, asking at each wait step.

    Without a terminal (or with --json) the command stops at the first wait step
    it has no --input for and prints the task id: go on with `segue advance`.
    """
    values: dict[str, Any] = {}
    for item in config or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--config '{item}' is not key=value.")
        values[key] = parse_value(value)
    answers: dict[str, JSONValue] = {}
    for item in inputs or []:
        step, sep, value = item.partition("=")
        if not sep or not step:
            fail(f"--input '{item}' is not step=@file.json or step={{json}}.")
        answers[step] = read_json_arg(value)
    text = read_definition(file)
    check_answers(load_pipeline(text, str(file)), answers)
    with OPTIONS.tasks() as tasks:
        registered = tasks.register(text, str(file))
        task_id = tasks.start(registered["pipeline"], values, registered["version"])["id"]
        OPTIONS.task_id = task_id
        interactive = sys.stdin.isatty() and not as_json
        view = drive_live(tasks, task_id, quiet=as_json)
        while view["status"] == TaskStatus.WAITING_USER.value:
            given = [w for w in view["waiting"] if w["step"] in answers]
            required = given[0] if given else view["required_input"]
            step = required["step"]
            if step in answers:
                answer = answers.pop(step)
            elif interactive:
                answer = ask(required)
            else:
                break
            try:
                tasks.advance(task_id, step, answer)
            except (InputInvalid, RemoteInputInvalid) as exc:
                if not interactive:
                    raise
                err.print("[red]That answer does not fit the step's schema:[/red]")
                for pointer, message in violations_of(exc):
                    err.print(f"  {lit(pointer or '/')}: {lit(message)}", highlight=False)
                continue
            view = drive_live(tasks, task_id, quiet=as_json)
        finish(view, as_json)


def check_answers(spec: PipelineSpec, answers: dict[str, JSONValue]) -> None:
    """Refuse --input answers for steps that are not wait steps, or that break their schema,
    before any task is started."""  # noqa: D205,D209
    for step, answer in answers.items():
        if not spec.has_step(step) or spec.step(step).kind is not StepKind.WAIT_USER:
            waits = [s.id for s in spec.steps if s.kind is StepKind.WAIT_USER]
            fail(
                f"--input names '{step}', which is not a wait step of {spec.name} "
                f"(its wait steps: {', '.join(waits) or 'none'})."
            )
        schema = spec.step(step).input_schema
        assert schema is not None
        check_input(schema, answer, step=step)


def ask(required: dict[str, Any]) -> JSONValue:
    """Show what a wait step needs and read a JSON answer from the terminal."""
    out.print(render.required_input_panel(required))
    out.print("Type the input as JSON; finish with an empty line.")
    lines: list[str] = []
    while True:
        try:
            line = input("> " if not lines else "  ")
        except EOFError:
            break
        if not line.strip():
            break
        lines.append(line)
    if not lines:
        if required.get("prefill") is None:
            err.print("This step has no prefill to accept; type an answer.")
            return ask(required)
        return required["prefill"]  # type: ignore[no-any-return]
    try:
        return json.loads("\n".join(lines))  # type: ignore[no-any-return]
    except json.JSONDecodeError as exc:
        err.print(f"[red]not valid JSON[/red]: {lit(exc.msg)}; try again.")
        return ask(required)


@app.command()
def advance(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    step: Annotated[str, typer.Argument(help="The wait step to answer.")],
    value: Annotated[
        str, typer.Option("--input", "-i", help="@file.json, - (stdin) or inline JSON.")
    ],
    no_run: Annotated[
        bool,
        typer.Option("--no-run", help="Do not run the next steps here (or wait for the server)."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Submit a person's input for a waiting step, then drive the task on."""
    answer = read_json_arg(value)
    OPTIONS.task_id = task_id
    with OPTIONS.tasks() as tasks:
        view = tasks.advance(task_id, step, answer)
        if not no_run:
            view = drive_live(tasks, task_id, quiet=as_json)
        elif isinstance(tasks, LocalTasks):
            view = tasks.view(task_id)
        finish(view, as_json)


@tasks_app.command("list")
def tasks_list(
    status: Annotated[str | None, typer.Option(help="Only tasks with this status.")] = None,
    pipeline: Annotated[str | None, typer.Option(help="Only tasks of this pipeline.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List tasks, newest first."""
    if status is not None and status.upper() not in TaskStatus.__members__:
        fail(f"unknown status '{status}'; use one of {', '.join(TaskStatus.__members__)}.")
    with OPTIONS.tasks(create=False) as tasks:
        page = tasks.list_tasks(
            status=status.upper() if status else None, pipeline=pipeline, limit=limit, cursor=cursor
        )
    if as_json:
        print_json(page)
        return
    table = Table(box=None, header_style="bold")
    for column in ("id", "pipeline", "status", "current step", "updated"):
        table.add_column(column)
    for v in page["tasks"]:
        table.add_row(
            v["id"],
            f"{v['pipeline']} v{v['version']}",
            render.status_text(v["status"]),
            v["current_step"] or "",
            v["updated_at"],
        )
    out.print(table)
    if not page["tasks"]:
        out.print("no tasks" + (" match" if status or pipeline else " yet") + ".")
    if page["next_cursor"]:
        filters = [
            word
            for k, v in (("status", status), ("pipeline", pipeline), ("limit", limit))
            if v
            for word in (f"--{k}", str(v))
        ]
        hint = again("tasks", "list", *filters, "--cursor", page["next_cursor"])
        out.print(f"more: {hint}", markup=False, highlight=False, soft_wrap=True)


@tasks_app.command("show")
def tasks_show(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    as_json: JsonFlag = False,
) -> None:
    """Show a task: status, current step, required input, steps, artifacts, events."""
    with OPTIONS.tasks(create=False) as tasks:
        view = tasks.view(task_id)
        artifacts = tasks.artifacts(task_id)
        events = tasks.events(task_id)
    if as_json:
        print_json({**view, "artifacts": artifacts, "events": events})
        return
    show_task(view)
    out.print("[bold]artifacts[/bold]")
    out.print(render.artifacts_table(artifacts))
    out.print("[bold]events[/bold]")
    out.print(render.events_table(events))


@tasks_app.command("prefill")
def tasks_prefill(
    task_id: Annotated[str, typer.Argument(help="A task waiting for input.")],
    step: Annotated[
        str | None, typer.Option(help="Which wait step (default: the current one).")
    ] = None,
) -> None:
    """Print what a waiting step offers as its answer (its prefill), as JSON to edit and send."""
    with OPTIONS.tasks(create=False) as tasks:
        view = tasks.view(task_id)
    waiting = {w["step"]: w for w in view["waiting"]}
    wanted = step or view["current_step"]
    if wanted not in waiting:
        now = ", ".join(waiting) or f"nothing (it is {view['status']})"
        fail(f"task {task_id} does not wait at {wanted!r}; it waits for {now}.")
    print_json(waiting[wanted]["prefill"])


@app.command()
def events(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    after: Annotated[int, typer.Option(min=0, help="Only events after this seq.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Print a task's event log."""
    with OPTIONS.tasks(create=False) as tasks:
        rows = tasks.events(task_id, after)
    if as_json:
        print_json(rows)
    else:
        out.print(render.events_table(rows))


@pipelines_app.command("register")
def pipelines_register(
    paths: Annotated[list[Path], typer.Argument(help="Definition files or folders.")],
) -> None:
    """Register definitions (same content again is a no-op; a changed one needs a new version)."""
    with OPTIONS.tasks() as tasks:
        for path in paths:
            for done in tasks.register_path(path):
                word = "registered" if done["created"] else "already registered"
                out.print(f"{word}: {done['pipeline']} v{done['version']} ({done['hash'][:12]})")


@pipelines_app.command("list")
def pipelines_list(as_json: JsonFlag = False) -> None:
    """List registered pipeline versions."""
    with OPTIONS.tasks() as tasks:
        rows = tasks.pipelines()
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no pipelines registered yet (segue pipelines register FILE_OR_FOLDER).")
    for r in rows:
        out.print(f"{r['pipeline']} v{r['version']}  {r['hash'][:12]}  {r['registered_at']}")


@app.command()
def drive(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    as_json: JsonFlag = False,
) -> None:
    """Run a task's queued steps here until it waits for a person or ends (after an
    interruption, a --no-run or a retry); with --server, wait for the server to get it there."""  # noqa: D205,D209
    OPTIONS.task_id = task_id
    with OPTIONS.tasks(create=False) as tasks:
        finish(drive_live(tasks, task_id, quiet=as_json), as_json)


@app.command()
def retry(
    task_id: Annotated[str, typer.Argument(help="The FAILED task's id.")],
    no_run: Annotated[bool, typer.Option("--no-run", help="Do not run the steps here.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Resume a FAILED task: its failed steps get a new attempt, finished steps stay done."""
    act_then_drive(task_id, lambda tasks: tasks.retry(task_id), no_run=no_run, as_json=as_json)


@app.command()
def cancel(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    reason: Reason = None,
    as_json: JsonFlag = False,
) -> None:
    """Cancel a task that has not finished; nothing of it runs again."""
    with OPTIONS.tasks(create=False) as tasks:
        view = tasks.cancel(task_id, reason)
    if as_json:
        print_json(view)
    else:
        show_task(view)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            help="Port to listen on (0: any free port; the line it prints says which).",
        ),
    ] = 8000,
    workers: Annotated[
        int, typer.Option(min=0, max=64, help="In-process worker threads (0: API only).")
    ] = 1,
    pipelines: Annotated[
        list[Path] | None,
        typer.Option(
            "--pipelines", help="Register every definition in this folder (or file) at start."
        ),
    ] = None,
    tokens_file: Annotated[
        Path | None,
        typer.Option(
            "--tokens-file",
            envvar="SEGUE_TOKENS_FILE",
            show_envvar=True,
            help="Hashed bearer tokens with roles (see docs/http.md).",
        ),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow a non-loopback address without tokens.")
    ] = False,
    built_ins: Annotated[
        bool,
        typer.Option(
            "--built-ins/--no-built-ins", help="Register the shipped doc_ingest pipeline."
        ),
    ] = True,
    database_url: DatabaseUrl = None,
    allow_unsafe: Annotated[
        bool,
        typer.Option(
            "--allow-unsafe",
            help="Serve a database whose durability is off (fsync, synchronous_commit or "
            "SQLite synchronous below FULL, or a network file system), with a loud warning.",
        ),
    ] = False,
) -> None:
    """Serve the HTTP API (and, by default, one in-process worker)."""
    import uvicorn

    from segue.api import create_app
    from segue.api.auth import Tokens
    from segue.api.body import Limits

    settings = Settings.from_env(
        database_url=database_url or OPTIONS.database_url,
        blob_dir=OPTIONS.blob_dir,
        tokens_file=str(tokens_file) if tokens_file else None,
        allow_unsafe=allow_unsafe or OPTIONS.allow_unsafe,
    )
    tokens = Tokens.load(settings.tokens_file)
    loopback = host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")
    if not tokens.enabled and not loopback and not insecure:
        fail(
            f"refusing to listen on {host} without tokens: anyone could change any task. "
            "Configure --tokens-file, listen on 127.0.0.1, or pass --insecure."
        )
    listening = _listen(host, port)  # before the database is touched: a taken port changes nothing
    port = listening.getsockname()[1]  # the one the system chose, for --port 0
    engine = Segue.from_settings(settings)
    for problem in engine.store.unsafe:
        err.print(f"[bold red]UNSAFE[/bold red]: {lit(problem)}; acknowledged work can be lost")
    for name in BUILT_IN if built_ins else ():
        try:
            spec, created = engine.service.register(shipped_pipeline(name).read_text("utf-8"))
        except VersionConflict as exc:  # the database has its own doc_ingest v1: keep it
            err.print(f"[yellow]built-in {name} not registered[/yellow]: {lit(exc.message)}")
            continue
        err.print(
            f"{'registered' if created else 'already registered'}: {spec.name} v{spec.version}"
        )
    paths: list[str | Path] = [*settings.pipelines, *(pipelines or [])]
    for path in paths:
        for spec, created in engine.service.register_path(path):
            err.print(
                f"{'registered' if created else 'already registered'}: {spec.name} v{spec.version}"
            )
    if not tokens.enabled:
        err.print(
            f"[yellow]no tokens configured: open to anyone who can reach {host}[/yellow] "
            "(loopback only unless --insecure)"
        )
    application = create_app(
        engine.service,
        tokens=tokens,
        limits=Limits(
            max_body_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes
        ),
        workers=workers,
        loopback_names=not tokens.enabled and loopback,  # --insecure elsewhere: as asked
    )
    freeze_startup_objects()
    shown = f"[{host}]" if ":" in host else host
    err.print(
        f"serving http://{shown}:{port} with {plural(workers, 'worker')} (Ctrl-C stops)",
        markup=False,
        highlight=False,
    )
    try:
        uvicorn.Server(uvicorn.Config(application, log_level="warning")).run(sockets=[listening])
    except KeyboardInterrupt:  # the signal uvicorn raises again once it has shut down
        pass  # a clean stop, as with uvicorn.run
    finally:
        listening.close()
        engine.close()


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or one sentence and exit 3 (taken, no such host)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        listening = socket.socket(family, kind, proto)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(address)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}.", 3)
    return listening


@app.command("token")
def token_new(
    name: Annotated[str, typer.Argument(help="Who the token is for (recorded on events).")],
    role: Annotated[str, typer.Option(help="viewer, operator or admin.")] = "operator",
) -> None:
    """Make a new bearer token: prints the secret once, and the line for the tokens file."""
    from segue.api.auth import ROLES, hash_token, new_token

    if role not in ROLES:
        fail(f"unknown role '{role}'; use one of {', '.join(ROLES)}.")
    if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,100}", name):
        fail("a token name is 1 to 100 letters, digits, '_', '.', '@' or '-'.")
    secret = new_token()
    out.print(f"token (give it to {name}; it is not stored): {secret}")
    out.print("tokens file entry:")
    sys.stdout.write(f"  - {{name: {name}, role: {role}, sha256: {hash_token(secret)}}}\n")


EXIT_CODES = ((UserError, 1), (OperatorError, 3), (EngineError, 70))


def main() -> None:
    """Entry point: run the app and turn engine errors into one sentence and an exit code.

    Usage errors are typer's (exit 2); anything unexpected is one line too, with the
    traceback only under ``--debug``.
    """
    signal.signal(signal.SIGTERM, _terminate)
    logs.configure(level=logging.WARNING)
    try:
        app()
    except KeyboardInterrupt:
        interrupted()
    except EngineError as exc:
        if OPTIONS.debug:
            raise
        report(exc)
        sys.exit(next(code for cls, code in EXIT_CODES if isinstance(exc, cls)))
    except ClientError as exc:
        if OPTIONS.debug:
            raise
        report(exc)
        sys.exit(1 if exc.status is not None and 400 <= exc.status < 500 else 3)
    except Exception as exc:
        if OPTIONS.debug:
            raise
        err.print(
            f"[red]error:[/red] unexpected {type(exc).__name__}: {lit(exc)} "
            "(run with --debug for the traceback)."
        )
        sys.exit(70)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM, handled like Ctrl-C (exit code 143 instead of 130)."""
    TERMINATED.append(signum)
    raise KeyboardInterrupt


def report(exc: EngineError | ClientError) -> None:
    """Print an error: the sentence, then its listed problems or violations."""
    message = exc.message if isinstance(exc, EngineError) else exc.detail
    err.print(f"[red]error:[/red] {lit(message)}", highlight=False)
    if isinstance(exc, PipelineInvalid) and len(exc.problems) > 1:
        for p in exc.problems:
            err.print(f"  {lit(p)}", highlight=False)
    if isinstance(exc, InputInvalid | ConfigInvalid) and len(exc.violations) > 1:
        for v in exc.violations:
            err.print(f"  {lit(v.pointer or '/')}: {lit(v.message)}", highlight=False)
    listed = exc.problem.get("errors") if isinstance(exc, ClientError) else None
    generic = isinstance(exc, ClientError) and exc.code == "request_invalid"
    if isinstance(listed, list) and (len(listed) > 1 or generic):
        for e in listed:
            if exc.code == "pipeline_invalid":
                line = str(Problem(**e))
            else:
                line = f"{e.get('pointer') or '/'}: {e.get('message')}"
            err.print(f"  {lit(line)}", highlight=False)
    cause = exc.__cause__
    while OPTIONS.debug and cause is not None:
        err.print(f"  caused by {type(cause).__name__}: {lit(cause)}")
        cause = cause.__cause__


from segue.cli import control  # noqa: E402  (the commands below use the helpers above)
from segue.cli.db import db_app  # noqa: E402
from segue.cli.docs import docs_app  # noqa: E402
from segue.cli.worker import worker  # noqa: E402

app.command()(control.rerun)
app.command()(control.skip)
app.command()(control.fork)
app.command()(control.migrate)
pipelines_app.command("plan")(control.plan)
tasks_app.command("replay")(control.replay)
app.add_typer(docs_app, name="docs")
app.add_typer(db_app, name="db")
app.command("worker")(worker)

if __name__ == "__main__":
    main()
