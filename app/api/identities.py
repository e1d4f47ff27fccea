"""``/admin/identities``: what a tenant administrator does to one governed identity."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from app.api.media import scim_response
from app.api.services import scim_base_url, services
from app.domain.actor import Actor
from app.scim.render import render

AnyRequest = Request[Any, Any, Any]


class IdentityAdminController(Controller):
    path = "/admin/identities"

    @post("/{resource_id:str}/restore", status_code=200)
    async def restore(
        self, request: AnyRequest, actor: NamedDependency[Actor], resource_id: FromPath[str]
    ) -> Response[bytes]:
        """A deleted Agent or ServiceAccount back within its tenant's teardown grace.

        As it was before the DELETE, with its Groups and the subtree that went
        with it; Cedar decides (``tenure.restore.admin``) and the audit log
        records it. 200 with the SCIM resource; 404 if nothing of that id can
        be restored, 409 if its grace has ended or it went with an ancestor.
        """
        restored = await services(request).provisioning.restore(actor, resource_id)
        resource_type = services(request).registry.resource_type(restored.resource_type)
        document = render(
            restored, resource_type, scim_base_url(request), services(request).clock.now()
        )
        return scim_response(document, 200, {"ETag": restored.etag})
