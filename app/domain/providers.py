"""Identity-provider profiles: what differs per provider, and what its admin console needs.

The default already accepts what every listed provider sends (tests/idp/);
a profile only adjusts what must differ and says how to set the provider up.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    title: str
    auth: str  # how the provider's console takes the token
    mapping: tuple[str, ...]  # attributes to map, as the console names them
    settings: tuple[str, ...] = ()  # the provider's own switches to set


_COMMON = (
    "userName ← the login (e.g. email)",
    "name.givenName, name.familyName",
    'emails[type eq "work"].value',
    "active",
    "externalId ← the provider's user id",
)

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="generic",
            title="Any SCIM 2.0 client",
            auth="HTTP header 'Authorization: Bearer <token>'",
            mapping=_COMMON,
        ),
        Profile(
            name="okta",
            title="Okta",
            auth="Authentication Mode: HTTP Header; Authorization: Bearer <token>",
            mapping=(*_COMMON, "userType ← 'Agent' for agents (optional)"),
            settings=(
                "SCIM connector base URL: the SCIM base URL",
                "Unique identifier field for users: userName",
                "Supported provisioning actions: Push New Users, Push Profile Updates, Push Groups",
                "To App: enable Create Users, Update User Attributes, Deactivate Users",
            ),
        ),
        Profile(
            name="entra",
            title="Microsoft Entra ID",
            auth="Secret Token: <token> (Entra sends it as a Bearer token)",
            mapping=(*_COMMON, "manager ← manager (enterprise extension)"),
            settings=(
                "Tenant URL: the SCIM base URL; append '?aadOptscim062020' for the "
                "RFC-compliant dialect (both are accepted)",
                "Provisioning Mode: Automatic; Scope: Sync only assigned users and groups",
                "Test Connection, then Start provisioning",
            ),
        ),
        Profile(
            name="google",
            title="Google Workspace",
            auth="Authorization: Bearer <token>",
            mapping=_COMMON,
            settings=("Apps > Web and mobile apps > the app > Auto-provisioning: on",),
        ),
        Profile(
            name="onelogin",
            title="OneLogin",
            auth="SCIM Bearer Token: <token>",
            mapping=_COMMON,
            settings=(
                "SCIM Base URL: the SCIM base URL",
                "SCIM JSON Template: SCIM 2.0",
                "Provisioning: enable, with 'Create user', 'Delete user', 'Update user'",
            ),
        ),
        Profile(
            name="jumpcloud",
            title="JumpCloud",
            auth="Token Key: <token>",
            mapping=_COMMON,
            settings=(
                "Identity Management: SCIM 2.0, Base URL: the SCIM base URL",
                "Test Connection, then Activate",
            ),
        ),
        Profile(
            name="ping",
            title="Ping Identity (PingOne, PingFederate)",
            auth="Authentication Method: OAuth 2 Bearer Token: <token>",
            mapping=_COMMON,
            settings=("SCIM URL: the SCIM base URL", "SCIM Version: 2.0"),
        ),
        Profile(
            name="rippling",
            title="Rippling",
            auth="API token / Bearer: <token>",
            mapping=_COMMON,
            settings=("SCIM base URL: the SCIM base URL",),
        ),
        Profile(
            name="authentik",
            title="authentik",
            auth="Token: <token>",
            mapping=_COMMON,
            settings=("Providers > SCIM Provider: URL = the SCIM base URL",),
        ),
        Profile(
            name="keycloak",
            title="Keycloak (SCIM plugin)",
            auth="Authorization: Bearer <token>",
            mapping=_COMMON,
            settings=("User federation / SCIM endpoint: the SCIM base URL",),
        ),
    )
}


def instructions(profile: Profile, scim_url: str, token: str) -> dict[str, Any]:
    """What to paste into the provider's admin console, as the API answers and the CLI prints."""
    return {
        "provider": profile.title,
        "scimBaseUrl": scim_url,
        "authentication": profile.auth.replace("<token>", token),
        "authorizationHeader": f"Authorization: Bearer {token}",
        "attributeMapping": list(profile.mapping),
        "providerSettings": list(profile.settings),
        "guide": f"docs/idp/{profile.name}.md",
    }


def lines(steps: dict[str, Any]) -> list[str]:
    """``instructions`` as text a person follows top to bottom."""
    out = [
        f"Set up {steps['provider']}:",
        f"  SCIM base URL:   {steps['scimBaseUrl']}",
        f"  Authentication:  {steps['authentication']}",
        f"  (the header it must send: {steps['authorizationHeader']})",
        "  Map these attributes:",
    ]
    out += [f"    - {item}" for item in steps["attributeMapping"]]
    settings = steps["providerSettings"]
    if settings:
        out.append("  In the provider's console:")
        out += [f"    - {item}" for item in settings]
    out.append(f"  Step by step: {steps['guide']}")
    return out
