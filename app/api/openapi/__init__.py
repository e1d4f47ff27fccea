"""``/docs``: the OpenAPI document of what the server takes and answers, and browsers for it."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    RedocRenderPlugin,
    SwaggerRenderPlugin,
)

from app.api.openapi.document import describe
from app.api.services import services


class _Described:
    """Litestar's document with ``describe`` laid over it, built once: routes and the
    registry are fixed once the app serves."""

    def __init__(self) -> None:
        self._document: dict[str, Any] | None = None

    def __call__(
        self, request: Request[Any, Any, Any], generated: dict[str, Any]
    ) -> dict[str, Any]:
        if self._document is None:
            self._document = describe(generated, services(request).registry)
        return self._document


def _showing(plugin: type[OpenAPIRenderPlugin], described: _Described) -> OpenAPIRenderPlugin:
    """``plugin`` rendering the described document instead of Litestar's own (the UIs embed
    the document in their page rather than fetch /docs/openapi.json)."""

    class Showing(plugin):  # type: ignore[misc, valid-type]
        def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
            return super().render(request, described(request, openapi_schema))

    return Showing()


def openapi_config(title: str, version: str) -> OpenAPIConfig:
    """Under /docs: Redoc at /docs, Swagger UI at /docs/swagger, the JSON at /docs/openapi.json."""
    described = _Described()
    return OpenAPIConfig(
        title=title,
        version=version,
        path="/docs",
        use_handler_docstrings=True,
        render_plugins=[
            _showing(plugin, described)
            for plugin in (RedocRenderPlugin, SwaggerRenderPlugin, JsonRenderPlugin)
        ],
    )
