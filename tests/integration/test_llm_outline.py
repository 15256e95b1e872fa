"""The model path of the abstract step, against a real HTTP server speaking the protocol."""

from __future__ import annotations

from dataclasses import replace

import pytest

from segue.docs.llm import ANSWER_SCHEMA, draft
from segue.docs.model import Document
from segue.settings import Settings
from tests.support.fake_llm import fake_llm

TEXT = "# Guide\n\nIntro.\n\n## Install\n\npip install it\n\n## Use\n\nRun it.\n"
DOC = Document(text=TEXT, format="markdown", encoding="utf-8")
GOOD = {
    "directory": [
        {"title": "Guide", "level": 1, "anchor": "# Guide"},
        {"title": "Installing", "level": 2, "anchor": "## Install"},
        {"title": "Use", "level": 2, "anchor": "## Use"},
    ]
}


def settings(url: str | None, **changes: object) -> Settings:
    return replace(Settings(), llm_base_url=url, llm_model="tiny", **changes)  # type: ignore[arg-type]


def test_the_model_outline_is_used_when_it_is_valid_and_found_in_the_text() -> None:
    with fake_llm() as (url, script):
        script.content = GOOD
        outline = draft(DOC, settings(url, llm_api_key="sekrit"))
    assert outline.method == "llm:tiny"
    assert [(h.title, h.level) for h in outline.headings] == [
        ("Guide", 1),
        ("Installing", 2),
        ("Use", 2),
    ]
    assert outline.headings[1].offset == TEXT.index("## Install")
    sent = script.requests[0]
    assert sent["model"] == "tiny"
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == ANSWER_SCHEMA
    assert "## Install" in sent["messages"][-1]["content"]
    assert script.headers[0]["Authorization"] == "Bearer sekrit"


def test_invented_headings_are_dropped_with_a_warning() -> None:
    with fake_llm() as (url, script):
        script.content = {
            "directory": [*GOOD["directory"], {"title": "Ghost", "level": 1, "anchor": "# Ghost"}]
        }
        outline = draft(DOC, settings(url))
    assert [h.title for h in outline.headings] == ["Guide", "Installing", "Use"]
    assert any("Ghost" in w for w in outline.warnings)


@pytest.mark.parametrize(
    ("content", "status", "reason"),
    [
        ("not json at all", 200, "not the JSON asked for"),
        ({"directory": [{"title": "x"}]}, 200, "does not match the outline schema"),
        ({"directory": [{"title": "Ghost", "level": 1, "anchor": "nope"}]}, 200, "none of"),
        (GOOD, 500, "HTTP 500"),
        (GOOD, 429, "HTTP 429"),
    ],
)
def test_a_bad_answer_falls_back_to_the_structure_and_says_why(
    content: object, status: int, reason: str
) -> None:
    with fake_llm() as (url, script):
        script.content, script.status = content, status
        outline = draft(DOC, settings(url))
    assert outline.method.endswith("(model fallback)")
    assert reason in outline.warnings[0]
    assert [h.title for h in outline.headings] == ["Guide", "Install", "Use"]


def test_a_slow_model_times_out_and_falls_back() -> None:
    with fake_llm() as (url, script):
        script.content, script.delay_s = GOOD, 2.0
        outline = draft(DOC, settings(url, llm_timeout_s=0.2))
    assert "could not be reached" in outline.warnings[0]


def test_an_unreachable_model_falls_back() -> None:
    outline = draft(DOC, settings("http://127.0.0.1:9/v1"))
    assert outline.method.endswith("(model fallback)")


def test_without_a_model_configured_auto_uses_the_structure_and_llm_says_so() -> None:
    assert draft(DOC, settings(None)).method == draft(DOC, settings(None), "structure").method
    forced = draft(DOC, settings(None), "llm")
    assert "SEGUE_LLM_BASE_URL is not set" in forced.warnings[0]


def test_structure_mode_never_calls_the_model() -> None:
    with fake_llm() as (url, script):
        draft(DOC, settings(url), "structure")
    assert script.requests == []
