"""The steps of the ``doc_ingest`` pipeline: ingest, draft_outline, split, embed.

Big values live in the blob store and the artifacts hold their sha256: the
uploaded file (put there by ``POST /files`` or ``segue docs ingest``), the
normalized document (text, page and line offsets, headings the reader found)
and the section vectors (``.npy``). Every handler is a pure function of its
inputs, so a retry or a crash re-run computes the same artifact again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePath
from typing import Any

from segue.docs import embed as embedding
from segue.docs.formats import read_document
from segue.docs.llm import draft
from segue.docs.model import Document, DocumentError, Heading
from segue.docs.split import split_text
from segue.errors import PermanentError
from segue.runtime.context import StepContext
from segue.settings import Settings
from segue.types import JSONObject


def ingest(ctx: StepContext) -> JSONObject:
    """Read the uploaded file into a normalized document."""
    ref = ctx.config.get("document")
    if not isinstance(ref, dict) or "sha256" not in ref or "filename" not in ref:
        raise DocumentError(
            "This task's config names no document; start it with "
            '{"document": {"sha256": …, "filename": …}} as POST /files returns it.'
        )
    sha256, filename = str(ref["sha256"]), str(ref["filename"])
    try:
        data = ctx.read_blob(sha256)
    except (FileNotFoundError, ValueError) as exc:
        raise DocumentError(
            f"No uploaded file has sha256 {sha256}; upload {filename} with POST /files "
            "(or segue docs ingest) and start the task with the reference it returns."
        ) from exc
    doc = read_document(data, filename)
    stored = save_document(ctx, doc)
    return {
        "file": {"sha256": sha256, "filename": filename, "size": len(data), "format": doc.format},
        "text": stored,
        "warnings": list(doc.warnings),
    }


def draft_outline(ctx: StepContext) -> JSONObject:
    """Draft the outline: the model when configured, else the document's structure."""
    return drafted_directory(load_document(ctx), _stem(ctx), str(ctx.config.get("outline", "auto")))


def drafted_directory(doc: Document, title: str, mode: str = "auto") -> JSONObject:
    """The confirm step's prefill for ``doc``: ``{directory, method, warnings}``.

    A document without headings is offered as one entry, titled ``title``, so
    the form always has something to accept.
    """
    outline = draft(doc, Settings.from_env(), mode)
    drafted: JSONObject = outline.as_directory()  # type: ignore[assignment]
    if not outline.headings:
        first = next((line.strip() for line in doc.text.splitlines() if line.strip()), "")
        drafted["directory"] = [{"title": title, "level": 1, "anchor": first[:200]}]
    return drafted


def split(ctx: StepContext) -> JSONObject:
    """Split the text by the confirmed outline (or the draft, when confirmation was skipped)."""
    final = ctx.inputs.get("directory_confirm") or ctx.artifacts["abstract"]
    assert isinstance(final, dict)
    directory = final["directory"]
    assert isinstance(directory, list)
    doc = load_document(ctx)
    result = split_text(doc.text, directory, whole_title=_stem(ctx))  # type: ignore[arg-type]
    if not result.sections:
        titles = ", ".join(repr(e["title"]) for e in result.unlocated[:10])
        raise PermanentError(
            f"None of the {len(directory)} outline entries could be found in the document "
            f"({titles}); correct their titles or anchors and confirm the outline again."
        )
    return {
        "sections": [s.as_json() for s in result.sections],
        "unlocated": list(result.unlocated),
        "preamble_chars": result.preamble_chars,
        "source": "confirmed" if "directory_confirm" in ctx.inputs else "draft",
    }


def embed(ctx: StepContext) -> JSONObject:
    """One vector per section, stored as an ``.npy`` blob."""
    sections = _sections(ctx)
    name = str(ctx.config.get("embedder", "hashed-tfidf"))
    result = embedding.embed([str(s["title"]) + "\n" + str(s["text"]) for s in sections], name)
    stored: JSONObject = {
        "embedder": result.embedder,
        "count": len(sections),
        "dim": int(result.vectors.shape[1]) if result.vectors.ndim == 2 else 0,
        "section_ids": [s["id"] for s in sections],
        "vectors": ctx.put_blob(embedding.to_npy(result.vectors.astype("float16"))),
    }
    if result.idf is not None:
        stored["idf"] = ctx.put_blob(embedding.to_npy(result.idf))
    return stored


def save_document(ctx: StepContext, doc: Document) -> JSONObject:
    """Store the normalized document as a JSON blob; returns its reference."""
    line_starts = _line_starts(doc.text)
    payload = {
        "format": doc.format,
        "encoding": doc.encoding,
        "text": doc.text,
        "pages": list(doc.pages),
        "line_starts": line_starts,
        "headings": None if doc.headings is None else [list(_heading(h)) for h in doc.headings],
        "warnings": list(doc.warnings),
    }
    data = json.dumps(payload, ensure_ascii=False).encode()
    return {
        "sha256": ctx.put_blob(data),
        "chars": len(doc.text),
        "lines": len(line_starts),
        "pages": len(doc.pages),
        "encoding": doc.encoding,
        "text_sha256": hashlib.sha256(doc.text.encode()).hexdigest(),
    }


def load_document(ctx: StepContext) -> Document:
    """The normalized document the ``upload`` step stored."""
    upload = ctx.artifacts["upload"]
    assert isinstance(upload, dict) and isinstance(upload["text"], dict)
    payload = json.loads(ctx.read_blob(str(upload["text"]["sha256"])))
    headings = payload["headings"]
    return Document(
        text=payload["text"],
        format=payload["format"],
        encoding=payload["encoding"],
        headings=None if headings is None else tuple(Heading(*h) for h in headings),
        pages=tuple(payload["pages"]),
        warnings=tuple(payload["warnings"]),
    )


def _line_starts(text: str) -> list[int]:
    starts = [0]
    at = text.find("\n")
    while at >= 0:
        starts.append(at + 1)
        at = text.find("\n", at + 1)
    return starts


def _heading(h: Heading) -> tuple[str, int, int, str]:
    return (h.title, h.level, h.offset, h.anchor)


def _sections(ctx: StepContext) -> list[dict[str, Any]]:
    parsed = ctx.artifacts["directory_parse"]
    assert isinstance(parsed, dict) and isinstance(parsed["sections"], list)
    return parsed["sections"]  # type: ignore[return-value]


def _stem(ctx: StepContext) -> str:
    ref = ctx.config["document"]
    assert isinstance(ref, dict)
    return PurePath(str(ref["filename"])).stem or "Document"
