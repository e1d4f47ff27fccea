"""DESIGN.md's layer order and "one framework, one package", enforced on the import graph."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"

# Top to bottom; equal ranks are siblings that must not import each other.
# DESIGN.md draws main and cli side by side; `tenure serve` runs the app that
# main.create_app builds, so cli sits just above main.
RANK = {
    "cli": -1,
    "main": 0,
    "api": 1,
    "lifecycle": 1,
    "config": 2,
    "provisioning": 2,
    "reports": 2,
    "policy": 3,
    "audit": 3,
    "notify": 3,
    "store": 4,
    "scim": 5,
    "domain": 6,
}

# Third-party frameworks and the only places allowed to import them.
FRAMEWORKS = {
    "litestar": ("api/", "main.py"),
    "sqlalchemy": ("store/",),
    "alembic": ("store/",),
    "asyncpg": ("store/",),
    "aiosqlite": ("store/",),
    "cedarpy": ("policy/",),
    "apscheduler": ("lifecycle/scheduler.py",),
    "uvicorn": ("cli.py",),
}

PURE = ("domain/", "scim/")


def _modules() -> list[Path]:
    return sorted(p for p in APP.rglob("*.py") if "migrations" not in p.parts)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _layer(path: Path) -> str:
    relative = path.relative_to(APP)
    return relative.parts[0].removesuffix(".py")


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(APP)))
def test_imports_point_downwards(path: Path) -> None:
    layer = _layer(path)
    if layer == "__init__":
        return
    assert layer in RANK, f"{layer} is not a layer DESIGN.md names"
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] != "app" or len(parts) < 2 or parts[1] == layer:
            continue
        target = parts[1]
        assert target in RANK, f"{path.name} imports unknown layer {name}"
        assert RANK[target] > RANK[layer], (
            f"app/{path.relative_to(APP)} ({layer}) imports {name} ({target}): "
            "dependencies must point downwards and siblings must not import each other"
        )


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(APP)))
def test_each_framework_lives_in_one_package(path: Path) -> None:
    relative = str(path.relative_to(APP))
    for name in _imports(path):
        framework = name.split(".")[0]
        allowed = FRAMEWORKS.get(framework)
        if allowed is not None:
            assert relative.startswith(allowed), f"{relative} imports {framework}"


@pytest.mark.parametrize(
    "path",
    [p for p in _modules() if str(p.relative_to(APP)).startswith(PURE)],
    ids=lambda p: str(p.relative_to(APP)),
)
def test_the_core_is_pure(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        assert not isinstance(node, ast.AsyncFunctionDef | ast.Await), f"{path.name} does I/O"
    for name in _imports(path):
        assert name.split(".")[0] not in {"asyncio", "anyio", "socket", "os"}, (path.name, name)


def test_the_checks_see_the_whole_app() -> None:
    layers = {_layer(p) for p in _modules()} - {"__init__"}
    assert {"api", "store", "scim", "domain", "provisioning", "main", "cli", "config"} <= layers
