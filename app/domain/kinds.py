"""The kinds of non-human identity: Governance ``kind``, a closed list.

The Governance schema lists the same values as ``canonicalValues`` (a test
keeps the two equal); anything else is refused rather than stored, so that
lifetimes, token reach and reports never meet a kind they do not know.
"""

from __future__ import annotations

from collections.abc import Iterable

KINDS = ("agent", "service_account", "workload", "bot")


def unknown_kinds(names: Iterable[str]) -> list[str]:
    """Those of ``names`` that are no kind of non-human identity."""
    return [name for name in names if name not in KINDS]


def describe() -> str:
    return ", ".join(KINDS)
