"""The JSON that /admin, /reports, /audit and the probes take and answer, as JSON Schema.

Requests are the msgspec Structs the handlers decode into, so their schema is
msgspec's own. Answers are the views the handlers build.
"""

from __future__ import annotations

from typing import Any

import msgspec

from app.api.admin import SettingsRequest, TenantRequest, TokenRequest
from app.api.connections import OnboardRequest
from app.api.notifications import SmtpRequest, WebhookRequest
from app.api.openapi.messages import closed, ref
from app.api.policies import EvaluateRequest, PolicyRequest
from app.domain.tenancy import TenantPolicy
from app.policy.engine import PolicySource

REQUESTS = (TokenRequest, TenantRequest, SettingsRequest, PolicyRequest, EvaluateRequest,
            WebhookRequest, SmtpRequest, OnboardRequest)  # fmt: skip
_ANSWERS = (PolicySource, TenantPolicy)

S = {"type": "string"}
_S0 = {"type": ["string", "null"]}
_I = {"type": "integer"}
_I0 = {"type": ["integer", "null"]}
_B = {"type": "boolean"}
_T = {"type": "string", "format": "date-time"}
_T0 = {"type": ["string", "null"], "format": "date-time"}
_SS = {"type": "array", "items": S}
_ANY_OBJECT = {"type": "object"}


def _items(item: dict[str, Any]) -> dict[str, Any]:
    return closed(items={"type": "array", "items": item})


def _page(item: str) -> dict[str, Any]:
    """A report page; its CSV form (``?format=csv``) streams every row instead."""
    return closed(items={"type": "array", "items": ref(item)}, itemsPerPage=_I, nextCursor=_S0)


_TOKEN = dict(id=S, tenantId=_S0, name=S, roles=_SS, created=_T, expiresAt=_T0, revokedAt=_T0,
              lastUsedAt=_T0, owner=_S0, purpose=_S0, kinds=_SS, environments=_SS,
              agent=_S0)  # fmt: skip
_SEEN = closed(["method", "path", "status", "at"], method=S, path=S, status=_I, at=S,
               scimType=_S0, detail=_S0)  # fmt: skip
_HOLDER = closed(id=S, type=S, display=_S0, status=S)
_NAMED = closed(id=S, name=S)
_VERDICT = closed(
    ["resourceType", "id", "decision", "actions", "policies", "diagnostics"],
    resourceType=S,
    id=_S0,
    decision={"enum": ["allow", "deny"]},
    actions=_SS,
    policies={"type": "array", "items": closed(["id"], id=S, reason=S)},
    diagnostics=closed(errors=_SS),
    detail=S,
)


def _answers() -> dict[str, dict[str, Any]]:
    return {
        "Token": closed(**_TOKEN),
        "IssuedToken": closed(**_TOKEN, token={**S, "description": "shown this once"}),
        "Tokens": _items(ref("Token")),
        "Tenant": closed(id=S, name=S, created=_T),
        "Tenants": _items(ref("Tenant")),
        "Policies": _items(ref("PolicySource")),
        "AddedPolicies": _items(ref("TenantPolicy")),
        "Reloaded": closed(reloaded=_B, policies=_I),
        "Evaluation": closed(
            decision={"enum": ["allow", "deny"]}, decisions={"type": "array", "items": _VERDICT}
        ),
        "Webhook": closed(url=_S0, configured=_B),
        "WebhookSet": closed(url=S, secret={**S, "description": "the signing secret, once"}),
        "Smtp": closed(
            ["configured"],
            configured=_B,
            host=S,
            port=_I,
            starttls=_B,
            username=_S0,
            passwordSet=_B,
            **{"from": S},
        ),
        "Outbox": _items(
            closed(
                id=_I,
                kind=S,
                state=S,
                attempts=_I,
                webhookId=S,
                nextAttemptAt=_T,
                lastError=_S0,
                created=_T,
                sentAt=_T0,
                payload=_ANY_OBJECT,
            )
        ),
        "Retried": closed(id=_I, state=S),
        "Onboarded": closed(
            tenant=_NAMED,
            identityProvider=S,
            tokens={"type": "object", "additionalProperties": closed(id=S, token=S)},
            instructions=closed(
                provider=S,
                scimBaseUrl=S,
                authentication=S,
                authorizationHeader=S,
                attributeMapping=_SS,
                providerSettings=_SS,
                guide=S,
            ),
            connection=S,
        ),
        "Connection": closed(
            tenant=_NAMED,
            identityProvider=S,
            scimBaseUrl=S,
            tokens={
                "type": "array",
                "items": closed(
                    id=S,
                    name=S,
                    roles=_SS,
                    usable=_B,
                    lastUsedAt=_S0,
                    requests={"type": "array", "items": _SEEN},
                    errors={"type": "array", "items": _SEEN},
                ),
            },
            selfTest=closed(
                ok=_B, checks={"type": "array", "items": closed(name=S, ok=_B, detail=S)}
            ),
        ),
        "Governed": closed(
            id=S,
            resourceType=S,
            name=_S0,
            kind=_S0,
            purpose=_S0,
            scopes=_SS,
            environment=_S0,
            expiresAt=_T0,
            state=_S0,
            created=_T,
            deletedAt=_T0,
        ),
        "Holder": _HOLDER,
        "Ownership": closed(owner=ref("Holder"), relation=S, identity=ref("Governed")),
        "OwnershipPage": _page("Ownership"),
        "ExpiringIdentity": closed(
            identity=ref("Governed"),
            owners={"type": "array", "items": ref("Holder")},
            warned=_B,
            warnedAt=_T0,
            warnedDaysAhead=_I0,
        ),
        "ExpiringPage": _page("ExpiringIdentity"),
        "OrphanIdentity": closed(
            identity=ref("Governed"),
            owners={"type": "array", "items": ref("Holder")},
            orphanedSince=_T0,
            nextStep={"enum": ["suspend", "teardown", "review"]},
            nextAt=_T0,
        ),
        "OrphanPage": _page("OrphanIdentity"),
        "AuditEvent": closed(
            seq=_I,
            at=_T,
            actor=closed(token=S, name=S, roles=_SS),
            actions=_SS,
            resource=closed(type=S, id=S, name=_S0),
            decision={"enum": ["allow", "deny"]},
            policyIds=_SS,
            changed=_SS,
            before=_ANY_OBJECT,
            after=_ANY_OBJECT,
            reason=_S0,
            detail=_S0,
            requestId=_S0,
            client=_S0,
            prevHash=S,
            hash=S,
        ),
        "AuditPage": _page("AuditEvent"),
        "Summary": {
            "type": "object",
            "required": ["tenant", "at", "identities", "denials", "teardowns"],
            "properties": {
                "tenant": S,
                "at": _T,
                "identities": _ANY_OBJECT,
                "denials": _ANY_OBJECT,
                "teardowns": _ANY_OBJECT,
            },
        },
        "Verification": closed(
            ok=_B, events=_I, firstSeq=_I0, lastSeq=_I0, brokenAt=_I0, problem=_S0, pending=_I
        ),
        "Health": closed(["status"], status={"enum": ["ok", "unavailable"]}, detail=_S0),
    }


def admin_schemas() -> dict[str, dict[str, Any]]:
    _, structs = msgspec.json.schema_components(
        REQUESTS + _ANSWERS, ref_template="#/components/schemas/{name}"
    )
    # A tenant's settings answer with every setting of the request, each with its value in force.
    settings = structs["SettingsRequest"]
    in_force = {**settings, "title": "Settings", "required": list(settings["properties"])}
    return {**structs, "Settings": in_force, **_answers()}
