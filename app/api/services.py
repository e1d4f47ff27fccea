"""What the controllers use, wired once by create_app and kept on app.state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request

from app.audit.chain import AuditTrail
from app.config import Settings
from app.domain.clock import Clock
from app.provisioning.bulk import Bulk
from app.provisioning.connections import Connections
from app.provisioning.mutation import Provisioning
from app.provisioning.notifications import Notifications
from app.provisioning.policies import TenantPolicies
from app.provisioning.reads import Reader
from app.provisioning.tenancy import Tenancy
from app.reports.service import Reports
from app.scim.schema import Registry
from app.store.uow import Database


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    db: Database
    registry: Registry
    tenancy: Tenancy
    provisioning: Provisioning
    reader: Reader
    bulk: Bulk
    policies: TenantPolicies
    notifications: Notifications
    clock: Clock
    reports: Reports
    audit: AuditTrail
    connections: Connections


def services(request: Request[Any, Any, Any]) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def scim_base_url(request: Request[Any, Any, Any]) -> str:
    """Where /scim/v2 is reached from outside: TENURE_PUBLIC_URL, else the request's own base."""
    public = services(request).settings.public_url
    base = public if public else str(request.base_url).rstrip("/")
    return f"{base}/scim/v2"
