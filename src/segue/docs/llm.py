"""Drafting the outline with a language model, when one is configured.

Any OpenAI-compatible chat-completions API works (``SEGUE_LLM_BASE_URL``,
``SEGUE_LLM_MODEL``, ``SEGUE_LLM_API_KEY``). The request asks for a JSON answer
constrained by :data:`ANSWER_SCHEMA` (``response_format: json_schema``); the
answer is validated again here, and every heading must be found in the text by
its anchor or title. Whatever goes wrong — the API is down, slow, answers
garbage or invents headings — :func:`draft` falls back to the structure-based
outline and says why in ``warnings``, so a model never makes the step fail.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema

from segue.docs.model import Document, Heading, Outline
from segue.docs.outline import draft_outline
from segue.docs.split import LineIndex, locate
from segue.settings import Settings

MAX_CHARS = 60_000
"""How much of the document the model is shown (its first characters)."""

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["directory"],
    "additionalProperties": False,
    "properties": {
        "directory": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["title", "level", "anchor"],
                "additionalProperties": False,
                "properties": {
                    "title": {"type": "string", "minLength": 1, "maxLength": 500},
                    "level": {"type": "integer", "minimum": 1, "maximum": 6},
                    "anchor": {"type": "string"},
                },
            },
        }
    },
}

PROMPT = (
    "You draft the table of contents of a document for a person to confirm. "
    "List the document's section headings in document order. For each give its "
    "title as a reader sees it, its level (1 = top), and its anchor: the heading's "
    "line copied exactly from the document. Do not invent headings; lines inside "
    "code blocks are not headings. Answer with JSON only."
)


class ModelUnusable(Exception):
    """The model's answer cannot be used; the message says why, in a few words."""


def ask_model(doc: Document, settings: Settings, *, client: httpx.Client | None = None) -> Outline:
    """The model's outline of ``doc``, validated and located in its text."""
    if not settings.llm_base_url:
        raise ModelUnusable("SEGUE_LLM_BASE_URL is not set")
    excerpt = doc.text[:MAX_CHARS]
    body = {
        "model": settings.llm_model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": PROMPT},
            {"role": "user", "content": f"Document ({doc.format}):\n\n{excerpt}"},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "outline", "strict": True, "schema": ANSWER_SCHEMA},
        },
    }
    answer = _post(settings, body, client)
    headings, dropped = _located(doc.text, answer["directory"])
    warnings = []
    if len(excerpt) < len(doc.text):
        warnings.append(
            f"The model saw the first {len(excerpt):,} of {len(doc.text):,} characters; "
            "headings after that are not in this outline."
        )
    if dropped:
        warnings.append(
            f"{len(dropped)} heading(s) the model proposed are not in the document and "
            f"were left out: {', '.join(repr(t) for t in dropped[:5])}."
        )
    return Outline(headings, method=f"llm:{settings.llm_model}", warnings=tuple(warnings))


def draft(doc: Document, settings: Settings, mode: str = "auto") -> Outline:
    """The outline by ``mode``: ``structure``, ``llm``, or ``auto`` (the model when configured)."""
    structural = draft_outline(doc)
    if mode == "structure" or (mode == "auto" and not settings.llm_base_url):
        return structural
    try:
        return ask_model(doc, settings)
    except ModelUnusable as exc:
        reason = f"The model's outline could not be used ({exc}); this one comes from the "
        reason += "document's structure."
        return Outline(
            structural.headings,
            method=f"{structural.method} (model fallback)",
            warnings=(reason, *structural.warnings),
        )


def _post(settings: Settings, body: dict[str, Any], client: httpx.Client | None) -> Any:
    url = f"{str(settings.llm_base_url).rstrip('/')}/chat/completions"
    headers = {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
    try:
        if client is None:
            with httpx.Client(timeout=settings.llm_timeout_s) as own:
                response = own.post(url, json=body, headers=headers)
        else:
            response = client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise ModelUnusable(f"the model API could not be reached: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise ModelUnusable(f"the model API answered HTTP {response.status_code}")
    try:
        content = response.json()["choices"][0]["message"]["content"]
        answer = json.loads(content)
        jsonschema.validate(answer, ANSWER_SCHEMA)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ModelUnusable("the answer is not the JSON asked for") from exc
    except jsonschema.ValidationError as exc:
        raise ModelUnusable(f"the answer does not match the outline schema: {exc.message}") from exc
    return answer


def _located(text: str, entries: list[dict[str, Any]]) -> tuple[tuple[Heading, ...], list[str]]:
    lines = LineIndex(text)
    headings: list[Heading] = []
    dropped: list[str] = []
    used: set[int] = set()
    after = -1
    for entry in entries:
        pos = locate(entry, lines, after, used)
        if pos is None:
            dropped.append(entry["title"])
            continue
        used.add(pos)
        after = pos
        end = text.find("\n", pos)
        line = text[pos : end if end >= 0 else len(text)].strip()
        headings.append(Heading(entry["title"], entry["level"], pos, line))
    if not headings:
        raise ModelUnusable("none of the headings it proposed are in the document")
    headings.sort(key=lambda h: h.offset)
    return tuple(headings), dropped
