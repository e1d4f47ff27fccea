"""Each identity provider's documented request sequence, replayed through HTTP unmodified.

On SQLite and PostgreSQL; a step that fails names the provider, the step and
what differed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Harness
from tests.idp import replay

MEDIA = "application/scim+json"


@pytest.mark.parametrize("path", replay.files(), ids=lambda p: p.stem)
def test_the_provider_replays(harness: Harness, path: Path) -> None:
    golden = replay.load(path)
    tenant = harness.tenant()
    setup = golden.get("tenant", {})
    if setup.get("profile"):
        made = harness.client.put(
            "/admin/settings",
            json={"identityProvider": setup["profile"]},
            headers=tenant.headers("admin"),
        )
        assert made.status_code == 200, made.text
    auth = tenant.headers(setup.get("roles", "idp"))
    names: dict[str, str] = {}
    for number, step in enumerate(golden["steps"], 1):
        label = f"{golden['provider']} step {number} ({step['name']})"
        headers = {"Content-Type": MEDIA, **auth, **replay.fill(step.get("headers", {}), names)}
        body = replay.fill(step.get("body"), names)
        response = harness.client.request(
            step["method"],
            "/scim/v2" + replay.fill(step["path"], names),
            headers=headers,
            content=None if body is None else _encode(body),
        )
        assert response.status_code == step["status"], f"{label}: {response.text}"
        got: Any = response.json() if response.content else None
        if "expect" in step:
            problems = replay.mismatches(replay.fill(step["expect"], names), got)
            assert not problems, f"{label}: {problems}"
        for name, dotted in step.get("capture", {}).items():
            names[name] = str(replay.at(got, dotted))
        for name, value in step.get("expectHeaders", {}).items():
            assert response.headers.get(name) == replay.fill(value, names), label


def _encode(body: Any) -> bytes:
    import json

    return body.encode() if isinstance(body, str) else json.dumps(body).encode()
