"""What every ``segue`` command shares: options, output, errors, driving a task."""

from __future__ import annotations

import json
import os
import shlex
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.live import Live
from rich.markup import escape

from segue.app import Segue
from segue.cli import render
from segue.cli.tasks import LocalTasks, RemoteTasks, settled
from segue.client import Client
from segue.client import InvalidInput as RemoteInputInvalid
from segue.core.states import TaskStatus
from segue.encoding import not_json, unique_names
from segue.errors import InputInvalid
from segue.settings import Settings
from segue.types import JSONValue

out = render.console()


err = render.console(stderr=True)


@dataclass
class Options:
    """Global options, shared by every command."""

    database_url: str | None = None
    blob_dir: str | None = None
    server: str | None = None
    token: str | None = None
    debug: bool = False
    allow_unsafe: bool = False
    current: LocalTasks | RemoteTasks | None = None
    """The tasks a command works on, so an interrupt can give leases back."""
    task_id: str | None = None
    """The task a command works on, so an interrupt can say how to go on."""

    def engine(self, *, create: bool = True) -> Segue:
        """Open the engine these options describe.

        A CLI database must be a file (an in-memory one would vanish with the
        command); commands that only read refuse to create one.
        """
        settings = Settings.from_env(
            database_url=self.database_url,
            blob_dir=self.blob_dir,
            allow_unsafe=self.allow_unsafe,
        )
        path = sqlite_path(settings.database_url)
        if path == "":
            fail(
                f"the database URL {settings.database_url} names no file; the CLI needs one "
                "(such as sqlite:///segue.db).",
                3,
            )
        if path is not None and not create and not Path(path).exists():
            fail(f"there is no database at {path}; check --database-url (SEGUE_DATABASE_URL).", 3)
        return Segue.from_settings(settings)

    @contextmanager
    def tasks(self, *, create: bool = True) -> Iterator[LocalTasks | RemoteTasks]:
        """The tasks these options name: on ``--server``, else in the local database."""
        with ExitStack() as stack:
            if self.server:
                client = stack.enter_context(Client(self.server, self.token))
                self.current = RemoteTasks(client)
            else:
                self.current = LocalTasks(stack.enter_context(self.engine(create=create)))
            try:
                yield self.current
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop now, not after closing
                interrupted()


def sqlite_path(url: str) -> str | None:
    """The file a SQLite URL names ("" for an in-memory database), or None for other URLs."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # not a URL: opening it says why
        return None
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    return "" if database in ("", ":memory:") else database


OPTIONS = Options()


JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="SEGUE_DATABASE_URL",
        show_envvar=True,
        help="Database URL (default sqlite:///./segue.db).",
    ),
]
"""``--database-url``: a global option, and an option of the commands that open a database."""


def lit(value: object) -> str:
    """``value`` as literal text inside a rich markup string (``[/x]`` shows as is)."""
    return escape(str(value))


def again(*args: str) -> str:
    """A ``segue`` command line to suggest, with the global options this one was given."""
    words = ["segue"]
    if OPTIONS.server:
        words += ["--server", OPTIONS.server]
    elif OPTIONS.database_url:
        words += ["--database-url", OPTIONS.database_url]
    return " ".join(shlex.quote(w) for w in [*words, *args])


def plural(n: int, word: str) -> str:
    """``1 section``, ``2 sections``; ``1 entry``, ``3 entries``."""
    if n == 1:
        return f"1 {word}"
    return f"{n:,} {word[:-1] + 'ies' if word.endswith('y') else word + 's'}"


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one sentence on stderr and exit."""
    err.print(f"[red]error:[/red] {lit(message)}", markup=True, highlight=False)
    raise typer.Exit(code)


def parse_value(text: str) -> JSONValue:
    """JSON when it parses, else the string itself."""
    try:
        value: JSONValue = json.loads(text)
    except json.JSONDecodeError:
        return text
    return text if not_json(value) else value  # NaN, Infinity: Python's words, not JSON


def read_json_arg(text: str) -> JSONValue:
    """``@file.json``, ``-`` (stdin) or inline JSON text."""
    if text == "-":
        try:
            raw = sys.stdin.read()
        except UnicodeDecodeError:
            fail("the input on stdin is not UTF-8 text.")
    elif text.startswith("@"):
        path = Path(text[1:])
        try:
            raw = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            fail(f"cannot read {path}: {exc.strerror or exc}.")
        except UnicodeDecodeError:
            fail(f"{path} is not UTF-8 text.")
    else:
        raw = text
    if not _utf8(raw):  # bytes the shell passed that are not UTF-8
        fail("the input is not UTF-8 text.")
    try:
        value: JSONValue = json.loads(raw, object_pairs_hook=unique_names)
    except json.JSONDecodeError as exc:
        fail(f"the input is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).")
    except ValueError as exc:  # a name twice
        fail(f"the input is not valid JSON: {exc}.")
    except RecursionError:
        fail("the input is not usable JSON: it is nested too deeply.")
    why = not_json(value)  # NaN, 1e999 and lone surrogates parse, but are not JSON values
    if why is not None:
        fail(f"the input is not valid JSON: {why}.")
    return value


def utf8_text(value: str | None) -> str | None:
    """A text option as given; refused when the shell passed bytes that are not UTF-8."""
    if value is not None and not _utf8(value):
        raise typer.BadParameter("it is not UTF-8 text")
    return value


def _utf8(text: str) -> bool:
    """Whether ``text`` is text: Python keeps undecodable arguments as lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


Reason = Annotated[str | None, typer.Option(help="Why; recorded on the event.", callback=utf8_text)]


def print_json(value: Any) -> None:
    """Write JSON to stdout."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def show_task(view: dict[str, Any]) -> None:
    """The task panel, and what the current wait step asks for."""
    out.print(render.task_panel(view))
    if view.get("required_input"):
        out.print(render.required_input_panel(view["required_input"]))


def drive_live(tasks: LocalTasks | RemoteTasks, task_id: str, *, quiet: bool) -> dict[str, Any]:
    """Settle the task in a thread while a live table shows its steps."""
    failure: list[BaseException] = []
    result: list[dict[str, Any]] = []

    def work() -> None:
        try:
            result.append(tasks.settle(task_id))
        except BaseException as exc:  # reported in the main thread
            failure.append(exc)

    thread = threading.Thread(target=work, name="segue-drive", daemon=True)
    thread.start()
    if quiet or not out.is_terminal:
        thread.join()
    else:
        with Live(
            render.task_panel(tasks.view(task_id)),
            console=out,
            transient=True,
            refresh_per_second=8,
        ) as live:
            while thread.is_alive():
                thread.join(0.15)
                live.update(render.task_panel(tasks.view(task_id)))
    if failure:
        raise failure[0]
    return result[0]


def act_then_drive(
    task_id: str | None,
    act: Callable[[LocalTasks | RemoteTasks], dict[str, Any]],
    *,
    no_run: bool,
    as_json: bool,
) -> None:
    """A control command: ``act`` on the tasks, then (unless ``no_run``) drive the task it
    returns here while a live table shows it, and print the outcome. ``task_id`` is the
    task an interrupt meanwhile names (None: the one ``act`` returns, such as a fork)."""  # noqa: D205,D209
    OPTIONS.task_id = task_id
    with OPTIONS.tasks(create=False) as tasks:
        view = act(tasks)
        OPTIONS.task_id = view["id"]
        finish(view if no_run else drive_live(tasks, view["id"], quiet=as_json), as_json)


def finish(view: dict[str, Any], as_json: bool) -> None:
    """Print the outcome; exit 1 when the task failed or was cancelled."""
    if as_json:
        print_json(view)
    else:
        show_task(view)
        if view["status"] == TaskStatus.WAITING_USER.value:
            step = view["current_step"]
            out.print(
                f"Task {view['id']} waits at step '{lit(step)}'. Its prefill, to edit: "
                f"{lit(again('tasks', 'prefill', view['id']))} > answer.json\nAnswer it with: "
                f"{lit(again('advance', view['id'], step, '--input', '@answer.json'))}",
                highlight=False,
                soft_wrap=True,
            )
        elif not settled(view):
            out.print(
                f"Task {view['id']} is still {view['status']} on the server; "
                f"see it with: {lit(again('tasks', 'show', view['id']))}",
                highlight=False,
                soft_wrap=True,
            )
    if view["status"] in (TaskStatus.FAILED.value, TaskStatus.CANCELLED.value):
        raise typer.Exit(1)


TERMINATED: list[int] = []


def interrupted() -> NoReturn:
    """Stop at once: give back this process's leases, say how to go on, exit 130 (143: SIGTERM).

    The state is in the database, so nothing is lost by not waiting for a step
    that is still running here: it runs again as a new attempt.
    """
    code = 143 if TERMINATED else 130
    try:
        if OPTIONS.current is not None:
            OPTIONS.current.release()
    except Exception:  # the database may be what failed; the leases then just run out
        pass
    message = "interrupted."
    if OPTIONS.task_id:
        message += f" Task {OPTIONS.task_id} is kept as it was; go on with: " + again(
            "drive", OPTIONS.task_id
        )
    err.print(message, highlight=False)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def violations_of(exc: InputInvalid | RemoteInputInvalid) -> list[tuple[str, str]]:
    """An input error's ``(pointer, message)`` pairs, from the engine or the server."""
    if isinstance(exc, InputInvalid):
        return [(v.pointer, v.message) for v in exc.violations]
    return exc.violations
