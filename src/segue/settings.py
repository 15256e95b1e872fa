"""Configuration, read once at the edge: flags, then environment, then defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from segue.errors import OperatorError

DEFAULT_DATABASE_URL = "sqlite:///./segue.db"
ENV_PREFIX = "SEGUE_"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything configurable about a Segue process.

    Attributes:
        database_url: ``SEGUE_DATABASE_URL`` (default ``sqlite:///./segue.db``).
        blob_dir: ``SEGUE_BLOB_DIR`` (default: ``<database>-blobs`` beside a SQLite file).
        pipelines: ``SEGUE_PIPELINES``, folders or files of definitions to register
            at start (separated by ``os.pathsep``).
        sqlite_synchronous: ``SEGUE_SQLITE_SYNCHRONOUS``: ``FULL`` (default) or ``NORMAL``.
    """

    database_url: str = DEFAULT_DATABASE_URL
    blob_dir: str | None = None
    pipelines: tuple[str, ...] = field(default_factory=tuple)
    sqlite_synchronous: str = "FULL"
    tokens_file: str | None = None
    """``SEGUE_TOKENS_FILE``: YAML/JSON list of hashed bearer tokens with roles."""
    max_body_bytes: int = 1024 * 1024
    """``SEGUE_MAX_BODY_BYTES``: largest request body the API reads (default 1 MiB)."""
    max_upload_bytes: int = 64 * 1024 * 1024
    """``SEGUE_MAX_UPLOAD_BYTES``: largest file ``POST /files`` takes (default 64 MiB)."""
    llm_base_url: str | None = None
    """``SEGUE_LLM_BASE_URL``: an OpenAI-compatible API (``…/v1``) that drafts outlines."""
    llm_model: str = "gpt-4o-mini"
    """``SEGUE_LLM_MODEL``: the model to ask."""
    llm_api_key: str | None = None
    """``SEGUE_LLM_API_KEY``: sent as a bearer token when set."""
    llm_timeout_s: float = 60.0
    """``SEGUE_LLM_TIMEOUT_S``: how long one model call may take."""
    allow_unsafe: bool = False
    """``SEGUE_ALLOW_UNSAFE``: open a database whose durability is off (warned loudly)."""
    db_pool_size: int = 8
    """``SEGUE_DB_POOL_SIZE``: PostgreSQL connections a process keeps (a burst may open half
    as many again)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **flags: Any) -> Settings:
        """Build settings from ``SEGUE_*`` variables, overridden by non-None ``flags``."""
        env = os.environ if environ is None else environ
        settings = cls(
            database_url=env.get(f"{ENV_PREFIX}DATABASE_URL") or DEFAULT_DATABASE_URL,
            blob_dir=env.get(f"{ENV_PREFIX}BLOB_DIR") or None,
            pipelines=tuple(
                p for p in env.get(f"{ENV_PREFIX}PIPELINES", "").split(os.pathsep) if p
            ),
            sqlite_synchronous=(env.get(f"{ENV_PREFIX}SQLITE_SYNCHRONOUS") or "FULL").upper(),
            tokens_file=env.get(f"{ENV_PREFIX}TOKENS_FILE") or None,
            max_body_bytes=_positive(env, "MAX_BODY_BYTES", 1024 * 1024),
            max_upload_bytes=_positive(env, "MAX_UPLOAD_BYTES", 64 * 1024 * 1024),
            llm_base_url=env.get(f"{ENV_PREFIX}LLM_BASE_URL") or None,
            llm_model=env.get(f"{ENV_PREFIX}LLM_MODEL") or "gpt-4o-mini",
            llm_api_key=env.get(f"{ENV_PREFIX}LLM_API_KEY") or None,
            llm_timeout_s=float(_positive(env, "LLM_TIMEOUT_S", 60)),
            allow_unsafe=_flag(env, "ALLOW_UNSAFE"),
            db_pool_size=_positive(env, "DB_POOL_SIZE", 8),
        )
        given = {k: v for k, v in flags.items() if v is not None and v != () and v is not False}
        return replace(settings, **given)


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(f"{ENV_PREFIX}{name}")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise OperatorError(f"{ENV_PREFIX}{name} must be a positive integer, not {raw!r}.")
    return int(raw)


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(f"{ENV_PREFIX}{name}") or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise OperatorError(f"{ENV_PREFIX}{name} must be 1 or 0, not {raw!r}.")
