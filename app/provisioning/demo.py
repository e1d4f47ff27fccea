"""A realistic demo tenant: people, a team, agents with a delegated child, service
accounts, some expiring soon and one orphaned. Written through the one Mutation path."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.domain.actor import Actor
from app.provisioning.commands import Mutation, MutationKind
from app.provisioning.mutation import Provisioning
from app.provisioning.nhi import GOVERNANCE

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


async def seed(provisioning: Provisioning, actor: Actor, now: dt.datetime) -> dict[str, int]:
    """Create the demo set; returns how many of each resource type it wrote."""
    created: dict[str, int] = {}

    async def make(resource_type: str, body: dict[str, Any]) -> str:
        resource = await provisioning.run(
            Mutation(kind=MutationKind.CREATE, actor=actor, resource_type=resource_type, body=body)
        )
        assert resource is not None
        created[resource_type] = created.get(resource_type, 0) + 1
        return resource.id

    def days(n: int) -> str:
        return (now + dt.timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ")

    ada = await make("User", _person("ada", "Ada", "Lovelace", "Platform"))
    grace = await make("User", _person("grace", "Grace", "Hopper", "Support", manager=ada))
    linus = await make("User", _person("linus", "Linus", "Pauling", "Finance", manager=ada))
    leaver = await make("User", _person("dana", "Dana", "Scully", "Support", manager=grace))
    team = await make(
        "Group", {"displayName": "Platform Team", "members": [{"value": ada}, {"value": grace}]}
    )

    support = await make(
        "Agent",
        _agent(
            "support-assistant",
            "Answers customer tickets",
            owners=[grace],
            scopes=["tickets:read", "tickets:write", "kb:read"],
            expires=days(60),
            agent_type="Assistant",
        ),
    )
    await make(
        "Agent",
        {
            **_agent(
                "ticket-triage",
                "Labels and routes incoming tickets",
                owners=[grace],
                scopes=["tickets:read"],
                expires=days(30),
                agent_type="Classifier",
            ),
            "parent": {"value": support},
        },
    )
    await make(
        "Agent",
        _agent(
            "invoice-reconciler",
            "Matches invoices to payments",
            owners=[linus],
            scopes=["ledger:read"],
            expires=days(5),  # expiring soon: its owner is due a warning
            agent_type="Researcher",
        ),
    )
    await make(
        "Agent",
        _agent(
            "escalation-bot",
            "Escalates stale tickets",
            owners=[leaver],
            scopes=["tickets:read"],
            expires=days(45),
            agent_type="Assistant",
        ),
    )
    await make(
        "ServiceAccount",
        {
            "name": "ci-deployer",
            "displayName": "CI deployer",
            "owners": [{"value": team}],
            GOVERNANCE: {
                "purpose": "Deploys the platform from CI",
                "scopes": ["deploy:production"],
                "environment": "production",
                "sponsors": [{"value": ada}],
                "expiresAt": days(200),
            },
        },
    )
    await make(
        "ServiceAccount",
        {
            "name": "backup-runner",
            "owners": [{"value": ada}],
            GOVERNANCE: {
                "purpose": "Nightly database backups",
                "scopes": ["db:read", "storage:write"],
                "environment": "production",
                "expiresAt": days(10),
            },
        },
    )
    # Dana leaves: the escalation bot is left without an active owner (orphaned).
    await provisioning.run(
        Mutation(kind=MutationKind.DELETE, actor=actor, resource_type="User", resource_id=leaver)
    )
    return created


def _person(
    login: str, given: str, family: str, department: str, manager: str | None = None
) -> dict[str, Any]:
    enterprise: dict[str, Any] = {"department": department}
    if manager:
        enterprise["manager"] = {"value": manager}
    return {
        "userName": f"{login}@example.com",
        "name": {"givenName": given, "familyName": family},
        "displayName": f"{given} {family}",
        "emails": [{"value": f"{login}@example.com", "type": "work", "primary": True}],
        "active": True,
        ENTERPRISE: enterprise,
    }


def _agent(
    name: str,
    purpose: str,
    *,
    owners: list[str],
    scopes: list[str],
    expires: str,
    agent_type: str,
) -> dict[str, Any]:
    return {
        "name": name,
        "displayName": name.replace("-", " ").title(),
        "agentType": agent_type,
        "owners": [{"value": owner} for owner in owners],
        GOVERNANCE: {
            "purpose": purpose,
            "scopes": scopes,
            "environment": "production",
            "expiresAt": expires,
        },
    }
