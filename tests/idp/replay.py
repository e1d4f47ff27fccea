"""Replaying an identity provider's documented SCIM request sequence (a golden file).

A file under ``tests/idp/`` names the provider, where its requests come from
(its public documentation), and the steps: each a request as the provider
sends it (method, path under ``/scim/v2``, headers, body) and the response
it must get (status, a subset of the body, headers). Values captured from
one response (``capture``) fill ``${name}`` placeholders in later steps.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
ANY = "${*}"  # in an expected body: present, any value


def files() -> list[Path]:
    return sorted(HERE.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def fill(value: Any, names: dict[str, str]) -> Any:
    """``${name}`` placeholders replaced by captured values, anywhere in strings."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) in names:
            return names[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: str(names.get(m.group(1), m.group(0))), value)
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    if isinstance(value, dict):
        return {fill(k, names): fill(v, names) for k, v in value.items()}
    return value


def at(document: Any, dotted: str) -> Any:
    """``Resources.0.id`` → the value there; KeyError if there is none."""
    current = document
    for part in dotted.split("."):
        if isinstance(current, list):
            current = current[int(part)]
        elif isinstance(current, dict) and part in current:
            current = current[part]
        else:
            raise KeyError(dotted)
    return current


def mismatches(expected: Any, got: Any, where: str = "$") -> list[str]:
    """Where ``got`` does not contain ``expected`` (dict keys as a subset, lists in order)."""
    if expected == ANY:
        return []
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return [f"{where}: expected an object, got {got!r}"]
        found = []
        for key, value in expected.items():
            if key not in got:
                found.append(f"{where}.{key}: missing")
            else:
                found += mismatches(value, got[key], f"{where}.{key}")
        return found
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            return [f"{where}: expected {len(expected)} items, got {got!r}"]
        return [m for i, (e, g) in enumerate(zip(expected, got, strict=True))
                for m in mismatches(e, g, f"{where}[{i}]")]  # fmt: skip
    return [] if expected == got else [f"{where}: expected {expected!r}, got {got!r}"]
