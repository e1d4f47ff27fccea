"""A server out of database connections answers 503 with Retry-After, in SCIM form.

On PostgreSQL a process has a bounded pool; requests take its connections
first come, first served, and one that waits longer than
``TENURE_DATABASE_WAIT_SECONDS`` is told to come back (RFC 7231 §6.6.4)
instead of failing with a 500. (SQLite's units of work run one after the
other on the event loop and never wait for a connection.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from app.config import Settings
from app.domain.clock import FixedClock
from app.main import create_app
from tests.conftest import POSTGRES_URL, Harness
from tests.samples import assert_error, user

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(POSTGRES_URL is None, reason="PostgreSQL is not reachable"),
]


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_request_that_finds_no_free_connection_is_told_to_retry(
    settings: Settings, clock: FixedClock
) -> None:
    small = msgspec.structs.replace(settings, database_pool_size=1, database_wait_seconds=0.3)
    with TestClient(create_app(small, clock=clock)) as client:
        harness = Harness(client, small, clock)
        tenant = harness.tenant()
        headers = tenant.headers()
        created = client.post("/scim/v2/Users", json=user("held@example.com"), headers=headers)
        assert created.status_code == 201, created.text
        path = f"/scim/v2/Users/{created.json()['id']}"
        assert client.get(path, headers=headers).status_code == 200  # the token is cached

        held = asyncio.Event()
        release = asyncio.Event()

        async def hold() -> None:
            # The one connection units of work may have (a pool of one) in use.
            async with harness.db.uow():
                held.set()
                await release.wait()

        holder: Any = client.blocking_portal.start_task_soon(hold)
        client.blocking_portal.call(held.wait)
        try:
            busy = client.get(path, headers=headers)
            assert_error(busy, 503)
            assert busy.headers["retry-after"] == "1"
            assert busy.json()["detail"] == "the server is busy; retry shortly"
            refused = client.post("/scim/v2/Users", json=user("late@example.com"), headers=headers)
            assert_error(refused, 503)
        finally:
            client.blocking_portal.call(release.set)
            holder.result(timeout=5)
        assert client.get(path, headers=headers).status_code == 200
        listed = client.get(
            "/scim/v2/Users", params={"filter": 'userName eq "late@example.com"'}, headers=headers
        )
        assert listed.json()["totalResults"] == 0, "a refused request changed nothing"
