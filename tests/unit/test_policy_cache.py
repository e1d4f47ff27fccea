"""Engines of one process share the parsed default set (app/policy/engine.py ``_parse``), and
nothing else: what one engine reloads or a caller does with its answers, no other sees."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from app.config import Settings, data_dir
from app.domain.actor import Actor, Role
from app.main import lifetimes_of
from app.policy.engine import PolicyEngine, PolicyError
from app.policy.proposal import Identity, Party, Proposal

NOW = dt.datetime(2026, 11, 28, 9, tzinfo=dt.UTC)
ADMIN = Actor(token_id="k1", name="client", roles=frozenset({Role.ADMIN}), tenant_id="t1")
FREEZE = '@id("local.freeze")\n@reason("change freeze")\nforbid (principal, action, resource);'


def _update() -> Proposal:
    agent = Identity(
        id="a1",
        resource_type="Agent",
        tenant_id="t1",
        created=NOW - dt.timedelta(days=1),
        governed=True,
        kind="agent",
        purpose="deploys",
        expires_at=NOW + dt.timedelta(days=30),
        hard_expires_at=NOW + dt.timedelta(days=365),
        registered_by="k1",
        owners=(Party(id="u1", resource_type="User", active=True),),
    )
    limits = lifetimes_of(Settings(secret_key=b"k" * 32)).limits
    return Proposal(actions=("update",), identity=agent, limits=limits)


def test_engines_of_the_same_texts_share_nothing_they_learn(tmp_path: Path) -> None:
    directory = tmp_path / "policies"
    shutil.copytree(data_dir("policies"), directory)
    first, second = PolicyEngine.load(directory), PolicyEngine.load(directory)
    count = len(second.effective())
    first.effective().clear()  # the caller's list, not the engine's set
    assert len(first.effective()) == len(second.effective()) == count

    (directory / "local.cedar").write_text(FREEZE)
    assert first.reload() == count + 1
    assert not first.decide(ADMIN, _update(), NOW).allowed
    # The other engine keeps the set it loaded; a new one reads the new text, not a kept set.
    assert len(second.effective()) == count and second.decide(ADMIN, _update(), NOW).allowed
    assert len(PolicyEngine.load(directory).effective()) == count + 1


def test_a_set_that_fails_fails_every_time(tmp_path: Path) -> None:
    directory = tmp_path / "policies"
    shutil.copytree(data_dir("policies"), directory)
    (directory / "local.cedar").write_text("forbid (principal, action, resource")
    for _ in range(2):
        with pytest.raises(PolicyError):
            PolicyEngine.load(directory)
    (directory / "local.cedar").write_text(FREEZE)
    assert not PolicyEngine.load(directory).decide(ADMIN, _update(), NOW).allowed
