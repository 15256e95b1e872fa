"""Versions never change under a running task: the shared doc_ingest v1 and v2 examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segue import Segue, StepContext
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
