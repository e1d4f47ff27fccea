"""Who is calling: a bearer token resolved to roles within one tenant.

Roles (DESIGN.md "Policies"): ``idp`` pushes and reads Users and Groups,
``platform`` registers non-human identities and reads them and the directory, ``auditor`` reads,
``admin`` administers its tenant. ``operator`` has no tenant: it creates
tenants and their first tokens.
"""

from __future__ import annotations

import enum

import msgspec

from app.domain.kinds import describe, unknown_kinds


class Role(enum.StrEnum):
    IDP = "idp"
    PLATFORM = "platform"
    AUDITOR = "auditor"
    ADMIN = "admin"
    OPERATOR = "operator"
    # The server's own lifecycle sweeper; never carried by an issued token.
    SCHEDULER = "scheduler"


TENANT_ROLES = frozenset({Role.IDP, Role.PLATFORM, Role.AUDITOR, Role.ADMIN})


class Permission(enum.StrEnum):
    """Reads and administration. Every write of an identity is Cedar's to decide
    (``policies/roles.cedar``), so no write permission lives here."""

    READ_DIRECTORY = "read_directory"  # GET Users and Groups, discovery
    READ_IDENTITIES = "read_identities"  # GET Agents and ServiceAccounts
    MANAGE_TOKENS = "manage_tokens"  # /admin/tokens and /admin/settings of the own tenant
    MANAGE_POLICIES = "manage_policies"  # the own tenant's policies, dry runs
    RELOAD_POLICIES = "reload_policies"  # re-read policies/ on this server
    MANAGE_TENANTS = "manage_tenants"  # /admin/tenants
    READ_AUDIT = "read_audit"  # /audit and /reports of the own tenant


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.IDP: frozenset({Permission.READ_DIRECTORY}),
    Role.PLATFORM: frozenset({Permission.READ_DIRECTORY, Permission.READ_IDENTITIES}),
    Role.AUDITOR: frozenset(
        {Permission.READ_DIRECTORY, Permission.READ_IDENTITIES, Permission.READ_AUDIT}
    ),
    Role.ADMIN: frozenset(
        {
            Permission.READ_DIRECTORY,
            Permission.READ_IDENTITIES,
            Permission.READ_AUDIT,
            Permission.MANAGE_TOKENS,
            Permission.MANAGE_POLICIES,
            Permission.RELOAD_POLICIES,
        }
    ),
    Role.OPERATOR: frozenset({Permission.MANAGE_TENANTS, Permission.RELOAD_POLICIES}),
    Role.SCHEDULER: frozenset({Permission.READ_DIRECTORY, Permission.READ_IDENTITIES}),
}


class Restrictions(msgspec.Struct, frozen=True, kw_only=True):
    """What a token may touch beyond its roles (policy ``tenure.platform.reach``).

    Empty ``kinds``/``environments`` mean any. ``agent_id`` makes the token the
    credential of that Agent (policy ``tenure.self.no_escalation``).
    """

    kinds: frozenset[str] = frozenset()
    environments: frozenset[str] = frozenset()
    agent_id: str | None = None

    @classmethod
    def named(
        cls,
        kinds: str | list[str] | None,
        environments: str | list[str] | None,
        agent_id: str | None,
    ) -> Restrictions:
        """From what an operator or admin wrote: ``"agent,bot"`` or a list, per field;
        ValueError for a kind that is none (app.domain.kinds)."""
        named = parse_names(kinds)
        unknown = unknown_kinds(sorted(named))
        if unknown:
            raise ValueError(f"unknown kind {unknown[0]!r} (one of: {describe()})")
        return cls(kinds=named, environments=parse_names(environments), agent_id=agent_id)


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated caller. ``tenant_id`` is None only for operators."""

    token_id: str
    name: str
    roles: frozenset[Role]
    tenant_id: str | None
    # A platform token's accountable owner and purpose: the defaults for what it registers.
    owner_id: str | None = None
    purpose: str | None = None
    restrictions: Restrictions = Restrictions()
    # Where the request came from, for the audit trail.
    request_id: str | None = None
    client: str | None = None

    def may(self, permission: Permission) -> bool:
        return any(permission in _GRANTS[role] for role in self.roles)


def scheduler(tenant_id: str) -> Actor:
    """The server's lifecycle sweeper as a principal of one tenant (never a token's)."""
    return Actor(
        token_id="scheduler",
        name="scheduler",
        roles=frozenset({Role.SCHEDULER}),
        tenant_id=tenant_id,
    )


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
            role = Role(name)
        except ValueError:
            role = None
        if role is None or role is Role.SCHEDULER:
            allowed = ", ".join(r.value for r in Role if r is not Role.SCHEDULER)
            raise ValueError(f"unknown role {item.strip()!r} (one of: {allowed})")
        roles.add(role)
    if not roles:
        raise ValueError("at least one role is required")
    if Role.OPERATOR in roles and len(roles) > 1:
        raise ValueError("the operator role cannot be combined with tenant roles")
    return frozenset(roles)


def trial_roles(names: list[str]) -> frozenset[Role]:
    """Roles for a made-up principal (dry runs, policy scenarios): the scheduler's alone,
    or tenant roles as ``parse_roles`` reads them."""
    if [n.strip().lower() for n in names] == [Role.SCHEDULER.value]:
        return frozenset({Role.SCHEDULER})
    return parse_roles(names)


def parse_names(text: str | list[str] | None) -> frozenset[str]:
    """``"agent,bot"`` or ``["agent", "bot"]`` → a set of trimmed names (kinds, environments)."""
    if not text:
        return frozenset()
    chunks = [text] if isinstance(text, str) else text
    return frozenset(p.strip() for chunk in chunks for p in chunk.split(",") if p.strip())
