"""Who is calling: a bearer token resolved to roles within one tenant.

Roles (DESIGN.md "Policies"): ``idp`` pushes Users and Groups, ``platform``
registers non-human identities and reads the directory, ``auditor`` reads,
``admin`` administers its tenant. ``operator`` has no tenant: it creates
tenants and their first tokens.
"""

from __future__ import annotations

import enum

import msgspec


class Role(enum.StrEnum):
    IDP = "idp"
    PLATFORM = "platform"
    AUDITOR = "auditor"
    ADMIN = "admin"
    OPERATOR = "operator"


TENANT_ROLES = frozenset({Role.IDP, Role.PLATFORM, Role.AUDITOR, Role.ADMIN})


class Permission(enum.StrEnum):
    READ_DIRECTORY = "read_directory"  # GET Users and Groups, discovery
    WRITE_DIRECTORY = "write_directory"  # create, replace, delete Users and Groups
    WRITE_IDENTITIES = "write_identities"  # register, change, retire Agents and ServiceAccounts
    MANAGE_TOKENS = "manage_tokens"  # /admin/tokens of the own tenant
    MANAGE_TENANTS = "manage_tenants"  # /admin/tenants


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.IDP: frozenset({Permission.READ_DIRECTORY, Permission.WRITE_DIRECTORY}),
    Role.PLATFORM: frozenset({Permission.READ_DIRECTORY, Permission.WRITE_IDENTITIES}),
    Role.AUDITOR: frozenset({Permission.READ_DIRECTORY}),
    Role.ADMIN: frozenset(
        {
            Permission.READ_DIRECTORY,
            Permission.WRITE_DIRECTORY,
            Permission.WRITE_IDENTITIES,
            Permission.MANAGE_TOKENS,
        }
    ),
    Role.OPERATOR: frozenset({Permission.MANAGE_TENANTS}),
}


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated caller. ``tenant_id`` is None only for operators."""

    token_id: str
    name: str
    roles: frozenset[Role]
    tenant_id: str | None
    # A platform token's accountable owner and purpose: the defaults for what it registers.
    owner_id: str | None = None
    purpose: str | None = None

    def may(self, permission: Permission) -> bool:
        return any(permission in _GRANTS[role] for role in self.roles)


def parse_roles(text: str | list[str]) -> frozenset[Role]:
    """Parse ``"idp,platform"`` or ``["idp", "platform"]``; raise ValueError on an unknown role.

    An operator token is tenant-less, so it cannot carry tenant roles too.
    """
    items = [
        part for chunk in ([text] if isinstance(text, str) else text) for part in chunk.split(",")
    ]
    roles: set[Role] = set()
    for item in items:
        name = item.strip().lower()
        if not name:
            continue
        try:
            roles.add(Role(name))
        except ValueError:
            allowed = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role {item.strip()!r} (one of: {allowed})") from None
    if not roles:
        raise ValueError("at least one role is required")
    if Role.OPERATOR in roles and len(roles) > 1:
        raise ValueError("the operator role cannot be combined with tenant roles")
    return frozenset(roles)
