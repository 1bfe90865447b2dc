"""The route table of the local API front, read from the Chalice apps themselves.

API Gateway (REST) matches a path against its resource tree segment by segment, a literal
segment winning over a {variable}, which wins over a greedy {proxy+}. `RouteTable.match`
does the same over the path templates of `app.routes`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from devkit.lambda_executor import function_environment
from infra.declarations import ApiDeclaration

LITERAL, VARIABLE, GREEDY = 2, 1, 0


@dataclass(frozen=True)
class Route:
    """One resource path template and the methods it serves, for one declared API."""

    template: str
    methods: frozenset[str]
    api: ApiDeclaration

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(part for part in self.template.split("/") if part)

    @property
    def public(self) -> bool:
        """Served without the authorizer: the API has none, or declares this path public."""
        return self.api.authorizer is None or self.template in self.api.public_paths


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class ChaliceApp:
    """What the front needs from a Chalice app: its routes and its binary media types."""

    routes: Mapping[str, Mapping[str, Any]]
    binary_types: tuple[str, ...]


def load_chalice_app(api: ApiDeclaration, environment: Mapping[str, str]) -> ChaliceApp:
    """Import the declared app module (with its function's environment, read at import time)."""
    with function_environment(environment):
        module = importlib.import_module(api.app_module)
    app = module.app
    return ChaliceApp(routes=app.routes, binary_types=tuple(app.api.binary_types))


class RouteTable:
    """Every route of every declared API, matched as API Gateway matches resources."""

    def __init__(self, routes: list[Route]) -> None:
        seen: dict[str, Route] = {}
        for route in routes:
            if route.template in seen and seen[route.template].api != route.api:
                raise ValueError(f"two APIs declare {route.template}")
            seen[route.template] = route
        self._routes = list(seen.values())

    @classmethod
    def from_apps(cls, apps: Mapping[ApiDeclaration, ChaliceApp]) -> RouteTable:
        """The table of the Chalice apps' routes; a public path the app lacks is an error."""
        for api, app in apps.items():
            missing = set(api.public_paths) - set(app.routes)
            if missing:
                raise ValueError(f"{api.app_module} has no route {sorted(missing)}, declared public in APIS")
        return cls([
            Route(template, frozenset(methods), api)
            for api, app in apps.items()
            for template, methods in app.routes.items()
        ])

    def match(self, path: str) -> RouteMatch | None:
        """The most specific route whose template matches `path`, with its path parameters."""
        parts = [unquote(part) for part in path.split("/") if part]
        best: tuple[tuple[int, ...], RouteMatch] | None = None
        for route in self._routes:
            scored = _match(route, parts)
            if scored is not None and (best is None or scored[0] > best[0]):
                best = scored
        return best[1] if best else None


def _match(route: Route, parts: list[str]) -> tuple[tuple[int, ...], RouteMatch] | None:
    segments = route.segments
    params: dict[str, str] = {}
    score: list[int] = []
    for index, segment in enumerate(segments):
        if segment.startswith("{") and segment.endswith("+}"):
            if index >= len(parts):
                return None
            params[segment[1:-2]] = "/".join(parts[index:])
            score.append(GREEDY)
            return tuple(score), RouteMatch(route, params)
        if index >= len(parts):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            params[segment[1:-1]] = parts[index]
            score.append(VARIABLE)
        elif segment == parts[index]:
            score.append(LITERAL)
        else:
            return None
    if len(parts) != len(segments):
        return None
    return tuple(score), RouteMatch(route, params)
