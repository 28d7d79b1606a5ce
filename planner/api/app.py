"""The HTTP JSON API: the CLI's commands as ``GET`` routes, with exactly the CLI's ``--json`` output.

Each route reads its command's flags from the query (:mod:`planner.api.params`), builds the same
:class:`~planner.request.PlanRequest`, and calls the function the CLI calls for ``--json``:
``plan_json`` (estimate), ``catalog_fit(...).to_dict()`` (fit), ``recommend(...).to_dict(top=)``
(recommend) and ``gpu_to_dict`` (gpus). A bad value answers 400 with the CLI's message as JSON
(``{"error": ..., "parameter": ...}``); the Hub being unreachable, slow or rate-limiting answers 503.
Nothing here reads the server's GPUs or files: models are catalog ids or Hub ids.

Answers for catalog models are deterministic for a given build, so they are kept in one LRU cache
(:class:`AnswerCache`, bounded by entries and bytes) and sent with ``Cache-Control``; a cached answer
is sent from the event loop, a new one is computed in a worker thread.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from planner.api.badge import error_badge, fit_badge
from planner.api.params import (
    ESTIMATE,
    FIT,
    FIT_EXTRA,
    GPUS_EXTRA,
    RECOMMEND_EXTRA,
    choice,
    parse_query,
)
from planner.catalog import find_entry
from planner.errors import HubOfflineError, HubRateLimitError, HubTimeoutError, PlannerError, RequestError
from planner.fit.answer import answer_plan, plan_json
from planner.links import page_url
from planner.request import PlanRequest, resolve

#: Where the badge links (the hosted page); ``VRAM_PLANNER_PAGE_URL`` overrides it.
DEFAULT_PAGE_URL = "http://localhost:8501/"
JSON_CACHE = "public, max-age=300"
BADGE_CACHE = "public, max-age=3600, stale-while-revalidate=86400"
ERROR_CACHE = "no-store"
_BADGE_FLAGS = ("model", "format", "gpu", "vram", "gpus", "engine", "context", "batch", "kv-dtype")

DESCRIPTION = """Will this model fit on my GPU? The VRAM Planner's CLI commands over HTTP.

Every route takes the CLI command's flags as query parameters (`kv-dtype` or `kv_dtype`) and
answers exactly what `python -m planner <command> ... --json` prints. Memory is in integer bytes
(GiB = 2^30 bytes where a label says GiB). Errors: status 400 with `{"error": <the CLI's message>,
"parameter": <its name>}`; 503 when the Hugging Face Hub cannot answer in time. Models are catalog
ids or Hugging Face ids; `live` (the server's own GPUs) is not available over HTTP.
"""


def page_base() -> str:
    return os.environ.get("VRAM_PLANNER_PAGE_URL", DEFAULT_PAGE_URL)


# --------------------------------------------------------------------------------------------- payloads
# One function per command, each the CLI's --json (see planner/cli/<command>.py's run()).


def estimate_payload(request: PlanRequest) -> dict[str, Any]:
    """``estimate --json``."""
    return plan_json(resolve(request, allow_local=False))


def fit_payload(request: PlanRequest, extra: dict[str, Any]) -> dict[str, Any]:
    """``fit --json``."""
    from planner.cli.fit import format_list
    from planner.fit.budget import FitError
    from planner.fit.catalog_fit import catalog_fit
    from planner.request import resolve_budget, resolve_settings

    budget = resolve_budget(request)
    if budget is None:
        raise FitError("fit needs a GPU: --gpu NAME, --vram SIZE or --live")
    table = catalog_fit(
        budget, resolve_settings(request), request.engine_id, format_list(extra.get("formats"))
    )
    return table.to_dict()


def recommend_payload(request: PlanRequest, extra: dict[str, Any]) -> dict[str, Any]:
    """``recommend --json``."""
    from planner.cli.recommend import DEFAULT_TOP, required_budget
    from planner.recommend.expected import BENCHMARKS, DEFAULT_BENCHMARK
    from planner.recommend.filters import Filters
    from planner.recommend.ranking import recommend
    from planner.request import resolve_settings

    budget = required_budget(request)
    benchmark = choice("benchmark", extra.get("benchmark", DEFAULT_BENCHMARK), BENCHMARKS)
    filters = Filters(
        families=extra.get("family") or (),
        licenses=extra.get("license") or (),
        min_context=extra.get("min-context"),
    )
    result = recommend(
        budget,
        resolve_settings(request),
        request.engine_id,
        formats=extra.get("formats"),
        filters=filters,
        benchmark=benchmark,
    )
    return result.to_dict(top=extra.get("top", DEFAULT_TOP))


def gpus_payload(extra: dict[str, Any]) -> Any:
    """``gpus --json`` (a list, or one GPU with ``query``)."""
    from planner.hardware.gpus import FORMS, find_gpu, load_gpus
    from planner.hardware.report import gpu_to_dict

    if "query" in extra:
        return gpu_to_dict(find_gpu(extra["query"]))
    form = choice("form", extra["form"], FORMS) if "form" in extra else None
    return [gpu_to_dict(g) for g in load_gpus() if form is None or g.form == form]


# --------------------------------------------------------------------------------------------- answers


def _cacheable(request: PlanRequest) -> bool:
    """Only answers that depend on nothing but this build: no model, or a catalog model."""
    return request.model is None or find_entry(request.model) is not None


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


_ROUTES: dict[str, tuple[tuple[str, ...], tuple[str, ...], Callable[..., Any]]] = {
    "estimate": (ESTIMATE, (), lambda q: estimate_payload(q.request)),
    "fit": (FIT, FIT_EXTRA, lambda q: fit_payload(q.request, q.extra)),
    "recommend": (FIT, RECOMMEND_EXTRA, lambda q: recommend_payload(q.request, q.extra)),
    "gpus": ((), GPUS_EXTRA, lambda q: gpus_payload(q.extra)),
}


def _render(route: str, key: tuple[tuple[str, str], ...]) -> bytes:
    plan_flags, extra_flags, payload = _ROUTES[route]
    return json.dumps(payload(parse_query(key, plan_flags, extra_flags))).encode()


def _error(exc: PlannerError) -> JSONResponse:
    body: dict[str, Any] = {"error": str(exc)}
    if isinstance(exc, RequestError):
        body["parameter"] = exc.parameter
    headers = {"Cache-Control": ERROR_CACHE}
    status = 400
    if isinstance(exc, (HubOfflineError, HubTimeoutError, HubRateLimitError)):
        status = 503
        retry = getattr(exc, "retry_after", None)
        if retry:
            headers["Retry-After"] = str(retry)
    return JSONResponse(body, status_code=status, headers=headers)


async def answer(route: str, http: Request) -> Response:
    """One route's JSON: from the cache (a key seen before was valid then), else parsed and computed.

    The computation runs in a worker thread; the event loop only sends cached answers.
    """
    items = tuple(http.query_params.multi_items())
    raw_key = (route, items)
    body = CACHE.get(raw_key)
    if body is None:
        plan_flags, extra_flags, _ = _ROUTES[route]
        try:
            query = parse_query(items, plan_flags, extra_flags)  # refuse bad input before any work
            body = await run_in_threadpool(_render, route, items)
        except PlannerError as exc:
            return _error(exc)
        if _cacheable(query.request):
            CACHE.put(raw_key, body)
    return Response(body, media_type="application/json", headers={"Cache-Control": JSON_CACHE})


_DOC = {
    "model": "catalog id (meta-llama/Llama-3.1-8B) or Hugging Face id (required)",
    "format": "weight format: bf16, bnb-nf4, gptq-int4, q4_k_m (any case; required)",
    "engine": "transformers, vllm or llama.cpp (default: the format's usual engine)",
    "context": "tokens per sequence: 8192 or 32k (default 8192)",
    "batch": "concurrent sequences (default 1)",
    "gpu": "catalog GPU: rtx-4090, 4090, 'H100 SXM' (fuzzy)",
    "vram": "memory per GPU with its unit: 24GiB (2^30) or 24GB (10^9)",
    "gpus": "number of GPUs (default 1)",
    "live": "not available over HTTP (the server's GPUs are not yours); refused when on",
    "formats": "comma-separated format ids (default: a spread of bit widths)",
    "query": "a GPU to look up (gpus: one GPU instead of the list)",
}


def _parameters(flags: tuple[str, ...]) -> dict[str, Any]:
    """OpenAPI query parameters for a route's flags (the handlers read the query themselves)."""
    return {
        "parameters": [
            {
                "name": flag,
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": _DOC.get(flag, f"as the CLI's --{flag}"),
            }
            for flag in flags
        ]
    }


def create_app() -> FastAPI:
    """The API (``python -m planner serve`` runs it with uvicorn).

    Handlers take the raw request and read every parameter from it (so unknown and repeated ones
    are refused, not ignored); the parameters are declared for the OpenAPI docs only.
    """
    app = FastAPI(
        title="VRAM Planner API", version="1", description=DESCRIPTION, docs_url="/docs", redoc_url=None
    )

    for route, summary in (
        ("estimate", "Memory per component, and the fit when a GPU is given (estimate --json)"),
        ("fit", "Every catalog model x format that fits a GPU (fit --json)"),
        ("recommend", "What to run on a GPU, best expected quality first (recommend --json)"),
        ("gpus", "The GPU catalog, or one GPU (gpus --json)"),
    ):
        plan_flags, extra_flags, _ = _ROUTES[route]
        app.add_api_route(
            f"/v1/{route}",
            _endpoint(route),
            methods=["GET"],
            summary=summary,
            openapi_extra=_parameters(tuple(dict.fromkeys((*plan_flags, *extra_flags)))),
        )
    app.add_api_route(
        "/v1/badge.svg",
        badge_response,
        methods=["GET"],
        summary="An SVG fit badge for a model card, linking to the page with the same plan",
        response_class=Response,
        openapi_extra=_parameters(_BADGE_FLAGS),
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
            query = parse_query(http.query_params.multi_items(), _BADGE_FLAGS)
            body = await run_in_threadpool(_badge_svg, query.request)
            if _cacheable(query.request):
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
