"""The package's structure, guarded: imports point one way, the facade is exact."""

from __future__ import annotations

import ast
from pathlib import Path
from types import ModuleType

import pytest

import segue

SRC = Path(segue.__file__).parent

# module prefix -> prefixes it must not import (segue modules or third-party packages)
RULES: dict[str, tuple[str, ...]] = {
    "segue.errors": ("segue.",),
    "segue.types": ("segue.",),
    "segue.spec": (
        "segue.core",
        "segue.store",
        "segue.runtime",
        "segue.service",
        "segue.cli",
        "segue.app",
        "sqlalchemy",
        "fastapi",
        "pydantic",
    ),
    "segue.core": (
        "segue.store",
        "segue.runtime",
        "segue.service",
        "segue.cli",
        "segue.app",
        "sqlalchemy",
        "fastapi",
        "pydantic",
        "asyncio",
        "time",
        "os",
        "random",
    ),
    "segue.store": ("segue.runtime", "segue.service", "segue.cli", "segue.app", "fastapi"),
    "segue.service": ("segue.cli", "segue.app", "segue.runtime.worker", "fastapi"),
    "segue.service_core": ("segue.cli", "segue.app", "segue.runtime.worker", "fastapi"),
    "segue.execution": ("segue.cli", "segue.app", "segue.runtime.worker", "fastapi"),
    "segue.control": ("segue.cli", "segue.app", "segue.runtime.worker", "fastapi"),
    "segue.runtime": ("segue.cli", "segue.app", "fastapi"),
    "segue.cli": ("segue.store",),
    # static files and the routes that serve them: no engine at all
    "segue.console": (
        "segue.store",
        "segue.service",
        "segue.api",
        "segue.runtime",
        "segue.core",
        "sqlalchemy",
    ),
    # document handlers see the engine only through their StepContext
    "segue.docs": (
        "segue.store",
        "segue.service",
        "segue.api",
        "segue.cli",
        "segue.app",
        "segue.runtime.worker",
        "sqlalchemy",
        "fastapi",
        "pydantic",
    ),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


MODULES = sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_one_way(path: Path) -> None:
    """No module imports a layer above it (or a library its layer must not use)."""
    name = module_name(path)
    banned = next(
        (b for prefix, b in RULES.items() if name == prefix or name.startswith(prefix + ".")), ()
    )
    bad = sorted(
        i
        for i in imports(path)
        if any(
            i == b.rstrip(".") or i.startswith(b if b.endswith(".") else b + ".") or i == b
            for b in banned
        )
    )
    assert not bad, f"{name} must not import {bad}"


def test_the_facade_exports_exactly_its_public_names() -> None:
    """segue.__all__ is sorted and lists every public name the package defines at the top."""
    assert list(segue.__all__) == sorted(segue.__all__)
    public = {
        name
        for name, value in vars(segue).items()
        if not name.startswith("_") and not isinstance(value, ModuleType) and name != "annotations"
    }
    assert public == set(segue.__all__)
