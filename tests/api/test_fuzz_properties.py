"""Random and mutated requests never break the server, on SQLite and PostgreSQL (Hypothesis).

Over HTTP, through the harness: SCIM resource bodies of all four types (random
JSON, wrong types, deep nesting, NULs, huge integers and strings, attribute
names in any case), filters (random text and mutated valid ones), PATCH
operations, /Bulk requests (circular and forward bulkIds, too many operations,
failOnErrors), list parameters, and the admin API's bodies (tokens, settings,
webhook, SMTP, policies). Whatever is sent:

- the answer is never a 5xx;
- every 4xx is an RFC 7644 §3.12 Error body (schemas, status as a string
  equal to the HTTP status, detail);
- a refused request changes nothing: the tenant's rows, read from the
  database, are as before, except that a 403 policy denial appends exactly one
  audit event, with decision "deny" (in /Bulk: one per denied operation).

Each test builds one app and one tenant and runs its examples against them.
``TENURE_FUZZ_EXAMPLES`` raises the number of examples per test (CI keeps the
default, which fits the suite's time budget).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter
from collections.abc import Callable
from typing import Any, ClassVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.limits import MAX_JSON_DEPTH
from tests.conftest import Harness, TenantAccess, create
from tests.refusals import error_of, snapshot
from tests.samples import ENTERPRISE, GROUP, USER, user

AGENT = "urn:ietf:params:scim:schemas:core:2.0:Agent"
SERVICE_ACCOUNT = "urn:tenure:params:scim:schemas:core:1.0:ServiceAccount"
GOV = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

EXAMPLES = int(os.environ.get("TENURE_FUZZ_EXAMPLES", "50"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# A 403 whose detail is a Cedar decision (app.policy.engine Decision.explain).
_POLICY = ("denied by ", "no policy permits", "policy evaluation failed")

Body = dict[str, Any] | bytes


# --- values -------------------------------------------------------------------


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


HUGE_INTS = st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, -(10**30), 10**400])
NASTY_TEXT = st.sampled_from(
    [
        "a\x00b",
        "x" * 513,
        "İ" * 300,
        "é" * 512,
        "",
        " ",
        "true",
        "False",
        "null",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00+14:00",
        "2026-13-45T25:61:61Z",
        "2026-12-01T00:00:00Z",
        "bulkId:a",
        "bulkId:zz",
        "%00",
        "\\u0000",
        "'; DROP TABLE resources; --",
        "😀" * 40,
        "agent",
        "service_account",
        "production",
        USER,
        GOV,
        "999999999999d",
        "P99999999999999D",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HUGE_INTS,
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    NASTY_TEXT,
)


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each drawn in proportion to its weight."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(lambda i: table[i])


def texts() -> st.SearchStrategy[str]:
    """Short text, edge-case text, and text around the widths of columns (200, 500, 512)."""
    around = st.sampled_from([200, 500, 512]).flatmap(lambda w: st.integers(w - 1, w + 2))
    return weighted(
        (3, st.text(min_size=1, max_size=16)),
        (1, NASTY_TEXT),
        (1, st.tuples(around, st.sampled_from("xİé😀")).map(lambda p: p[1] * p[0])),
    )


def case_variants(names: list[str]) -> st.SearchStrategy[str]:
    """A name as clients spell it: as defined, upper, lower, swapped, capitalised."""
    return st.sampled_from(names).flatmap(
        lambda name: st.sampled_from(
            [name, name.upper(), name.lower(), name.swapcase(), name[:1].upper() + name[1:]]
        )
    )


def json_values(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=10,
    )


def deep_value(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


USER_ATTRS = [
    "userName", "name", "name.givenName", "displayName", "nickName", "title", "userType",
    "active", "emails", "phoneNumbers", "addresses", "groups", "externalId", "id", "meta",
    "schemas", "password", "x509Certificates", "roles", "entitlements", "locale", ENTERPRISE,
    f"{ENTERPRISE}:manager", f"{ENTERPRISE}:employeeNumber", f"{USER}:userName", GOV,
    f"{GOV}:kind", f"{GOV}:expiresAt",
]  # fmt: skip
GROUP_ATTRS = ["displayName", "members", "externalId", "id", "meta", "schemas", f"{GROUP}:members"]
NHI_ATTRS = [
    "name", "displayName", "description", "active", "owners", "entitlements", "roles",
    "groups", "x509Certificates", "externalId", "schemas", "id", "meta", GOV,
    f"{GOV}:expiresAt", f"{GOV}:hardExpiresAt", f"{GOV}:kind", f"{GOV}:purpose",
    f"{GOV}:scopes", f"{GOV}:sponsors", f"{GOV}:environment", f"{GOV}:lastAttestedAt",
    f"{GOV}:lastActivityAt", f"{GOV}:lifecycleState", f"{GOV}:suspendedReason",
]  # fmt: skip
AGENT_ATTRS = [*NHI_ATTRS, "agentUserName", "agentType", "subject", "parent"]
GOV_SUBS = [
    "kind", "purpose", "expiresAt", "hardExpiresAt", "scopes", "sponsors", "environment",
    "lastAttestedAt", "lastActivityAt", "lifecycleState", "suspendedReason", "registeredBy",
]  # fmt: skip


class World:
    """One tenant with a User, a Group, an Agent and a ServiceAccount, and a token that may
    touch all four; ``send`` checks each answer against the properties above."""

    TYPES: ClassVar[dict[str, tuple[str, list[str]]]] = {
        "Users": (USER, USER_ATTRS),
        "Groups": (GROUP, GROUP_ATTRS),
        "Agents": (AGENT, AGENT_ATTRS),
        "ServiceAccounts": (SERVICE_ACCOUNT, NHI_ATTRS),
    }

    def __init__(self, harness: Harness, tenant: TenantAccess) -> None:
        self.harness, self.tenant = harness, tenant
        self.seen: Counter[int] = Counter()  # statuses the examples reached (printed with -s)
        self.headers = tenant.headers("idp,platform")
        self.user = create(harness, tenant, "Users", user("fuzz.user"))["id"]
        self.group = self._create(
            "Groups", {"schemas": [GROUP], "displayName": "fuzz", "members": [{"value": self.user}]}
        )
        self.agent = self._create("Agents", {"schemas": [AGENT], "name": "fuzz-agent"})
        self.service_account = self._create(
            "ServiceAccounts", {"schemas": [SERVICE_ACCOUNT], "name": "fuzz-sa"}
        )
        self.ids = {
            "Users": self.user,
            "Groups": self.group,
            "Agents": self.agent,
            "ServiceAccounts": self.service_account,
        }

    def _create(self, endpoint: str, body: dict[str, Any]) -> str:
        response = self.harness.client.post(f"/scim/v2/{endpoint}", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    # --- strategies that know the world's ids --------------------------------

    def references(self) -> st.SearchStrategy[Any]:
        ids = st.sampled_from([*self.ids.values(), "bulkId:a", "bulkId:b", "nobody"])
        return st.one_of(
            ids.map(lambda i: {"value": i}),
            st.builds(lambda i, d: {"value": i, "display": d}, ids, SCALARS),
            ids.map(lambda i: [{"value": i}]),
            ids,
        )

    def values(self, names: list[str]) -> st.SearchStrategy[Any]:
        """Any JSON value, shaped or not like an attribute of ``names``."""
        keys = st.one_of(case_variants(names), case_variants(GOV_SUBS), st.text(max_size=8))
        return weighted(
            (3, json_values(keys)),
            (2, self.references()),
            (
                1,
                st.dictionaries(
                    case_variants(GOV_SUBS), json_values(keys) | NASTY_TEXT, max_size=4
                ),
            ),
            (1, st.integers(MAX_JSON_DEPTH - 3, MAX_JSON_DEPTH + 2).map(deep_value)),
        )

    def plausible(self) -> dict[str, st.SearchStrategy[Any]]:
        """For each attribute (or PATCH path), values of its own shape, edge cases included:
        these get past type checking to what lies behind it (store, policies, lifecycle)."""
        text = texts()
        dates = st.one_of(
            st.datetimes(min_value=dt.datetime(1890, 1, 1), max_value=dt.datetime(9100, 1, 1))
            .map(lambda d: d.isoformat() + "Z"),
            st.sampled_from(["2027-01-01T00:00:00Z", "2026-11-28T09:00:00+14:00", "2026-11-28"]),
            NASTY_TEXT,
        )  # fmt: skip
        ref = self.references()
        refs = st.lists(ref, max_size=3) | ref
        governance = {
            "kind": st.sampled_from(["agent", "service_account", "workload", "bot", "robot"]),
            "purpose": text,
            "expiresAt": dates,
            "hardExpiresAt": dates,
            "lastAttestedAt": dates,
            "lastActivityAt": dates,
            "scopes": st.lists(text, max_size=3) | text,
            "sponsors": refs,
            "environment": st.sampled_from(["production", "staging", "dev"]) | text,
            "suspendedReason": text,
            "lifecycleState": st.sampled_from(["active", "suspended", "deprovisioned"]),
        }
        email = st.fixed_dictionaries(
            {"value": text},
            optional={"type": st.sampled_from(["work", "home"]), "primary": st.booleans()},
        )
        return {
            "userName": text,
            "displayName": text,
            "name": text
            | st.fixed_dictionaries({}, optional={"givenName": text, "familyName": text}),
            "name.givenName": text,
            "title": text,
            "nickName": text,
            "userType": st.sampled_from(["Agent", "Employee"]) | text,
            "active": st.booleans() | st.sampled_from(["True", "false", "yes"]),
            "externalId": text,
            "description": text,
            "emails": st.lists(email, max_size=3) | email,
            'emails[type eq "work"].value': text,
            'emails[type eq "work"]': email,
            "members": refs,
            "owners": refs,
            "groups": refs,
            "parent": ref,
            f"{ENTERPRISE}:manager": ref,
            ENTERPRISE: st.fixed_dictionaries({}, optional={"manager": ref, "department": text}),
            GOV: st.fixed_dictionaries({}, optional=governance),
            **{f"{GOV}:{name}": values for name, values in governance.items()},
        }

    def changes(self, names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
        """A few attributes (names in any case) set to plausible or arbitrary values."""
        plausible = self.plausible()
        anything = self.values(names)

        @st.composite
        def draw_changes(draw: st.DrawFn) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for _ in range(draw(st.integers(0, 4))):
                name = draw(st.sampled_from(names) | st.text(max_size=8))
                shaped = plausible.get(name)
                value = draw(shaped if shaped is not None and draw(st.booleans()) else anything)
                out[draw(case_variants([name]))] = value
            return out

        return draw_changes()

    def bodies(self, endpoint: str, *, raw: bool = True) -> st.SearchStrategy[Body]:
        """Bodies for ``endpoint``: a valid one changed, random JSON, and (``raw``) bytes."""
        urn, names = self.TYPES[endpoint]
        name_key = {"Users": "userName", "Groups": "displayName"}.get(endpoint, "name")
        base = st.builds(
            lambda name, schemas: {"schemas": schemas, name_key: name},
            st.text(min_size=1, max_size=20) | NASTY_TEXT,
            st.sampled_from([[urn], [urn, GOV], [], ["urn:bogus"]]),
        )
        changes = self.changes(names)
        text = st.one_of(
            st.integers(MAX_JSON_DEPTH - 2, 1100).map(
                lambda d: ('{"' + name_key + '": "deep", "x": ' + nested(d) + "}").encode()
            ),
            st.sampled_from([b"", b"{", b"[]", b'"x"', b"null", b'{"a":1,}', b"\xff\xfe"]),
        )
        return weighted(
            (6, st.builds(lambda b, c: {**b, **c}, base, changes)),
            (1, st.dictionaries(st.text(max_size=8), json_values(st.text(max_size=8)), max_size=4)),
            *([(1, text)] if raw else []),
        )

    # --- sending and judging -------------------------------------------------

    def send(self, method: str, url: str, body: Body | None = None, **request: Any) -> Any:
        before = snapshot(self.harness, self.tenant)
        content = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        headers = {**self.headers, "Content-Type": "application/scim+json"}
        try:
            response = self.harness.client.request(
                method, url, content=content, headers=headers, **request
            )
        except AssertionError as exc:  # the harness's own checks of what was served
            raise AssertionError(f"{method} {url} {request} {str(content)[:300]}: {exc}") from exc
        self.judge(before, response, body)
        return response

    def judge(self, before: dict[str, list[Any]], response: Any, body: Body | None) -> None:
        status = response.status_code
        self.seen[status] += 1
        shown = body if isinstance(body, bytes) else json.dumps(body)
        where = f"{response.request.method} {str(response.request.url)[:300]} {str(shown)[:300]}"
        assert status < 500, (where, status, response.text[:500])
        if status < 400:
            if status == 200 and "/Bulk" in str(response.request.url):
                self._judge_bulk(before, response, where)
            return
        error = error_of(response)
        denied = status == 403 and error["detail"].startswith(_POLICY)
        self.unchanged(before, denials=1 if denied else 0, where=f"{where} → {error}")

    def _judge_bulk(self, before: dict[str, list[Any]], response: Any, where: str) -> None:
        outcomes = response.json()["Operations"]
        denials = 0
        for outcome in outcomes:
            status = int(outcome["status"])
            assert status < 500, (where, outcome)
            if status >= 400:
                error = outcome["response"]
                assert error["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
                assert error["status"] == outcome["status"] and error["detail"], (where, outcome)
                denials += status == 403 and error["detail"].startswith(_POLICY)
        if outcomes and all(int(o["status"]) >= 400 for o in outcomes):
            # Every operation refused: nothing written but each denial's own event.
            self.unchanged(before, denials=denials, where=f"{where} → {outcomes}")

    def unchanged(self, before: dict[str, list[Any]], *, denials: int, where: str) -> None:
        after = snapshot(self.harness, self.tenant)
        for table, rows in before.items():
            if table not in ("audit_events", "audit_heads"):
                assert after[table] == rows, (where, table)
        old, new = before["audit_events"], after["audit_events"]
        assert new[: len(old)] == old, (where, "audit events changed")
        appended = new[len(old) :]
        assert len(appended) == denials, (where, appended)
        assert all(event[4] == "deny" for event in appended), (where, appended)


def fuzz(world: World, strategy: st.SearchStrategy[Any], run: Callable[[Any], None]) -> None:
    @FUZZ
    @given(strategy)
    def check(case: Any) -> None:
        run(case)

    check()
    print(f"\n{EXAMPLES} examples reached: {sorted(world.seen.items())}")


# --- the properties -------------------------------------------------------------


def test_resource_bodies_never_break_the_server(harness: Harness, tenant: TenantAccess) -> None:
    world = World(harness, tenant)
    cases = st.sampled_from(list(World.TYPES)).flatmap(
        lambda endpoint: st.tuples(
            st.just(endpoint), st.sampled_from(["POST", "PUT"]), world.bodies(endpoint)
        )
    )

    def run(case: tuple[str, str, Body]) -> None:
        endpoint, method, body = case
        url = f"/scim/v2/{endpoint}" + (f"/{world.ids[endpoint]}" if method == "PUT" else "")
        world.send(method, url, body)

    fuzz(world, cases, run)


VALID_FILTERS = [
    'userName eq "fuzz.user"',
    'name.familyName co "O\'Malley"',
    'userName sw "J" and not (title pr)',
    'meta.lastModified gt "2011-05-13T04:42:34Z"',
    'emails[type eq "work" and value co "@example.com"]',
    'emails[type eq "work"].value eq "a@example.com"',
    '(displayName eq "a" or displayName eq "b") and externalId pr',
    'members[value eq "x"] or members.type eq "User"',
    f'{GOV}:expiresAt lt "2027-01-01T00:00:00Z"',
    f'{GOV}:lifecycleState eq "active" and {GOV}:complianceIssues pr',
    f'{ENTERPRISE}:manager.value eq "x"',
    'groups.value eq "x" and active eq true',
    'owners.value eq "x" or name ew "-agent"',
    "displayName eq null",
    'meta.resourceType eq "User"',
    'id eq "x" and meta.version pr',
]
FILTER_PIECES = [
    '"', "(", ")", "[", "]", " and ", " or ", "not ", " pr", " eq ", " gt ", "\\u0000",
    "\\", '"\\u0000"', "99999999999999999999999", "1e400", '"9999-12-31T23:59:59Z"',
    '"0001-01-01T00:00:00+14:00"', "true", "null", ".", ":", "urn:", "$ref", "%", "_",
    "x" * 300, "(" * 40, ")" * 40,
]  # fmt: skip


@st.composite
def mutated_filters(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(VALID_FILTERS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "swapcase", "repeat"]))
        if action == "insert":
            piece = draw(st.sampled_from(FILTER_PIECES) | st.text(max_size=4))
            text = text[:at] + piece + text[at:]
        elif action == "delete":
            end = draw(st.integers(at, len(text)))
            text = text[:at] + text[end:]
        elif action == "swapcase":
            text = text[:at] + text[at:].swapcase()
        else:
            text = f"({text}) {draw(st.sampled_from(['and', 'or']))} not ({text})"
    return text


def filters() -> st.SearchStrategy[str]:
    return st.one_of(st.text(max_size=60), st.sampled_from(VALID_FILTERS), mutated_filters())


def test_filters_never_break_the_server(harness: Harness, tenant: TenantAccess) -> None:
    world = World(harness, tenant)
    where = st.sampled_from([*(f"/scim/v2/{e}" for e in World.TYPES), "/scim/v2"])
    cases = st.tuples(where, st.booleans(), filters())

    def run(case: tuple[str, bool, str]) -> None:
        url, by_post, text = case
        if by_post or url == "/scim/v2":
            world.send("POST", f"{url}/.search", {"schemas": [SEARCH], "filter": text})
        else:
            world.send("GET", url, params={"filter": text})

    fuzz(world, cases, run)


_NHI_PATHS = [
    "name", "displayName", "description", "active", "owners", "entitlements", "roles",
    "groups", GOV, f"{GOV}:expiresAt", f"{GOV}:hardExpiresAt", f"{GOV}:scopes",
    f"{GOV}:sponsors", f"{GOV}:kind", f"{GOV}:lastAttestedAt", f"{GOV}:environment",
    f"{GOV}:purpose", f"{GOV}:lifecycleState", "id", "meta.version",
]  # fmt: skip
PATCH_PATHS = {
    "Users": [
        "userName", "title", "name.givenName", "name", "emails", 'emails[type eq "work"].value',
        'emails[type eq "work"]', "active", "externalId", "displayName", f"{ENTERPRISE}:manager",
        ENTERPRISE, 'addresses[type eq "work"].streetAddress', "x509Certificates", "roles",
        "groups", "id", "meta.version", "schemas",
    ],
    "Groups": ["displayName", "members", 'members[value eq "x"]', "members.value", "externalId", "id"],
    "Agents": [*_NHI_PATHS, "parent", "agentType", "subject"],
    "ServiceAccounts": _NHI_PATHS,
}  # fmt: skip


def test_patch_operations_never_break_the_server(harness: Harness, tenant: TenantAccess) -> None:
    world = World(harness, tenant)
    names = sorted({*USER_ATTRS, *GROUP_ATTRS, *AGENT_ATTRS})
    plausible, anything = world.plausible(), world.values(names)

    @st.composite
    def operation(draw: st.DrawFn, endpoint: str) -> dict[str, Any]:
        """Mostly well formed (a known op and a path of the type, a value of the path's
        shape), sometimes not (any op text, mutated or random paths, any value)."""
        well_formed = draw(st.integers(0, 4)) < 4  # 0, the simplest draw, is well formed
        ops = ["add", "replace", "remove"]
        op = draw(case_variants(ops) if well_formed else case_variants(ops) | st.text(max_size=6))
        known = case_variants(PATCH_PATHS[endpoint])
        if not well_formed:
            path = draw(st.none() | mutated_filters() | st.text(max_size=10) | known)
        elif op.lower() == "remove":
            path = draw(known)
        else:
            path = draw(st.none() | known)
        out: dict[str, Any] = {"op": op} | ({} if path is None else {"path": path})
        if op.lower() == "remove" and well_formed:
            return out
        shaped = plausible.get(path) if path is not None else None
        if path is None:
            out["value"] = draw(world.changes(names))
        elif shaped is not None and well_formed:
            out["value"] = draw(shaped)
        else:
            out["value"] = draw(anything)
        return out

    def bodies(endpoint: str) -> st.SearchStrategy[Body]:
        patches = st.builds(
            lambda ops, schemas: {"schemas": schemas, "Operations": ops},
            st.lists(operation(endpoint), min_size=1, max_size=3),
            st.sampled_from([[PATCH_OP], [PATCH_OP], [], ["urn:bogus"]]),
        )
        return weighted(
            (8, patches),
            (1, st.fixed_dictionaries({"Operations": json_values(st.text(max_size=6))})),
            (1, world.bodies(endpoint)),
        )

    cases = st.sampled_from(list(World.TYPES)).flatmap(
        lambda endpoint: st.tuples(st.just(endpoint), bodies(endpoint))
    )

    def run(case: tuple[str, Body]) -> None:
        endpoint, body = case
        world.send("PATCH", f"/scim/v2/{endpoint}/{world.ids[endpoint]}", body)

    fuzz(world, cases, run)


def test_bulk_requests_never_break_the_server(harness: Harness, tenant: TenantAccess) -> None:
    world = World(harness, tenant)
    bulk_ids = st.sampled_from(["a", "b", "c"]) | st.text(max_size=4)
    endpoints = st.sampled_from(list(World.TYPES))
    paths = st.one_of(
        endpoints.map(lambda e: f"/{e}"),
        st.tuples(endpoints, st.sampled_from(["bulkId:a", "bulkId:b", "bulkId:q", "x"])).map(
            lambda p: f"/{p[0]}/{p[1]}"
        ),
        endpoints.map(lambda e: f"/{e}/{world.ids[e]}"),
        st.text(max_size=10),
    )
    # Data that names other operations' bulkIds: forward references and cycles.
    linked = st.sampled_from(["a", "b", "c"]).map(
        lambda other: {
            "schemas": [GROUP],
            "displayName": f"linked to {other}",
            "members": [{"value": f"bulkId:{other}"}],
        }
    )
    data = st.one_of(
        linked,
        world.bodies("Users", raw=False),
        world.bodies("Agents", raw=False),
        json_values(st.text(max_size=6)),
    )
    operation = st.fixed_dictionaries(
        {"method": case_variants(["POST", "PUT", "PATCH", "DELETE"]) | st.text(max_size=5)},
        optional={"path": paths, "bulkId": bulk_ids, "data": data, "version": SCALARS},
    )
    too_many = {
        "schemas": [BULK],
        "Operations": [{"method": "DELETE", "path": f"/Users/{i}"} for i in range(1001)],
    }
    bodies = st.one_of(
        st.builds(
            lambda ops, fail: (
                {"schemas": [BULK], "Operations": ops}
                | ({} if fail is None else {"failOnErrors": fail})
            ),
            st.lists(operation, max_size=5),
            st.none() | st.integers(-2, 3) | HUGE_INTS | st.text(max_size=3) | st.booleans(),
        ),
        st.just(too_many),
        st.fixed_dictionaries({"Operations": json_values(st.text(max_size=6))}),
    )

    def run(body: Body) -> None:
        world.send("POST", "/scim/v2/Bulk", body)

    fuzz(world, bodies, run)


QUERY_NAMES = [
    "startIndex", "count", "sortBy", "sortOrder", "attributes", "excludedAttributes",
    "cursor", "filter",
]  # fmt: skip


def test_list_parameters_never_break_the_server(harness: Harness, tenant: TenantAccess) -> None:
    world = World(harness, tenant)
    first = harness.client.get("/scim/v2/Users?cursor=&count=1", headers=world.headers)
    assert first.status_code == 200, first.text
    cursor = first.json().get("nextCursor") or "x"
    text_values = st.one_of(
        st.text(max_size=20),
        NASTY_TEXT,
        st.integers().map(str),
        HUGE_INTS.map(str),
        case_variants(
            ["userName", "name.givenName", "emails", "members", "ascending", "descending"]
        ),
        st.sampled_from([cursor, cursor[:-1], cursor + "x", cursor.swapcase(), ""]),
        filters(),
    )
    typed_values = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), text_values)
    names = case_variants(QUERY_NAMES) | st.text(max_size=6)
    where = st.sampled_from([*(f"/scim/v2/{e}" for e in World.TYPES), "/scim/v2"])
    cases = st.one_of(
        st.tuples(st.just("GET"), where, st.dictionaries(names, text_values, max_size=4)),
        st.tuples(st.just("POST"), where, st.dictionaries(names, typed_values, max_size=4)),
        st.tuples(
            st.just("ONE"),
            st.sampled_from(list(World.TYPES)),
            st.dictionaries(case_variants(["attributes", "excludedAttributes"]), text_values),
        ),
    )

    def run(case: tuple[str, str, dict[str, Any]]) -> None:
        how, where, params = case
        if how == "GET" and where != "/scim/v2":
            world.send("GET", where, params=params)
        elif how == "ONE":
            world.send("GET", f"/scim/v2/{where}/{world.ids[where]}", params=params)
        else:
            world.send("POST", f"{where}/.search", {"schemas": [SEARCH], **params})

    fuzz(world, cases, run)


ADMIN_FIELDS = {
    ("POST", "/admin/tokens"): [
        "name", "roles", "expiresIn", "owner", "purpose", "kinds", "environments", "agent",
    ],
    ("PUT", "/admin/settings"): [
        "agentLifetimeDays", "serviceAccountLifetimeDays", "hardCapDays", "delegationMaxDepth",
        "attestationDays", "teardownGraceHours", "orphanGraceHours", "orphanHandover",
        "blastRadiusPercent", "attestationGraceHours", "warningDays", "alertEmails",
        "auditRetentionDays", "identityProvider", "agentUsers",
    ],
    ("PUT", "/admin/webhook"): ["url"],
    ("PUT", "/admin/smtp"): ["host", "port", "starttls", "username", "password", "from"],
    ("POST", "/admin/policies"): ["policy"],
    ("POST", "/admin/policies/evaluate"): [
        "method", "path", "data", "principal", "reason", "ifMatch",
    ],
}  # fmt: skip
ADMIN_VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.integers(-5, 4000),
    st.sampled_from(["idp", "platform,admin", "agent", "P30D", "90d", "okta", "/Agents", "POST"]),
    st.sampled_from(["https://hooks.example/x", "mail.example", "a@example.com"]),
    st.sampled_from(['@id("x") forbid(principal, action, resource);', "permit(", '@id("")']),
    st.dictionaries(
        st.sampled_from(["kind", "userType", "userNamePattern", "group", "owner", "roles"]),
        SCALARS | st.sampled_from(["(", "^svc-", "[a-", "agent"]),
        max_size=3,
    ),
)


def test_admin_bodies_never_break_the_server(harness: Harness, tenant: TenantAccess) -> None:
    """Not SCIM, but the same edge: tokens, settings, webhook, SMTP and policies."""
    world = World(harness, tenant)
    world.headers = tenant.headers("admin")
    owner = tenant.owner()
    bases: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/admin/tokens"): {"name": "ci", "roles": "platform", "owner": owner, "purpose": "t"},
        ("PUT", "/admin/settings"): {},
        ("PUT", "/admin/webhook"): {"url": "https://hooks.example/x"},
        ("PUT", "/admin/smtp"): {"host": "mail.example", "from": "a@example.com"},
        ("POST", "/admin/policies"): {
            "policy": '@id("fuzz") forbid(principal, action, resource) when { false };'
        },
        ("POST", "/admin/policies/evaluate"): {
            "method": "POST", "path": "/Agents", "data": {"schemas": [AGENT], "name": "x"},
        },
    }  # fmt: skip
    text = texts()
    days = st.integers(-10, 4000) | HUGE_INTS
    plausible: dict[str, st.SearchStrategy[Any]] = {
        "name": text,
        "roles": st.sampled_from(["idp", "platform", "auditor,admin", "operator", ""]) | text,
        "expiresIn": st.sampled_from(["90d", "P30D", "PT1H", "0d", "P3661D"]) | text,
        "owner": st.sampled_from([owner, world.group, world.agent, "nobody"]),
        "purpose": text,
        "kinds": st.lists(st.sampled_from(["agent", "bot", "robot"]), max_size=3) | text,
        "environments": st.lists(text, max_size=3) | text,
        "agent": st.sampled_from([world.agent, world.user, "nobody"]),
        "warningDays": st.lists(days, max_size=4),
        "alertEmails": st.lists(st.sampled_from(["a@example.com", "not an address"]) | text),
        "orphanHandover": st.booleans(),
        "identityProvider": st.sampled_from(["okta", "entra", "generic", "nope"]),
        "url": st.sampled_from(["https://hooks.example/x", "ftp://x", "http://[::1]:99999/"]),
        "host": st.sampled_from(["mail.example", "127.0.0.1", "-bad-"]) | text,
        "port": st.integers(-1, 70000) | HUGE_INTS,
        "starttls": st.booleans(),
        "from": st.sampled_from(["a@example.com", "nobody"]) | text,
        "policy": st.sampled_from(
            ['@id("fuzz") forbid(principal, action, resource) when { false };', "permit(", ""]
        ),
        "method": st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "SUSPEND", "TEARDOWN", "GET"]),
        "path": st.sampled_from(["/Agents", f"/Agents/{world.agent}", "/Users", "/x"]) | text,
        "data": world.bodies("Agents", raw=False),
        "principal": st.fixed_dictionaries(
            {}, optional={"roles": st.lists(text, max_size=2), "kinds": st.lists(text, max_size=2)}
        ),
        "reason": st.sampled_from(["request", "expired", "orphaned", "unattested"]) | text,
        "agentUsers": ADMIN_VALUES,
    }

    @st.composite
    def admin_body(draw: st.DrawFn, target: tuple[str, str]) -> dict[str, Any]:
        out = dict(bases[target])
        for _ in range(draw(st.integers(0, 3))):
            known = draw(st.integers(0, 9)) < 9
            name = draw(st.sampled_from(ADMIN_FIELDS[target]) if known else st.text(max_size=6))
            shaped = plausible.get(name)
            if shaped is None and name.endswith(("Days", "Hours", "Depth", "Percent")):
                shaped = days
            out[name] = draw(shaped if shaped is not None and draw(st.booleans()) else ADMIN_VALUES)
        return out

    cases = st.sampled_from(sorted(ADMIN_FIELDS)).flatmap(
        lambda target: st.tuples(
            st.just(target),
            st.sampled_from(["PATCH", "PUT"] if "settings" in target[1] else [target[0]]),
            admin_body(target),
        )
    )

    def run(case: tuple[tuple[str, str], str, dict[str, Any]]) -> None:
        (_, url), method, body = case
        world.send(method, url, body)

    fuzz(world, cases, run)
