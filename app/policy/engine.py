"""The policy set, parsed and validated once (cedarpy PolicySet/Schema), and decisions.

The shipped defaults come from ``policies/``; a tenant may add its own on top,
each validated against the schema before it is accepted. An invalid set
refuses to load and the previous one stays (``reload``). A decision that is
not an explicit Allow for every action of a proposal — no permit matched, a
forbid matched, or evaluation failed — is a deny naming the deciding policies
by their ``@id`` and ``@reason`` annotations.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import cedarpy
import msgspec

from app.domain.actor import Actor
from app.domain.tenancy import TenantPolicy
from app.policy.entities import Built, base, build
from app.policy.proposal import Proposal

log = logging.getLogger("tenure.policy")

SCHEMA_FILE = "tenure.cedarschema"
_TENANT_CACHE = 256
_BASE_CACHE = 1024


class PolicyError(ValueError):
    """Policies that do not parse or do not validate against the schema."""


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    allowed: bool
    actions: tuple[str, ...] = ()
    policy_ids: tuple[str, ...] = ()  # the deciding policies: permits if allowed, else the denying
    reasons: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    unpermitted: tuple[str, ...] = ()  # actions of a deny that no permit matches either

    def explain(self) -> str:
        if self.errors:
            return "policy evaluation failed: " + "; ".join(self.errors)
        parts = []
        if self.policy_ids:
            parts.append(
                "denied by "
                + "; ".join(
                    f"{pid} ({reason})" if reason else pid
                    for pid, reason in zip(self.policy_ids, self.reasons, strict=True)
                )
            )
        if self.unpermitted or not parts:
            parts.append(
                f"no policy permits {' and '.join(self.unpermitted or self.actions) or 'it'}"
            )
        return "; and ".join(parts)


class PolicySource(msgspec.Struct, frozen=True, kw_only=True):
    """One policy of the effective set, as ``GET /admin/policies`` shows it."""

    id: str
    effect: str  # "permit" | "forbid"
    reason: str
    origin: str  # "default" | "tenant"
    text: str


class _Bundle:
    """A parsed, validated policy set with each Cedar policy's @id and @reason."""

    def __init__(self, text: str, schema: cedarpy.Schema, origins: dict[str, str]) -> None:
        try:
            self.policies = cedarpy.PolicySet.from_str(text)
        except ValueError as exc:
            raise PolicyError(str(exc)) from None
        result = cedarpy.validate_policies(text, schema)
        if not result.validation_passed:
            raise PolicyError("; ".join(str(e) for e in result.errors))
        parsed: dict[str, Any] = json.loads(cedarpy.policies_to_json_str(text))
        static: dict[str, Any] = parsed["staticPolicies"]
        if parsed.get("templates"):
            raise PolicyError("policy templates are not supported; write static policies")
        self.annotations: dict[str, tuple[str, str]] = {}
        self.sources: list[PolicySource] = []
        for key, value in static.items():
            annotations = value.get("annotations") or {}
            pid = annotations.get("id")
            if not pid:
                raise PolicyError(f"every policy needs an @id annotation; {_head(value)} has none")
            if any(pid == s.id for s in self.sources):
                raise PolicyError(f"two policies share @id {pid!r}")
            reason = annotations.get("reason", "")
            self.annotations[key] = (pid, reason)
            one = {"staticPolicies": {key: value}, "templates": {}, "templateLinks": []}
            self.sources.append(
                PolicySource(
                    id=pid,
                    effect=value["effect"],
                    reason=reason,
                    origin=origins.get(pid, "default"),
                    text=cedarpy.policies_from_json_str(json.dumps(one)),
                )
            )
        self._permits: cedarpy.PolicySet | None = None

    @property
    def permits(self) -> cedarpy.PolicySet:
        """The permits alone: which actions of a deny would no permit allow anyway?"""
        if self._permits is None:
            text = "\n".join(s.text for s in self.sources if s.effect == "permit")
            self._permits = cedarpy.PolicySet.from_str(text)
        return self._permits


def _head(policy: dict[str, Any]) -> str:
    return f"a {policy.get('effect', 'policy')} policy"


@functools.lru_cache(maxsize=8)
def _parse(text: str, schema_text: str) -> tuple[cedarpy.Schema, _Bundle]:
    """The schema and the default set, parsed and validated once per process for these texts.

    Both are a function of the two texts alone and never change once built (what an engine
    learns later, tenant sets and entities, it keeps in its own caches), so engines may share
    them: every app and every reload of an unchanged directory. A set that fails is not kept.
    """
    try:
        schema = cedarpy.Schema.from_str(schema_text)
    except ValueError as exc:
        raise PolicyError(f"{SCHEMA_FILE}: {exc}") from None
    return schema, _Bundle(text, schema, {})


class PolicyEngine:
    def __init__(self, text: str, schema_text: str, directory: Path | None = None) -> None:
        self._schema, self._defaults = _parse(text, schema_text)
        self._directory = directory
        self._default_text = text
        self._tenants: OrderedDict[tuple[str, ...], _Bundle] = OrderedDict()
        self._bases: OrderedDict[tuple[Any, ...], cedarpy.Entities] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, directory: Path) -> PolicyEngine:
        """``*.cedar`` and ``tenure.cedarschema`` from ``directory``; PolicyError if invalid."""
        try:
            text = "\n".join(
                p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.cedar"))
            )
            schema = (directory / SCHEMA_FILE).read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(f"cannot read policies: {exc}") from None
        return cls(text, schema, directory)

    def reload(self) -> int:
        """Re-read the policy directory; swap the new set in only if it validates.

        Returns how many policies are now in force; PolicyError keeps the old set.
        """
        if self._directory is None:
            raise PolicyError("this policy set was not loaded from a directory")
        fresh = PolicyEngine.load(self._directory)
        with self._lock:
            self._schema, self._defaults = fresh._schema, fresh._defaults
            self._default_text = fresh._default_text
            self._tenants = OrderedDict()
        log.info("policies reloaded", extra={"policies": len(fresh._defaults.sources)})
        return len(fresh._defaults.sources)

    def effective(self, tenant: tuple[TenantPolicy, ...] = ()) -> list[PolicySource]:
        return list(self._bundle(tenant).sources)

    def check_tenant_policies(
        self, text: str, existing: tuple[TenantPolicy, ...]
    ) -> tuple[TenantPolicy, ...]:
        """Parse ``text`` (one or more policies) as additions to a tenant's set.

        Each needs an @id no default or existing tenant policy uses; the whole
        set must validate against the schema. PolicyError says why not.
        """
        try:
            static = json.loads(cedarpy.policies_to_json_str(text))
        except ValueError as exc:
            raise PolicyError(str(exc)) from None
        if static.get("templates"):
            raise PolicyError("policy templates are not supported; write static policies")
        if not static["staticPolicies"]:
            raise PolicyError("no policy given")
        taken = {s.id for s in self._defaults.sources} | {p.id for p in existing}
        added = []
        for value in static["staticPolicies"].values():
            pid = (value.get("annotations") or {}).get("id")
            if not pid:
                raise PolicyError(f"every policy needs an @id annotation; {_head(value)} has none")
            if pid in taken:
                raise PolicyError(f"a policy with @id {pid!r} already exists")
            taken.add(pid)
            one = {"staticPolicies": {"p": value}, "templates": {}, "templateLinks": []}
            added.append(TenantPolicy(id=pid, text=cedarpy.policies_from_json_str(json.dumps(one))))
        combined = (*existing, *added)
        self._bundle(combined)  # validates against the schema with the defaults
        return tuple(added)

    def _bundle(self, tenant: tuple[TenantPolicy, ...]) -> _Bundle:
        if not tenant:
            return self._defaults
        key = tuple(p.text for p in tenant)
        with self._lock:
            found = self._tenants.get(key)
            if found is not None:
                self._tenants.move_to_end(key)
                return found
            text = "\n".join((self._default_text, *key))
            bundle = _Bundle(text, self._schema, {p.id: "tenant" for p in tenant})
            self._tenants[key] = bundle
            if len(self._tenants) > _TENANT_CACHE:
                self._tenants.popitem(last=False)
            return bundle

    def decide(
        self,
        actor: Actor,
        proposal: Proposal,
        now: dt.datetime,
        tenant: tuple[TenantPolicy, ...] = (),
    ) -> Decision:
        """Every action of ``proposal`` in one batch call; all must be allowed."""
        return self.decide_many(actor, [proposal], now, tenant)[0]

    def decide_many(
        self,
        actor: Actor,
        proposals: list[Proposal],
        now: dt.datetime,
        tenant: tuple[TenantPolicy, ...] = (),
    ) -> list[Decision]:
        """Many proposals in as few Cedar calls as their entities allow (a subtree, a sweep).

        Proposals share one call while the entities they name agree; one that
        sees an entity differently (the same parent before and after its own
        change) starts the next call.
        """
        try:
            bundle = self._bundle(tenant)
        except PolicyError as exc:
            # Stored tenant policies that no longer validate (the schema changed): deny.
            log.error("tenant policies invalid; denying", extra={"errors": [str(exc)]})
            return [Decision(allowed=False, errors=(str(exc),)) for _ in proposals]
        decisions: list[Decision] = []
        built = [build(actor, p, now) for p in proposals]
        for group in _batches(built) if len(built) > 1 else [built]:
            decisions += self._decide(bundle, actor, proposals[len(decisions) :], group)
        return decisions

    def _base(self, built: Built, actor: Actor, proposal: Proposal) -> cedarpy.Entities:
        """The caller and its tenant, parsed once per client and tenant settings."""
        with self._lock:
            found = self._bases.get(built.base_key)
            if found is not None:
                self._bases.move_to_end(built.base_key)
                return found
        parsed = cedarpy.Entities.from_json_str(json.dumps(base(actor, proposal)))
        with self._lock:
            self._bases[built.base_key] = parsed
            if len(self._bases) > _BASE_CACHE:
                self._bases.popitem(last=False)
        return parsed

    def _decide(
        self, bundle: _Bundle, actor: Actor, proposals: list[Proposal], group: list[Built]
    ) -> list[Decision]:
        requests = [r for built in group for r in built.requests]
        delta = list({_key(e): e for built in group for e in built.entities}.values())
        try:
            first = self._base(group[0], actor, proposals[0])
            entities = first.with_added_json_str(_encode(delta).decode())
            results = _authorize(requests, bundle.policies, entities)
        except (ValueError, RuntimeError) as exc:
            log.error("policy evaluation failed; denying", extra={"errors": [str(exc)]})
            return [
                Decision(allowed=False, actions=p.actions, errors=(str(exc),))
                for p in proposals[: len(group)]
            ]
        decisions, start = [], 0
        for proposal, built in zip(proposals, group, strict=False):
            mine = results[start : start + len(built.requests)]
            start += len(built.requests)
            decisions.append(self._summarise(bundle, proposal, built.requests, entities, mine))
        return decisions

    def _summarise(
        self,
        bundle: _Bundle,
        proposal: Proposal,
        requests: list[dict[str, Any]],
        entities: cedarpy.Entities,
        results: list[_Result],
    ) -> Decision:
        """One proposal's decision: allowed only if every one of its actions is."""
        allowed, errors = True, []
        deciding: list[tuple[str, str]] = []
        for result in results:
            errors += [e if isinstance(e, str) else str(e) for e in result.diagnostics.errors]
            named = [bundle.annotations.get(r, (r, "")) for r in result.diagnostics.reason]
            if not result.allowed:
                if allowed:
                    deciding = []
                allowed = False
                deciding += [n for n in named if n not in deciding]
            elif allowed:
                deciding += [n for n in named if n not in deciding]
        if errors:
            log.error("policy evaluation failed; denying", extra={"errors": errors})
        deciding.sort()
        if allowed and not errors:
            return Decision(
                allowed=True, actions=proposal.actions, policy_ids=tuple(n[0] for n in deciding)
            )
        unpermitted: tuple[str, ...] = ()
        if deciding and not errors:
            # A forbid hides a missing permit; the deny path is rare, so ask again.
            again = _authorize(requests, bundle.permits, entities)
            unpermitted = tuple(
                a for a, r in zip(proposal.actions, again, strict=True) if not r.allowed
            )
        return Decision(
            allowed=False,
            actions=proposal.actions,
            policy_ids=tuple(n[0] for n in deciding),
            reasons=tuple(n[1] for n in deciding),
            errors=tuple(errors),
            unpermitted=unpermitted,
        )


class _Diagnostics(msgspec.Struct, frozen=True):
    reason: list[str] = []
    errors: list[Any] = []


class _Result(msgspec.Struct):
    """One answer of Cedar's batch call, read straight from its JSON."""

    decision: str
    diagnostics: _Diagnostics = _Diagnostics()

    @property
    def allowed(self) -> bool:
        return self.decision == "Allow"


_encode = msgspec.json.Encoder().encode
_decode_result = msgspec.json.Decoder(_Result).decode


def _authorize(
    requests: list[dict[str, Any]], policies: cedarpy.PolicySet, entities: cedarpy.Entities
) -> list[_Result]:
    """cedarpy's batch call without its wrapper's per-call JSON round trips.

    Contexts arrive encoded once per proposal (``entities.build``); the answers
    are decoded by msgspec. Pinned to cedarpy 4.12, whose wrapper does the same.
    """
    raw = cedarpy._internal.is_authorized_batch(requests, policies, entities._inner, None, False)
    return [_decode_result(r) for r in raw]


def _key(entity: dict[str, Any]) -> tuple[str, str]:
    return entity["uid"]["type"], entity["uid"]["id"]


def _batches(built: list[Built]) -> list[list[Built]]:
    """Consecutive proposals one Cedar call can decide: same caller, entities that agree."""
    groups: list[list[Built]] = []
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for item in built:
        clash = any(seen.get(_key(e), e) != e for e in item.entities)
        if not groups or clash or item.base_key != groups[-1][0].base_key:
            groups.append([])
            seen = {}
        groups[-1].append(item)
        seen.update({_key(e): e for e in item.entities})
    return groups
