"""Bearer tokens with roles, read from a file of hashed tokens.

The tokens file (YAML or JSON) lists each token by name with the sha256 of
its secret, never the secret itself::

    tokens:
      - {name: alice, sha256: 9f86d0…, role: operator, pipelines: [doc_ingest], roles: [reviewer]}
      - {name: ops, sha256: 2c26b4…, role: admin}

Roles are ordered: ``viewer`` (read) < ``operator`` (start tasks, answer wait
steps) < ``admin`` (register pipelines, cancel, retry). ``pipelines`` limits a
token to some pipelines: tasks of others are "not found" to it. ``roles`` adds
names that wait steps can require (``roles: [reviewer]`` on a step).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from segue.errors import OperatorError

ROLES = ("viewer", "operator", "admin")


@dataclass(frozen=True, slots=True, kw_only=True)
class Caller:
    """Who is calling, and what they may do."""

    name: str
    role: str
    pipelines: frozenset[str] | None = None
    """None: every pipeline."""
    extra_roles: frozenset[str] = field(default_factory=frozenset)

    def at_least(self, role: str) -> bool:
        """Whether the caller's role is ``role`` or above it."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def sees(self, pipeline: str) -> bool:
        """Whether the caller may see tasks and versions of ``pipeline``."""
        return self.pipelines is None or pipeline in self.pipelines

    def holds(self, roles: tuple[str, ...]) -> bool:
        """Whether the caller holds one of ``roles`` (empty: no requirement)."""
        if not roles:
            return True
        held = {*ROLES[: ROLES.index(self.role) + 1], *self.extra_roles}
        return bool(held & set(roles))


ANONYMOUS = Caller(name="anonymous", role="admin")
"""The caller when the server runs without tokens (loopback only)."""


def hash_token(secret: str) -> str:
    """The sha256 hex digest stored for a token."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A new random token secret."""
    return "sg_" + secrets.token_urlsafe(32)


class Tokens:
    """The configured tokens, looked up by the hash of the presented secret."""

    def __init__(self, callers: dict[str, Caller]) -> None:
        self._by_hash = callers

    @property
    def enabled(self) -> bool:
        """Whether any token is configured (else everything is open, on loopback)."""
        return bool(self._by_hash)

    def find(self, secret: str) -> Caller | None:
        """The caller a secret belongs to, or None."""
        digest = hash_token(secret)
        for known, caller in self._by_hash.items():
            if hmac.compare_digest(known, digest):
                return caller
        return None

    @classmethod
    def load(cls, path: str | Path | None) -> Tokens:
        """Read a tokens file; no path means no tokens.

        Raises:
            OperatorError: the file is missing or malformed.
        """
        if path is None:
            return cls({})
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise OperatorError(f"Cannot read the tokens file {path}: {exc}") from exc
        entries = raw.get("tokens") if isinstance(raw, dict) else None
        if not isinstance(entries, list):
            raise OperatorError(f"The tokens file {path} must have a 'tokens' list.")
        callers: dict[str, Caller] = {}
        for i, entry in enumerate(entries):
            callers.update([_entry(entry, f"{path}: tokens[{i}]")])
        return cls(callers)


def _entry(entry: object, where: str) -> tuple[str, Caller]:
    if not isinstance(entry, dict):
        raise OperatorError(f"{where} must be a mapping with name, sha256 and role.")
    name, digest, role = entry.get("name"), entry.get("sha256"), entry.get("role")
    if not isinstance(name, str) or not name:
        raise OperatorError(f"{where} has no name.")
    if not isinstance(digest, str) or len(digest) != 64:
        raise OperatorError(f"{where} ({name}) needs 'sha256', the 64-hex digest of the token.")
    if role not in ROLES:
        raise OperatorError(f"{where} ({name}) has role {role!r}; use one of {', '.join(ROLES)}.")
    pipelines = entry.get("pipelines")
    extra = entry.get("roles") or []
    return digest.lower(), Caller(
        name=name,
        role=role,
        extra_roles=frozenset(map(str, extra)),
        pipelines=frozenset(map(str, pipelines)) if pipelines is not None else None,
    )
