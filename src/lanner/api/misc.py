"""Health, ping and the server configuration that clients read the version from."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import PlainTextResponse

from lanner import __version__
from lanner.api import models
from lanner.api.context import ServicesDep
from lanner.api.models import ok
from lanner.api.wire import JsonResponse

# The Kestra API version whose shapes Lanner serves; clients read it from /configs.
KESTRA_API_VERSION = "1.3.0"

health_router = APIRouter(tags=["Health"], default_response_class=JsonResponse)
router = APIRouter(tags=["Misc"], default_response_class=JsonResponse)


@health_router.get("/health", summary="Liveness and readiness", responses=ok(models.Health))
async def health() -> Any:
    return {"status": "UP", "version": __version__}


@health_router.get("/ping", summary="Kestra's ping", response_class=PlainTextResponse)
async def ping() -> PlainTextResponse:
    return PlainTextResponse("pong")


@router.get("/configs", summary="Server configuration", responses=ok(models.Configs))
async def configs(services: ServicesDep) -> Any:
    return {
        "uuid": "lanner",
        "version": KESTRA_API_VERSION,
        "commitId": f"lanner-{__version__}",
        "isCustomDashboardsEnabled": False,
        "isTaskRunEnabled": False,
        "isAnonymousUsageEnabled": False,
        "isTemplateEnabled": False,
        "isUiAnonymousUsageEnabled": False,
        "isAiEnabled": False,
        "isConcurrencyViewEnabled": False,
        "environment": {"name": "lanner"},
        "url": services.settings.public_url,
        "preview": {"initial": 100, "max": 5000},
        "isBasicAuthEnabled": services.settings.is_basic_auth_enabled,
        "isBasicAuthInitialized": services.settings.is_basic_auth_enabled,
        "systemNamespace": "system",
        "hiddenLabelsPrefixes": [],
        "resourceToFilters": [],
        "pluginsHash": 0,
    }
