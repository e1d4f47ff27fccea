"""The server Tenure is compared with: scim2-server's ASGI app over its in-memory storage,
served by the same uvicorn as ``tenure serve`` (uvloop, httptools, no access log).

``python scripts/bench/_peer.py PORT TOKEN``; it answers until SIGTERM.
"""

from __future__ import annotations

import sys

import _pathfix  # noqa: F401  (first: this folder's http.py is not the standard library's)
import uvicorn
from scim2_models import ScimProvider
from scim2_server.applications.asgi import ASGIApplication
from scim2_server.memory import AsyncInMemoryStorage
from scim2_server.service import ScimService
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)


class _Bearer:
    """The one check the peer adds: the same bearer token the client sends Tenure."""

    def __init__(self, app: ASGIApplication, token: str) -> None:
        self._app, self._expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != (
            self._expected
        ):
            await send({"type": "http.response.start", "status": 401, "headers": []})  # type: ignore[operator]
            await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]
            return
        await self._app(scope, receive, send)  # type: ignore[arg-type]


def main() -> None:
    port, token = int(sys.argv[1]), sys.argv[2]
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(),
        load_default_resource_types().values(),
        config=load_default_service_provider_config(),
    )
    app = ASGIApplication(AsyncInMemoryStorage(), provider, ScimService(provider))
    config = uvicorn.Config(
        _Bearer(app, token),
        host="127.0.0.1",
        port=port,
        log_config=None,
        log_level="warning",
        access_log=False,
        server_header=False,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
