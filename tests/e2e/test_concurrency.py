"""Racing writers over real HTTP: uniqueness and If-Match hold under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import Harness
from tests.samples import user

RACERS = 8


def test_racing_creates_of_one_user_name_yield_one_user(server: str, harness: Harness) -> None:
    auth = harness.tenant().headers()

    def create(i: int) -> int:
        body = user("Racer", title=str(i))
        return httpx.post(
            f"{server}/scim/v2/Users", json=body, headers=auth, timeout=60
        ).status_code

    with ThreadPoolExecutor(RACERS) as pool:
        statuses = sorted(pool.map(create, range(RACERS)))
    assert statuses == [201] + [409] * (RACERS - 1)
    listed = httpx.get(f"{server}/scim/v2/Users", headers=auth).json()
    assert listed["totalResults"] == 1


def test_racing_replaces_with_one_if_match_yield_one_winner(server: str, harness: Harness) -> None:
    auth = harness.tenant().headers()
    created = httpx.post(f"{server}/scim/v2/Users", json=user(), headers=auth).json()
    url = f"{server}/scim/v2/Users/{created['id']}"

    def replace(i: int) -> int:
        headers = {**auth, "If-Match": 'W/"1"'}
        return httpx.put(url, json=user(title=f"t{i}"), headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(RACERS) as pool:
        statuses = sorted(pool.map(replace, range(RACERS)))
    assert statuses == [200] + [412] * (RACERS - 1)
    after = httpx.get(url, headers=auth).json()
    assert after["meta"]["version"] == 'W/"2"'


def test_racing_replaces_without_if_match_are_serialised(server: str, harness: Harness) -> None:
    auth = harness.tenant().headers()
    created = httpx.post(f"{server}/scim/v2/Users", json=user(), headers=auth).json()
    url = f"{server}/scim/v2/Users/{created['id']}"

    def replace(i: int) -> int:
        return httpx.put(url, json=user(title=f"t{i}"), headers=auth, timeout=60).status_code

    with ThreadPoolExecutor(RACERS) as pool:
        statuses = list(pool.map(replace, range(RACERS)))
    assert statuses == [200] * RACERS
    after = httpx.get(url, headers=auth).json()
    assert after["meta"]["version"] == f'W/"{RACERS + 1}"'
