"""Dependencies shared by the routers: settings, the one Temporal client, the store, the
template renderer, the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import Client

from activities.rendering import RenderPool
from api.problems import Problem
from observability import logs
from settings import Settings
from store.db import Store

_bearer = HTTPBearer(auto_error=False)


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_client(request: Request) -> Client:
    return request.app.state.client  # type: ignore[no-any-return]


def get_store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def get_renderer(request: Request) -> RenderPool:
    return request.app.state.renderer  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Caller:
    workspace: str
    actor: str


def get_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None:
        raise Problem(401, "Unauthorized", "send 'Authorization: Bearer <api key>'")
    owner = request.app.state.api_keys.get(credentials.credentials)
    if owner is None:
        raise Problem(401, "Unauthorized", "this API key is not known")
    # The request's log lines name its workspace and the ids of its path.
    logs.note(workspace=owner.workspace, **request.path_params)
    return Caller(workspace=owner.workspace, actor=owner.user)


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ClientDep = Annotated[Client, Depends(get_client)]
StoreDep = Annotated[Store, Depends(get_store)]
RendererDep = Annotated[RenderPool, Depends(get_renderer)]
CallerDep = Annotated[Caller, Depends(get_caller)]
