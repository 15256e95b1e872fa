"""Pipelines that ship with Segue.

``doc_ingest`` is the document pipeline (upload, outline, confirm, split,
embed); ``segue serve`` and the ``segue docs`` commands register it.
``outline_review`` shows a wait step with built-in handlers only.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).parent
BUILT_IN = ("doc_ingest",)
"""Registered by ``segue serve`` (unless ``--no-built-ins``) and by ``segue docs``."""


def path(name: str) -> Path:
    """The definition file of a shipped pipeline."""
    return FOLDER / f"{name}.yaml"
