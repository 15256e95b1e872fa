"""Versions never change under a running task: the shared doc_ingest v1 and v2 examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from segue import Segue, StepContext
from segue.core import replay
from segue.errors import InvalidCommand, PipelineNotFound
from tests.conftest import FIXTURES

EXAMPLES = FIXTURES / "examples"


def section_maker(ctx: StepContext) -> Any:
    """Stands in for the document handlers: the examples' config names no document."""
    if ctx.step == "directory_parse":
        final = ctx.inputs.get("directory_confirm") or {"directory": []}
        return {"sections": [{"title": e["title"]} for e in final["directory"]]}  # type: ignore[index,union-attr]
    return {"step": ctx.step}


def engine_for(tmp_path: Path) -> Segue:
    refs = [f"segue.docs.handlers:{h}" for h in ("ingest", "draft_outline", "split", "embed")]
    engine = Segue(
        f"sqlite:///{tmp_path / 'v.db'}",
        blob_dir=tmp_path / "blobs",
        handlers=dict.fromkeys(refs, section_maker),
    )
    return engine


def test_a_task_keeps_the_version_it_started_on_after_v2_is_registered(tmp_path: Path) -> None:
    with engine_for(tmp_path) as engine:
        engine.register((EXAMPLES / "doc_ingest.yaml").read_text(), "doc_ingest.yaml")
        old = engine.start("doc_ingest", {})
        assert (old["version"], old["current_step"]) == (1, "directory_confirm")

        engine.register((EXAMPLES / "doc_ingest_v2.yaml").read_text(), "doc_ingest_v2.yaml")
        new = engine.start("doc_ingest", {"min_sections": 5})
        assert new["version"] == 2

        answer = {"directory": [{"title": "Only", "level": 1}]}
        old = engine.advance(old["id"], "directory_confirm", answer)
        assert old["version"] == 1 and old["status"] == "COMPLETED"
        assert [s["id"] for s in old["steps"]] == [
            "upload",
            "abstract",
            "directory_confirm",
            "directory_parse",
            "embed",
        ]

        new = engine.advance(new["id"], "directory_confirm", answer)
        assert new["status"] == "WAITING_USER" and new["current_step"] == "quality_review"
        assert "quality_review" in [s["id"] for s in new["steps"]]
        assert engine.get(old["id"])["version"] == 1


def test_plan_lists_in_flight_tasks_by_step_and_whether_they_can_move(tmp_path: Path) -> None:
    v2 = (EXAMPLES / "doc_ingest_v2.yaml").read_text()
    with engine_for(tmp_path) as engine:
        engine.register((EXAMPLES / "doc_ingest.yaml").read_text(), "doc_ingest.yaml")
        waiting = [engine.start("doc_ingest", {})["id"] for _ in range(2)]
        done = engine.start("doc_ingest", {})
        answer = {"directory": [{"title": "Only", "level": 1}]}
        engine.advance(done["id"], "directory_confirm", answer)
        plan = engine.service.plan(v2, "doc_ingest_v2.yaml")
        assert (plan["pipeline"], plan["version"], plan["in_flight"]) == ("doc_ingest", 2, 2)
        (group,) = plan["groups"]
        assert group["current_step"] == "directory_confirm" and group["tasks"] == 2
        assert group["can_migrate"] is True and group["reasons"] == []
        assert group["example_task"] in waiting
        with pytest.raises(PipelineNotFound):
            engine.service.spec("doc_ingest", 2)  # planning registers nothing


def test_migrate_moves_a_waiting_task_to_v2_and_it_follows_v2(tmp_path: Path) -> None:
    with engine_for(tmp_path) as engine:
        engine.register((EXAMPLES / "doc_ingest.yaml").read_text(), "doc_ingest.yaml")
        task = engine.start("doc_ingest", {})["id"]
        engine.register((EXAMPLES / "doc_ingest_v2.yaml").read_text(), "doc_ingest_v2.yaml")
        moved = engine.service.migrate(task, 2, actor="ops", reason="quality gate")
        assert moved["version"] == 2 and moved["current_step"] == "directory_confirm"
        event = engine.events(task)[-1]
        assert event.type.value == "task_migrated" and event.actor == "ops"
        assert event.data["from_version"] == 1 and event.data["to_version"] == 2
        assert engine.service.get(task).config == {"auto_confirm": False, "min_sections": 1}
        answer = {"directory": [{"title": "A", "level": 1}]}
        view = engine.advance(task, "directory_confirm", answer)
        steps = {s["id"]: s["status"] for s in view["steps"]}
        assert view["status"] == "COMPLETED" and steps["quality_review"] == "SKIPPED"  # 1 >= 1
        assert replay(engine.events(task)) == engine.service.get(task)


def test_migrate_refuses_with_the_whole_list_and_changes_nothing(tmp_path: Path) -> None:
    with engine_for(tmp_path) as engine:
        engine.register((EXAMPLES / "doc_ingest.yaml").read_text(), "doc_ingest.yaml")
        task = engine.start("doc_ingest", {})
        engine.advance(task["id"], "directory_confirm", {"directory": [{"title": "A", "level": 1}]})
        engine.register((EXAMPLES / "doc_ingest_v2.yaml").read_text(), "doc_ingest_v2.yaml")
        with pytest.raises(InvalidCommand, match="COMPLETED"):
            engine.service.migrate(task["id"], 2)
        other = engine.start("doc_ingest", {}, version=1)["id"]
        before = engine.service.get(other)
        with pytest.raises(InvalidCommand) as caught:
            engine.service.migrate(other, 2, step_map={"upload": "nope", "ghost": "embed"})
        found = caught.value.details["reasons"]
        assert any("'ghost'" in p for p in found) and any("'nope'" in p for p in found)
        assert engine.service.get(other) == before
        with pytest.raises(InvalidCommand, match="already runs version 1"):
            engine.service.migrate(other, 1)


def test_plan_predicts_a_config_the_new_version_refuses(tmp_path: Path) -> None:
    v2 = (
        (EXAMPLES / "doc_ingest_v2.yaml")
        .read_text()
        .replace(
            "min_sections: {type: integer, default: 1, minimum: 1}",
            "min_sections: {type: integer, minimum: 1}\n  required: [min_sections]",
        )
    )
    assert "required: [min_sections]" in v2
    with engine_for(tmp_path) as engine:
        engine.register((EXAMPLES / "doc_ingest.yaml").read_text(), "doc_ingest.yaml")
        task = engine.start("doc_ingest", {})["id"]
        (group,) = engine.service.plan(v2, "v2.yaml")["groups"]
        assert group["can_migrate"] is False
        assert any("min_sections" in r for r in group["reasons"])
        engine.register(v2, "v2.yaml")
        with pytest.raises(InvalidCommand, match="min_sections"):
            engine.service.migrate(task, 2)


def test_a_version_registered_by_another_process_is_the_next_start(tmp_path: Path) -> None:
    """A start that knows v1 as the latest notices v2 inside its transaction, and a
    config only v2 accepts is not refused on v1's account."""
    with engine_for(tmp_path) as api, engine_for(tmp_path) as deployer:
        api.register((EXAMPLES / "doc_ingest.yaml").read_text(), "doc_ingest.yaml")
        assert api.start("doc_ingest", {})["version"] == 1  # v1 is now the known latest
        deployer.register((EXAMPLES / "doc_ingest_v2.yaml").read_text(), "doc_ingest_v2.yaml")
        assert api.start("doc_ingest", {"min_sections": 5})["version"] == 2  # v1 refuses it
        v2 = (EXAMPLES / "doc_ingest_v2.yaml").read_text()
        deployer.register(v2.replace("\nversion: 2\n", "\nversion: 3\n"))
        assert api.start("doc_ingest", {})["version"] == 3  # v2 accepts it: seen in the tx
        assert api.start("doc_ingest", {}, version=1)["version"] == 1
