"""Mount the gateway's endpoints (raw Starlette routes: no per-request model validation
overhead; the bodies are checked by hand with errors in each API's own shape)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from thrifty.gateway import anthropic_api, openai_api

ROUTES = [
    Route("/v1/chat/completions", openai_api.chat_completions, methods=["POST"]),
    Route("/v1/models", openai_api.list_models, methods=["GET"]),
    Route("/v1/embeddings", openai_api.embeddings, methods=["POST"]),
    Route("/v1/messages", anthropic_api.messages, methods=["POST"]),
]


def install_gateway(app: Starlette) -> None:
    """Put the gateway's routes first: they take nearly all the traffic, and a router tries
    routes in order (behind the admin API's ~90 routes, matching cost a tenth of a call)."""
    app.router.routes[:0] = ROUTES
