"""What each route takes and answers, keyed by its path as Litestar names it.

Litestar sees each handler's path and declared parameters, not the bodies the
handlers read and write themselves (app/api/media.py), so this table adds
them. A new route needs one line here, or tests/api/test_openapi_document.py
says which is missing. ``{T}`` stands for each resource type of the registry
under the generic SCIM routes (``/scim/v2/{endpoint}``); ``Resource`` is any
resource type, e.g. for an admin route answering with one:
``Route({200: "Resource"}, media=SCIM, errors=(400, 401, 403, 404, 409))``.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

SCIM = "application/scim+json"
JSON = "application/json"


@dataclass(frozen=True)
class Route:
    answers: dict[int, str | None]  # status → component schema of the body (None: no body)
    _: KW_ONLY
    body: str | None = None  # component schema of the request body
    errors: tuple[int, ...] = (401, 403)  # statuses answered with an RFC 7644 Error body
    parameters: tuple[str, ...] = ()  # components.parameters: query and header
    summary: str | None = None  # for the generic routes; otherwise the handler's
    public: bool = False  # no bearer token needed
    csv: bool = False  # also answers text/csv (Accept: text/csv or ?format=csv)
    media: str | None = None  # of the answers; default: SCIM under /scim/v2, else JSON


_PROJECTION = ("attributes", "excludedAttributes")
_LIST = ("filter", "sortBy", "sortOrder", "startIndex", "count", "cursor", *_PROJECTION)
_READ = (400, 401, 403)
_BODY = (400, 401, 403, 413, 415)
_ONE = (400, 401, 403, 404)
_CHANGE = (400, 401, 403, 404, 409, 412, 413, 415)

ROUTES: dict[tuple[str, str], Route] = {
    # Discovery (RFC 7644 §4)
    ("GET", "/scim/v2/ServiceProviderConfig"): Route({200: "ServiceProviderConfig"}),
    ("GET", "/scim/v2/ResourceTypes"): Route({200: "ResourceTypeList"}),
    ("GET", "/scim/v2/ResourceTypes/{name}"): Route({200: "ResourceType"}, errors=(401, 403, 404)),
    ("GET", "/scim/v2/Schemas"): Route({200: "SchemaList"}),
    ("GET", "/scim/v2/Schemas/{urn}"): Route({200: "Schema"}, errors=(401, 403, 404)),
    # Resources (RFC 7644 §3.3–§3.7)
    ("POST", "/scim/v2/.search"): Route({200: "AnyList"}, body="SearchRequest", errors=_BODY),
    ("POST", "/scim/v2/Bulk"): Route({200: "BulkResponse"}, body="BulkRequest", errors=_BODY),
    ("GET", "/scim/v2/{endpoint}"): Route(
        {200: "{T}List"}, errors=_READ, parameters=_LIST, summary="List {T}"
    ),
    ("POST", "/scim/v2/{endpoint}/.search"): Route(
        {200: "{T}List"}, body="SearchRequest", errors=_BODY, summary="Search {T}"
    ),
    ("POST", "/scim/v2/{endpoint}"): Route(
        {201: "{T}"},
        body="{T}Request",
        errors=(*_BODY, 404, 409),
        parameters=_PROJECTION,
        summary="Create one {T}",
    ),
    ("GET", "/scim/v2/{endpoint}/{resource_id}"): Route(
        {200: "{T}", 304: None},
        errors=_ONE,
        parameters=(*_PROJECTION, "If-None-Match"),
        summary="Read one {T}",
    ),
    ("PUT", "/scim/v2/{endpoint}/{resource_id}"): Route(
        {200: "{T}"},
        body="{T}Request",
        errors=_CHANGE,
        parameters=(*_PROJECTION, "If-Match"),
        summary="Replace one {T}",
    ),
    ("PATCH", "/scim/v2/{endpoint}/{resource_id}"): Route(
        {200: "{T}"},
        body="PatchOp",
        errors=_CHANGE,
        parameters=(*_PROJECTION, "If-Match"),
        summary="Modify one {T}",
    ),
    ("DELETE", "/scim/v2/{endpoint}/{resource_id}"): Route(
        {204: None},
        errors=(400, 401, 403, 404, 409, 412),
        parameters=("If-Match",),
        summary="Delete one {T}",
    ),
    # Tenant administration
    ("POST", "/admin/tokens"): Route(
        {201: "IssuedToken"}, body="TokenRequest", errors=(*_BODY, 404)
    ),
    ("GET", "/admin/tokens"): Route({200: "Tokens"}),
    ("DELETE", "/admin/tokens/{token_id}"): Route({204: None}, errors=(401, 403, 404)),
    ("POST", "/admin/identities/{resource_id}/restore"): Route(
        {200: "Resource"}, media=SCIM, errors=(400, 401, 403, 404, 409)
    ),
    ("GET", "/admin/settings"): Route({200: "Settings"}),
    ("PUT", "/admin/settings"): Route({200: "Settings"}, body="SettingsRequest", errors=_BODY),
    ("PATCH", "/admin/settings"): Route({200: "Settings"}, body="SettingsRequest", errors=_BODY),
    ("GET", "/admin/connection"): Route({200: "Connection"}),
    ("GET", "/admin/policies"): Route({200: "Policies"}),
    ("POST", "/admin/policies"): Route(
        {201: "AddedPolicies"}, body="PolicyRequest", errors=(*_BODY, 409)
    ),
    ("DELETE", "/admin/policies/{policy_id}"): Route({204: None}, errors=(401, 403, 404)),
    ("POST", "/admin/policies/reload"): Route({200: "Reloaded"}, errors=_READ),
    ("POST", "/admin/policies/evaluate"): Route(
        {200: "Evaluation"}, body="EvaluateRequest", errors=(*_BODY, 404, 409, 412)
    ),
    ("GET", "/admin/webhook"): Route({200: "Webhook"}),
    ("PUT", "/admin/webhook"): Route({200: "WebhookSet"}, body="WebhookRequest", errors=_BODY),
    ("DELETE", "/admin/webhook"): Route({204: None}),
    ("GET", "/admin/smtp"): Route({200: "Smtp"}),
    ("PUT", "/admin/smtp"): Route({200: "Smtp"}, body="SmtpRequest", errors=_BODY),
    ("DELETE", "/admin/smtp"): Route({204: None}),
    ("GET", "/admin/outbox"): Route({200: "Outbox"}, errors=_READ, parameters=("state",)),
    ("POST", "/admin/outbox/{message_id}/retry"): Route({200: "Retried"}, errors=_ONE),
    # Operators (no tenant)
    ("POST", "/admin/tenants"): Route({201: "Tenant"}, body="TenantRequest", errors=(*_BODY, 409)),
    ("GET", "/admin/tenants"): Route({200: "Tenants"}),
    ("GET", "/admin/tenants/{tenant}"): Route({200: "Tenant"}, errors=(401, 403, 404)),
    ("POST", "/admin/tenants/{tenant}/tokens"): Route(
        {201: "IssuedToken"}, body="TokenRequest", errors=(*_BODY, 404)
    ),
    ("GET", "/admin/tenants/{tenant}/tokens"): Route({200: "Tokens"}, errors=(401, 403, 404)),
    ("DELETE", "/admin/tenants/{tenant}/tokens/{token_id}"): Route(
        {204: None}, errors=(401, 403, 404)
    ),
    ("GET", "/admin/tenants/{tenant}/connection"): Route(
        {200: "Connection"}, errors=(401, 403, 404)
    ),
    ("POST", "/admin/onboard"): Route(
        {201: "Onboarded"}, body="OnboardRequest", errors=(*_BODY, 409)
    ),
    # Auditors
    ("GET", "/reports/ownership"): Route({200: "OwnershipPage"}, errors=_READ, csv=True),
    ("GET", "/reports/expiring"): Route({200: "ExpiringPage"}, errors=_READ, csv=True),
    ("GET", "/reports/orphans"): Route({200: "OrphanPage"}, errors=_READ, csv=True),
    ("GET", "/reports/summary"): Route({200: "Summary"}, errors=_READ, csv=True),
    ("GET", "/reports/identities/{resource_id}/history"): Route(
        {200: "AuditPage"}, errors=_ONE, csv=True
    ),
    ("GET", "/audit"): Route({200: "AuditPage"}, errors=_READ, csv=True),
    ("GET", "/audit/verify"): Route({200: "Verification"}, errors=_READ),
    # Probes
    ("GET", "/healthz"): Route({200: "Health"}, errors=(), public=True),
    ("GET", "/readyz"): Route({200: "Health", 503: "Health"}, errors=(), public=True),
}
