"""/healthz for load balancers and process managers: 200 when the database answers, 503 if not."""

from __future__ import annotations

from flask import Blueprint

from service import store
from service.web.extensions import current_runtime

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    runtime = current_runtime()
    try:
        reachable = store.is_reachable(runtime.engine)
    except store.StoreError:
        reachable = False  # the first connection (to check the schema) failed
    if reachable:
        return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
    return (
        "store: database unreachable\n",
        503,
        {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"},
    )
