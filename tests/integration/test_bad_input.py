"""Bad input at every entry point: a clear, typed error, and nothing changed."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from segue import Segue
from segue.core.task import EventType
from segue.errors import ConfigInvalid, InputInvalid, OperatorError, PipelineInvalid
from tests.conftest import REPO

WAIT = """
pipeline: w
version: 1
config: {type: object, properties: {x: {type: number}}}
steps:
  - {id: a, type: auto, depends_on: [], run: segue.builtins:passthrough, with: {v: 1}}
  - {id: w, type: wait_user, prefill: "{'x': artifacts.a.params.missing}", input_schema: {type: object}}
"""


def test_an_error_inside_a_map_prefill_leaves_the_prefill_empty(engine: Segue) -> None:
    """A failing field inside a prefill's map is an error, never a string shown to a person."""
    engine.register(WAIT)
    view = engine.start("w")
    assert view["required_input"]["prefill"] is None
    waiting = next(e for e in engine.events(view["id"]) if e.type is EventType.STEP_WAITING)
    assert "missing" in str(waiting.data["prefill_error"])


@pytest.mark.parametrize("value", [{"v": math.nan}, {"v": math.inf}, {"s": "\ud800"}, {1, 2}])
def test_input_that_is_not_json_is_invalid_and_changes_nothing(engine: Segue, value) -> None:
    """NaN, infinities, lone surrogates and non-JSON types are InputInvalid; nothing is written."""
    engine.register(WAIT)
    view = engine.start("w")
    with pytest.raises(InputInvalid, match="not valid JSON"):
        engine.advance(view["id"], "w", value)
    assert engine.get(view["id"]) == view


def test_a_lone_surrogate_is_named_as_such(engine: Segue) -> None:
    """The refusal speaks of the input, not of Python's UTF-8 codec."""
    engine.register(WAIT)
    view = engine.start("w")
    with pytest.raises(InputInvalid, match=r"lone surrogate \(\\ud800\), which is not text") as e:
        engine.advance(view["id"], "w", {"list": ["ok", {"s/t": "a\ud800"}]})
    assert [v.pointer for v in e.value.violations] == ["/list/1/s~1t"]  # where it is


@pytest.mark.parametrize("config", [{"x": math.nan}, [1, 2], "x"])
def test_config_that_is_not_a_json_object_is_invalid(engine: Segue, config) -> None:
    """A config that is not a JSON object is ConfigInvalid and no task is created."""
    engine.register(WAIT)
    with pytest.raises(ConfigInvalid):
        engine.service.start("w", config)
    assert engine.service.list_tasks().tasks == []


def test_registering_a_folder_is_all_or_nothing(engine: Segue, tmp_path) -> None:
    """One bad file in a folder registers none of the others."""
    folder = tmp_path / "defs"
    folder.mkdir()
    (folder / "a.yaml").write_text(WAIT)
    (folder / "z.yaml").write_text("pipeline: z\nversion: 1\nsteps: []\n")
    with pytest.raises(PipelineInvalid):
        engine.service.register_path(folder)
    assert engine.service.pipelines() == []


def test_a_blob_folder_that_is_a_file_is_refused_at_open(tmp_path) -> None:
    """The set-up error comes before anything is written."""
    (tmp_path / "afile").write_text("")
    with pytest.raises(OperatorError, match="is a file"):
        Segue(f"sqlite:///{tmp_path / 'x.db'}", blob_dir=tmp_path / "afile")


def test_processes_opening_a_new_database_at_once_all_succeed(tmp_path) -> None:
    """The first migration is serialised: six processes racing on a new file all open it."""
    url = f"sqlite:///{tmp_path / 'race.db'}"
    code = f"from segue import Segue; Segue({url!r}).close()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    results = [(p.wait(60), p.stderr.read() if p.stderr else "") for p in procs]
    for proc in procs:
        if proc.stderr:
            proc.stderr.close()
    assert [code for code, _ in results] == [0] * 6, results


def test_integers_beyond_64_bits_survive_exactly(engine: Segue) -> None:
    """The state row is written by orjson, which refuses big integers: they still round-trip."""
    engine.register(
        """
pipeline: big
version: 1
config: {type: object}
steps:
  - {id: ask, type: wait_user, depends_on: [], prefill: "config", input_schema: {type: object}}
"""
    )
    huge = 123456789012345678901234567890
    view = engine.start("big", {"n": huge})
    assert engine.service.get(view["id"]).config == {"n": huge}
    # CEL integers are 64-bit: the prefill cannot be computed, which is recorded, not a crash
    assert view["required_input"]["prefill"] is None
    waiting = next(e for e in engine.events(view["id"]) if e.type is EventType.STEP_WAITING)
    assert "cannot be read as CEL values" in str(waiting.data["prefill_error"])
    done = engine.advance(view["id"], "ask", {"m": -huge})
    assert done["status"] == "COMPLETED" and engine.artifacts(view["id"])["ask"] == {"m": -huge}


@pytest.mark.parametrize(
    "url",
    [
        "postgresql//segue:s3cretPW@db/segue",  # the scheme's colon missing
        "postgresql://segue:p@ss:s3cretPW@db:5432/segue",  # an unescaped @ in the password
        "postgresql://segue:s3cretPW@db:notaport/segue",
        "postgresql://segue:s3cretPW@[::1/segue",
        "postgresql://segue@127.0.0.1:1/segue?password=s3cretPW",
    ],
)
def test_a_bad_database_url_is_an_operator_error_that_hides_the_password(url: str) -> None:
    """A malformed URL is one sentence (exit code 3), never an unexpected error, and no part
    of the password is printed back, wherever in the URL it was."""
    with pytest.raises(OperatorError) as caught:
        Segue(url).close()
    assert "s3cretPW" not in str(caught.value)


def test_backing_up_or_reading_a_database_that_is_not_there_is_refused(tmp_path) -> None:
    """A typo in a SQLite path is an error, not a new empty database (and its backup)."""
    from segue.database import backup, schema_status

    folder = tmp_path / "db"
    folder.mkdir()
    with pytest.raises(OperatorError, match="no database at"):
        backup(f"sqlite:///{folder / 'typo.db'}", folder / "copy.db")
    with pytest.raises(OperatorError, match="no database at"):
        schema_status(f"sqlite:///{folder / 'typo.db'}")
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("value", [{"v": math.nan}, {"v": math.inf}, {"s": "\ud800"}])
def test_a_rerun_with_input_that_is_not_json_is_invalid_and_changes_nothing(
    engine: Segue, value
) -> None:
    """The input a rerun answers with is checked as an answer is: InputInvalid, not a crash."""
    engine.register(WAIT)
    task = engine.start("w")["id"]
    engine.advance(task, "w", {})
    before = engine.get(task)
    with pytest.raises(InputInvalid, match="not valid JSON"):
        engine.service.rerun(task, "w", input=value)
    assert engine.get(task) == before
