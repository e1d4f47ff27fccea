"""The Cedar policy engine: parsed and validated once, decisions named by @id (policies/).

Each default policy's allow and deny cases live in policies/scenarios.json (run
here and by ``tenure policy test``) and through HTTP in tests/api; this file
covers the engine itself: loading, refined actions, batches, tenant sets,
reload and failure modes.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from app.config import Settings, data_dir
from app.domain.actor import Actor, Restrictions, Role
from app.domain.tenancy import TenantPolicy
from app.main import lifetimes_of
from app.policy import scenarios
from app.policy.engine import PolicyEngine, PolicyError
from app.policy.proposal import Identity, Party, Proposal, actions_for, changed_names

NOW = dt.datetime(2026, 11, 28, 9, tzinfo=dt.UTC)
SCHEMA = (data_dir("policies") / "tenure.cedarschema").read_text()
LIMITS = lifetimes_of(Settings(secret_key=b"k" * 32)).limits


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.load(data_dir("policies"))


def actor(*roles: Role, tenant: str = "t1", token: str = "k1") -> Actor:
    return Actor(token_id=token, name="client", roles=frozenset(roles), tenant_id=tenant)


def agent(**changes: object) -> Identity:
    base = Identity(
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
    return Identity(**{**{f: getattr(base, f) for f in base.__struct_fields__}, **changes})


def proposal(identity: Identity, *actions: str, **extra: object) -> Proposal:
    return Proposal(actions=actions, identity=identity, limits=LIMITS, **extra)


def test_the_shipped_scenarios_pass(engine: PolicyEngine) -> None:
    loaded = scenarios.read((data_dir("policies") / "scenarios.json").read_bytes())
    outcomes = scenarios.run(engine, loaded, NOW, LIMITS)
    assert [o.detail for o in outcomes if not o.passed] == []
    # Every default policy is exercised by a scenario that names it.
    named = {s.by for s in loaded if s.by}
    assert {p.id for p in engine.effective()} <= named


def test_every_default_policy_has_an_id_a_reason_and_says_what_it_closes() -> None:
    engine = PolicyEngine.load(data_dir("policies"))
    sources = engine.effective()
    assert len(sources) >= 20
    assert all(s.id.startswith("tenure.") and s.reason and s.origin == "default" for s in sources)
    text = "\n".join(p.read_text() for p in data_dir("policies").glob("*.cedar"))
    assert text.count("// Closes:") == len(sources)


def test_a_deny_names_every_deciding_policy_in_a_stable_order(engine: PolicyEngine) -> None:
    orphan = agent(owners=(), purpose=None)
    decision = engine.decide(actor(Role.PLATFORM), proposal(orphan, "create"), NOW)
    assert not decision.allowed
    assert decision.policy_ids == ("tenure.accountability.owner", "tenure.accountability.purpose")
    assert decision.explain() == (
        "denied by tenure.accountability.owner (a governed identity keeps at least one active "
        "owner); tenure.accountability.purpose (a governed identity states its purpose)"
    )


def test_every_action_of_a_write_must_be_allowed(engine: PolicyEngine) -> None:
    # An update is fine, the renewal riding along is not: the whole write is denied.
    both = proposal(agent(), "update", "extend")
    decision = engine.decide(actor(Role.PLATFORM), both, NOW)
    assert not decision.allowed and decision.policy_ids == ("tenure.renewal.attested",)
    attested = agent(last_attested_at=NOW - dt.timedelta(days=1))
    allowed = engine.decide(actor(Role.PLATFORM), proposal(attested, "update", "extend"), NOW)
    assert allowed.allowed and allowed.policy_ids == ("tenure.roles.platform",)
    assert allowed.actions == ("update", "extend")


def test_no_permit_is_a_deny_that_says_so(engine: PolicyEngine) -> None:
    decision = engine.decide(actor(Role.IDP), proposal(agent(), "create"), NOW)
    assert not decision.allowed and decision.policy_ids == ()
    assert decision.explain() == "no policy permits create"


def test_a_batch_decides_each_proposal_on_its_own(engine: PolicyEngine) -> None:
    fine, stale = agent(), agent(id="a2", expires_at=NOW - dt.timedelta(days=1))
    decisions = engine.decide_many(
        actor(Role.PLATFORM), [proposal(fine, "create"), proposal(stale, "create")], NOW
    )
    assert [d.allowed for d in decisions] == [True, False]
    assert decisions[1].policy_ids == ("tenure.expiry.future",)


def test_a_batch_splits_where_proposals_see_an_entity_differently(engine: PolicyEngine) -> None:
    # The parent suspended in one proposal, its child judged against it active in
    # the next: sharing one entity set would judge one of them wrongly.
    parent = agent(id="p", state="suspended")
    child = agent(id="c", parent=agent(id="p"), expires_at=NOW + dt.timedelta(days=20))
    orphaned = agent(id="c2", parent=parent, expires_at=NOW + dt.timedelta(days=20))
    decisions = engine.decide_many(
        actor(Role.PLATFORM),
        [proposal(parent, "update"), proposal(child, "create"), proposal(orphaned, "create")],
        NOW,
    )
    assert [d.allowed for d in decisions] == [True, True, False]
    assert decisions[2].policy_ids == ("tenure.delegation.parent_active",)


def test_actions_are_refined_from_what_a_write_changes() -> None:
    before = agent()
    later = agent(expires_at=NOW + dt.timedelta(days=40))
    assert actions_for("update", before, later, ("expiresAt",)) == ("extend",)
    sooner = agent(expires_at=NOW + dt.timedelta(days=10))
    assert actions_for("update", before, sooner, ("expiresAt",)) == ("update",)
    moved = agent(owners=(Party(id="u2", resource_type="User", active=True),))
    assert actions_for("update", before, moved, ("owners",)) == ("transferOwnership",)
    suspended = agent(state="suspended")
    assert actions_for("update", before, suspended, ("active", "lifecycleState")) == ("suspend",)
    assert actions_for("update", suspended, before, ("active",)) == ("reactivate",)
    attested = agent(last_attested_at=NOW)
    renamed = actions_for("update", before, attested, ("lastAttestedAt", "displayName"))
    assert renamed == ("attest", "update")
    plain = Identity(id="u", resource_type="User", tenant_id="t1", created=NOW)
    assert actions_for("update", plain, plain, ("active",)) == ("update",)
    assert changed_names(
        ["urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance:scopes"]
    ) == ("scopes",)


def test_an_invalid_policy_set_refuses_to_load(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="nope"):
        PolicyEngine(
            '@id("x") permit (principal, action, resource) when { principal.nope };', SCHEMA
        )
    with pytest.raises(PolicyError):
        PolicyEngine("this is not cedar", SCHEMA)
    with pytest.raises(PolicyError, match="@id"):
        PolicyEngine("permit (principal, action, resource);", SCHEMA)
    with pytest.raises(PolicyError, match="share @id"):
        PolicyEngine(
            '@id("x") permit (principal, action, resource);\n'
            '@id("x") forbid (principal, action, resource);',
            SCHEMA,
        )
    (tmp_path / "tenure.cedarschema").write_text(SCHEMA)
    (tmp_path / "bad.cedar").write_text(
        '@id("x") permit (principal, action == Tenure::Action::"fly", resource);'
    )
    with pytest.raises(PolicyError):
        PolicyEngine.load(tmp_path)


def test_tenant_policies_are_checked_against_the_schema_and_the_defaults(
    engine: PolicyEngine,
) -> None:
    keep_prod = (
        '@id("acme.no-prod")\n@reason("no production agents yet")\n'
        "forbid (principal, action, resource)\n"
        'when { resource has environment && resource.environment == "prod" };'
    )
    added = engine.check_tenant_policies(keep_prod, ())
    assert [p.id for p in added] == ["acme.no-prod"]
    for text, message in [
        ("permit (principal, action, resource) when {", "unexpected"),
        (
            '@id("t.x") permit (principal, action, resource) when { resource.colour == 1 };',
            "colour",
        ),
        ("permit (principal, action, resource);", "@id"),
        ('@id("tenure.roles.admin") permit (principal, action, resource);', "already exists"),
        (keep_prod, "already exists"),
        ("", "no policy"),
    ]:
        with pytest.raises(PolicyError, match=message):
            engine.check_tenant_policies(text, added)

    prod = agent(environment="prod")
    own = (TenantPolicy(id="acme.no-prod", text=added[0].text),)
    denied = engine.decide(actor(Role.PLATFORM), proposal(prod, "create"), NOW, own)
    assert denied.policy_ids == ("acme.no-prod",) and denied.reasons == (
        "no production agents yet",
    )
    assert engine.decide(actor(Role.PLATFORM), proposal(prod, "create"), NOW).allowed
    sources = engine.effective(own)
    assert [s.origin for s in sources if s.id == "acme.no-prod"] == ["tenant"]


def test_stored_tenant_policies_that_no_longer_validate_deny(engine: PolicyEngine) -> None:
    broken = (TenantPolicy(id="t.broken", text="permit (principal, action, resource) when {"),)
    decision = engine.decide(actor(Role.ADMIN), proposal(agent(), "update"), NOW, broken)
    assert not decision.allowed and decision.errors


def test_an_evaluation_error_denies_even_when_a_permit_matches() -> None:
    # The token's agent is named but not among the request's entities: reading it errors.
    text = (
        '@id("p") permit (principal, action, resource);\n'
        '@id("f") forbid (principal, action, resource)\n'
        'when { principal has agent && principal.agent.lifecycleState == "gone" };'
    )
    engine = PolicyEngine(text, SCHEMA)
    assert engine.decide(actor(Role.ADMIN), proposal(agent(), "update"), NOW).allowed
    ghost = Actor(
        token_id="k1",
        name="agent",
        roles=frozenset({Role.ADMIN}),
        tenant_id="t1",
        restrictions=Restrictions(agent_id="ghost"),
    )
    decision = engine.decide(ghost, proposal(agent(), "update"), NOW)
    assert not decision.allowed and decision.errors
    assert decision.explain().startswith("policy evaluation failed: ")


def test_reload_swaps_only_a_valid_set(tmp_path: Path) -> None:
    directory = tmp_path / "policies"
    shutil.copytree(data_dir("policies"), directory)
    engine = PolicyEngine.load(directory)
    count = len(engine.effective())
    (directory / "local.cedar").write_text(
        '@id("local.freeze")\n@reason("change freeze")\nforbid (principal, action, resource);'
    )
    assert engine.reload() == count + 1
    assert not engine.decide(actor(Role.ADMIN), proposal(agent(), "update"), NOW).allowed
    (directory / "local.cedar").write_text("forbid (principal, action, resource")
    with pytest.raises(PolicyError):
        engine.reload()
    # The previous set stays in force.
    decision = engine.decide(actor(Role.ADMIN), proposal(agent(), "update"), NOW)
    assert decision.policy_ids == ("local.freeze",)


def test_what_the_engine_sends_conforms_to_the_schema(engine: PolicyEngine) -> None:
    """Decisions skip schema checks for speed; this proves the entities and context conform."""
    import json

    import cedarpy

    from app.policy import entities

    schema = cedarpy.Schema.from_str(SCHEMA)
    loaded = scenarios.read((data_dir("policies") / "scenarios.json").read_bytes())
    for scenario in loaded:
        subject = scenarios.identity(scenario.resource, NOW)
        before = scenario.context.before
        proposed = Proposal(
            actions=(scenario.action,),
            identity=subject,
            before=scenarios.identity(before, NOW) if before else None,
            changed=("displayName",),
            limits=LIMITS,
            reason=scenario.context.reason,
            children_end=NOW,
            children_scopes=("a",),
        )
        who = scenarios.actor_of(scenario.principal)
        built = entities.build(who, proposed, NOW)
        everything = entities.base(who, proposed) + built.entities
        parsed = cedarpy.Entities.from_json_str(json.dumps(everything), schema)  # raises if not
        checked = cedarpy.is_authorized(
            built.requests[0], engine._defaults.policies, parsed, schema
        )
        assert not checked.diagnostics.errors, (scenario.name, checked.diagnostics.errors)
        unchecked = engine.decide(who, proposed, NOW)
        assert unchecked.allowed == checked.allowed, scenario.name


def test_the_action_groups_sent_as_entities_are_the_schemas() -> None:
    import json

    import cedarpy

    from app.policy import entities

    schema = cedarpy.Schema.from_str(SCHEMA)
    groups = sorted({g for parents in entities.ACTION_GROUPS.values() for g in parents})
    text = "\n".join(
        f'@id("{g}") permit (principal, action in Tenure::Action::"{g}", resource);' for g in groups
    )
    policies = cedarpy.PolicySet.from_str(text)
    for action, expected in entities.ACTION_GROUPS.items():
        who = actor(Role.ADMIN)
        built = entities.build(who, proposal(agent(), action), NOW)
        with_groups = entities.base(who, proposal(agent(), action)) + built.entities
        without = [e for e in with_groups if not e["uid"]["type"].endswith("Action")]
        by_schema = cedarpy.is_authorized(
            built.requests[0],
            policies,
            cedarpy.Entities.from_json_str(json.dumps(without), schema),
            schema,
        )
        by_entities = cedarpy.is_authorized(built.requests[0], policies, with_groups)
        assert sorted(by_schema.diagnostics.reasons) == sorted(by_entities.diagnostics.reasons)
        assert len(by_schema.diagnostics.reasons) == len(expected), action
