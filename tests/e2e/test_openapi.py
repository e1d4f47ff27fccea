"""schemathesis over /docs/openapi.json, against a real uvicorn server.

Every documented operation is called with generated requests, valid and
invalid: as a tenant admin (administration, reports), as an ``idp,platform``
client (SCIM) and as an operator (tenants, onboarding); the operations on one
resource once with generated ids and once more with an id that exists. Each
answer must be no server error and have a documented status, content type,
headers and body. Bounded for CI: a fixed number of examples per operation
and mode, derandomized, on SQLite only (storage equivalence is tested
elsewhere).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Harness, TenantAccess

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 8  # per operation and generation mode
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
SEEDS = {
    "Users": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "seed"},
    "Groups": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "seed"},
    "Agents": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Agent"], "name": "seed"},
    "ServiceAccounts": {
        "schemas": ["urn:tenure:params:scim:schemas:core:1.0:ServiceAccount"],
        "name": "seed",
    },
}
CONFIG = {
    "generation": {
        "database": "none",
        # The bearer token is the test's to send; generated ones would only ever meet 401.
        "with-security-parameters": False,
    }
}


class Callers:
    def __init__(self, harness: Harness, tenant: TenantAccess) -> None:
        self.tokens = {
            "admin": tenant.token("admin"),
            "scim": tenant.token("idp,platform"),
            "operator": harness.operator["Authorization"].removeprefix("Bearer "),
        }

    def headers(self, path: str) -> dict[str, str]:
        if path.startswith("/scim/v2"):
            caller = "scim"
        elif path.startswith(("/admin/tenants", "/admin/onboard")):
            caller = "operator"
        else:
            caller = "admin"
        return {"Authorization": f"Bearer {self.tokens[caller]}"}


def _seeded(harness: Harness, tenant: TenantAccess) -> dict[str, str]:
    """One resource of each type, made by the SCIM client: endpoint → id."""
    ids = {}
    for endpoint, body in SEEDS.items():
        response = harness.client.post(
            f"/scim/v2/{endpoint}", json=body, headers=tenant.headers("idp,platform")
        )
        assert response.status_code == 201, response.text
        ids[endpoint] = response.json()["id"]
    return ids


@pytest.mark.parametrize("backend", ["sqlite"])
def test_every_operation_answers_as_documented(harness: Harness, server: str) -> None:
    tenant = harness.tenant()  # the harness's app shares the server's database
    callers = Callers(harness, tenant)
    config = schemathesis.Config.from_dict(CONFIG)
    schema = schemathesis.openapi.from_url(f"{server}/docs/openapi.json", config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50, "the document describes every route"
    failures: list[str] = []
    runs = [(operation, {}) for operation in operations]
    # Then once more on resources that exist, deleting last.
    ids = _seeded(harness, tenant)
    existing = [o for o in operations if o.path.endswith("/{resource_id}") and "/scim/" in o.path]
    for operation in sorted(existing, key=lambda o: o.method.upper() == "DELETE"):
        endpoint = operation.path.split("/")[3]
        runs.append((operation, {"resource_id": ids[endpoint]}))
    for operation, path_parameters in runs:
        for mode in MODES:
            found = _fuzz(operation, mode, server, callers, path_parameters)
            if found is not None:
                where = f" with id {path_parameters['resource_id']}" if path_parameters else ""
                failures.append(f"{operation.label}{where} ({mode.value}):\n{found}")
    assert not failures, "\n\n".join(failures)


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    server: str,
    callers: Callers,
    path_parameters: dict[str, str],
) -> str | None:
    """The first failure among ``EXAMPLES`` generated requests, with schemathesis's report."""
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
    headers = callers.headers(operation.path)

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        # Not shrunk: the first failing request is reported as it was sent.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(base_url=server, headers=headers, checks=CHECKS, timeout=10)

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid: no parameters and no body (the probes).
        assert mode is GenerationMode.NEGATIVE
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis's, with a curl reproduction
        return str(exc)
    return None
