"""The policy set, parsed and validated once (cedarpy PolicySet/Schema), and decisions.

An invalid set refuses to load. A decision that is not an explicit Allow —
no permit matched, a forbid matched, or evaluation failed — is a deny naming
the deciding policies by their ``@id`` and ``@reason`` annotations.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import cedarpy
import msgspec

from app.domain.actor import Actor
from app.policy.entities import Subject, build

log = logging.getLogger("tenure.policy")


class PolicyError(ValueError):
    """The policy files do not parse or do not validate against the schema."""


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    allowed: bool
    policy_ids: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    def explain(self) -> str:
        if self.errors:
            return "policy evaluation failed: " + "; ".join(self.errors)
        if self.policy_ids:
            return "denied by " + "; ".join(
                f"{pid} ({reason})" if reason else pid
                for pid, reason in zip(self.policy_ids, self.reasons, strict=True)
            )
        return "no policy permits this change"


class PolicyEngine:
    def __init__(self, text: str, schema_text: str) -> None:
        try:
            self._schema = cedarpy.Schema.from_str(schema_text)
            self._policies = cedarpy.PolicySet.from_str(text)
        except ValueError as exc:
            raise PolicyError(str(exc)) from None
        result = cedarpy.validate_policies(text, self._schema)
        if not result.validation_passed:
            raise PolicyError("; ".join(str(e) for e in result.errors))
        static = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
        # Cedar names policies policy0…; we name them by their @id and @reason.
        self._annotations = {
            key: (value["annotations"].get("id", key), value["annotations"].get("reason", ""))
            for key, value in static.items()
        }

    @classmethod
    def load(cls, directory: Path) -> PolicyEngine:
        """``*.cedar`` and ``tenure.cedarschema`` from ``directory``."""
        text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.cedar")))
        return cls(text, (directory / "tenure.cedarschema").read_text(encoding="utf-8"))

    def decide(self, actor: Actor, action: str, subject: Subject, now: dt.datetime) -> Decision:
        request, entities = build(actor, action, subject, now)
        result = cedarpy.is_authorized(request, self._policies, entities, self._schema)
        errors = tuple(str(e) for e in result.diagnostics.errors)
        if errors:
            log.error("policy evaluation failed; denying", extra={"errors": list(errors)})
        named = [self._annotations.get(r, (r, "")) for r in result.diagnostics.reasons]
        if result.allowed and not errors:
            return Decision(allowed=True, policy_ids=tuple(n[0] for n in named))
        return Decision(
            allowed=False,
            policy_ids=tuple(n[0] for n in named),
            reasons=tuple(n[1] for n in named),
            errors=errors,
        )
