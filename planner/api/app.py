"""The HTTP JSON API: the CLI's commands as ``GET`` routes, with exactly the CLI's ``--json`` output.

Each route reads its command's flags from the query with the CLI's own parser
(:mod:`planner.api.params`) and answers what the command's ``json_answer`` returns, the function its
``--json`` prints (``planner/cli/<command>.py``), with ``allow_local=False``. A bad value answers 400 with the CLI's message as JSON
(``{"error": ..., "parameter": ...}``); the Hub being unreachable, slow or rate-limiting answers 503.
Nothing here reads the server's GPUs or files: models are catalog ids or Hub ids.

Answers for catalog models are deterministic for a given build, so they are kept in one LRU cache
(:class:`AnswerCache`, bounded by entries and bytes) and sent with ``Cache-Control``; a cached answer
is sent from the event loop, a new one is computed in a worker thread.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from planner.api.badge import error_badge, fit_badge
from planner.api.params import ROUTES, flags, parse_query
from planner.catalog import find_entry
from planner.cli.args import request_from_args
from planner.errors import HubOfflineError, HubRateLimitError, HubTimeoutError, PlannerError, RequestError
from planner.fit.answer import answer_plan
from planner.links import page_url
from planner.request import PlanRequest, resolve

#: Where the badge links (the hosted page); ``VRAM_PLANNER_PAGE_URL`` overrides it.
DEFAULT_PAGE_URL = "http://localhost:8501/"
JSON_CACHE = "public, max-age=300"
BADGE_CACHE = "public, max-age=3600, stale-while-revalidate=86400"
ERROR_CACHE = "no-store"
#: The badge takes the estimate's flags (it draws that plan's fit).
BADGE_COMMAND = "estimate"

DESCRIPTION = """Will this model fit on my GPU? The VRAM Planner's CLI commands over HTTP.

Every route takes the CLI command's flags as query parameters (`kv-dtype` or `kv_dtype`; a switch
such as `enforce-eager` as `on`/`off`; `add-model` may be repeated) and answers exactly what
`python -m planner <command> ... --json` prints. Memory is in integer bytes (GiB = 2^30 bytes where
a label says GiB). Errors: status 400 with `{"error": <the CLI's message>, "parameter": <its name>}`;
503 when the Hugging Face Hub cannot answer in time. Models are catalog ids or Hugging Face ids;
`live` (the server's own GPUs) is not available over HTTP.
"""


def page_base() -> str:
    return os.environ.get("VRAM_PLANNER_PAGE_URL", DEFAULT_PAGE_URL)


def payload(command: str, args: argparse.Namespace) -> Any:
    """The command's ``--json`` answer (its CLI module's ``json_answer``), never reading a local file."""
    module = importlib.import_module(f"planner.cli.{command}")
    return module.json_answer(args, allow_local=False)


# --------------------------------------------------------------------------------------------- answers


def _cacheable(args: argparse.Namespace) -> bool:
    """Only answers that depend on nothing but this build: no model, or catalog models only."""
    models = [
        getattr(args, "model", None),
        getattr(args, "draft_model", None),
        *(getattr(args, "add_model", None) or ()),
    ]
    return all(m is None or find_entry(m) is not None for m in models)


class AnswerCache:
    """Least recently used answers, bounded by entries and by bytes (used from the event loop only)."""

    def __init__(self, max_entries: int = 2048, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self.bytes = 0

    def get(self, key: Hashable) -> bytes | None:
        body = self._items.get(key)
        if body is not None:
            self._items.move_to_end(key)
        return body

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes // 8:
            return  # one answer never takes more than an eighth of the cache
        old = self._items.pop(key, None)
        self.bytes -= len(old) if old is not None else 0
        self._items[key] = body
        self.bytes += len(body)
        while len(self._items) > self.max_entries or self.bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._items)


CACHE = AnswerCache()


def _render(command: str, args: argparse.Namespace) -> bytes:
    return json.dumps(payload(command, args)).encode()


def _error(exc: PlannerError) -> JSONResponse:
    body: dict[str, Any] = {"error": str(exc)}
    if isinstance(exc, RequestError):
        body["parameter"] = exc.parameter.replace("_", "-")  # the query's spelling
    headers = {"Cache-Control": ERROR_CACHE}
    status = 400
    if isinstance(exc, (HubOfflineError, HubTimeoutError, HubRateLimitError)):
        status = 503
        retry = getattr(exc, "retry_after", None)
        if retry:
            headers["Retry-After"] = str(retry)
    return JSONResponse(body, status_code=status, headers=headers)


async def answer(command: str, http: Request) -> Response:
    """One route's JSON: from the cache (a key seen before was valid then), else parsed and computed.

    The query is parsed on the event loop (cheap; bad input is refused before any work); the
    computation runs in a worker thread; the event loop only sends cached answers.
    """
    items = tuple(http.query_params.multi_items())
    raw_key = (command, items)
    body = CACHE.get(raw_key)
    if body is None:
        try:
            args = parse_query(command, items)
            body = await run_in_threadpool(_render, command, args)
        except PlannerError as exc:
            return _error(exc)
        if _cacheable(args):
            CACHE.put(raw_key, body)
    return Response(body, media_type="application/json", headers={"Cache-Control": JSON_CACHE})


def _parameters(command: str) -> dict[str, Any]:
    """OpenAPI query parameters for a command's flags (the handlers read the query themselves)."""
    out = []
    for flag in flags(command):
        text = flag.help
        if flag.name == "live":
            text = "not available over HTTP (the server's GPUs are not yours); refused when on"
        elif flag.switch:
            text += " (on/off)"
        if flag.repeat:
            text += " (may be repeated)"
        if flag.aliases:
            text += f" (also {', '.join(flag.aliases)})"
        out.append(
            {
                "name": flag.name,
                "in": "query",
                "required": flag.required,
                "schema": {"type": "string"},
                "description": text.replace("%%", "%"),
            }
        )
    return {"parameters": out}


_SUMMARIES = {
    "estimate": "Memory per component, and the fit when a GPU is given (estimate --json)",
    "fit": "Every catalog model x format that fits a GPU (fit --json)",
    "recommend": "What to run on a GPU, best expected quality first (recommend --json)",
    "gpus": "The GPU catalog, or one GPU (gpus --json)",
    "params": "A model's parameters, tensor by tensor (params --json)",
}


def create_app() -> FastAPI:
    """The API (``python -m planner serve`` runs it with uvicorn).

    Handlers take the raw request and read every parameter from it (so unknown and repeated ones
    are refused, not ignored); the parameters are declared for the OpenAPI docs only.
    """
    app = FastAPI(
        title="VRAM Planner API", version="1", description=DESCRIPTION, docs_url="/docs", redoc_url=None
    )

    for command in ROUTES:
        app.add_api_route(
            f"/v1/{command}",
            _endpoint(command),
            methods=["GET"],
            summary=_SUMMARIES[command],
            openapi_extra=_parameters(command),
        )
    app.add_api_route(
        "/v1/badge.svg",
        badge_response,
        methods=["GET"],
        summary="An SVG fit badge for a model card, linking to the page with the same plan",
        response_class=Response,
        openapi_extra=_parameters(BADGE_COMMAND),
    )
    return app


def _endpoint(route: str) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        return await answer(route, request)

    endpoint.__name__ = route
    return endpoint


async def badge_response(request: Request) -> Response:
    """The badge SVG (200 also for a bad plan, as badge services do: an <img> shows no error body)."""
    http = request
    key = ("badge", tuple(sorted(http.query_params.multi_items())), page_base())
    svg = CACHE.get(key)
    cache = BADGE_CACHE
    if svg is None:
        try:
            args = parse_query(BADGE_COMMAND, http.query_params.multi_items())
            body = await run_in_threadpool(_badge_svg, request_from_args(args))
            if _cacheable(args):
                CACHE.put(key, body)
            svg = body
        except PlannerError as exc:
            name = f"{exc.parameter}: " if isinstance(exc, RequestError) else ""
            svg = error_badge(f"{name}{exc}").svg().encode()
            cache = ERROR_CACHE
    etag = '"' + hashlib.sha256(svg).hexdigest()[:32] + '"'
    headers = {"Cache-Control": cache, "ETag": etag}
    if http.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(svg, media_type="image/svg+xml; charset=utf-8", headers=headers)


def _badge_svg(request: PlanRequest) -> bytes:
    plan = resolve(request, allow_local=False, need_budget=True)
    _, fit = answer_plan(plan)
    assert fit is not None and plan.budget is not None
    catalog = find_entry(plan.spec.name) is not None
    linked = plan.request.with_(
        model=plan.spec.name if catalog else request.model,
        format=plan.format.id,
        engine=plan.engine,
        gpu=plan.budget.gpu.id if plan.budget.gpu is not None else None,
    )
    link = page_url(page_base(), linked, "catalog" if catalog else "hub")
    return fit_badge(plan, fit, link).svg().encode()
