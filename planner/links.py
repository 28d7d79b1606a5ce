"""The page's link contract: which URL parameters carry a plan, spelled as stable ids.

The app writes exactly :func:`page_query` of its plan into the address bar (so a copied link
reproduces it), and the API's fit badge links to :func:`page_url` of the badge's plan. Names are the
CLI's flag names where the CLI has the flag (``model``, ``format``, ``engine``, ``context``,
``batch``, ``gpu``, ``vram``, ``gpus``), plus ``kv`` (the KV cache type, as links have always
written it; ``kv-dtype`` is read too) and ``source`` (where the model comes from). Values are ids,
never labels: ``gpu=rtx-4090``, ``format=q4_k_m``, ``context=32768``.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from planner.memory.estimate import DEFAULT_CONTEXT
from planner.request import PlanRequest

#: Model sources: a catalog id, a Hugging Face id, or an uploaded config.json (not in the link).
SOURCES = ("catalog", "hub", "upload")
#: Every parameter the plan owns, in the order the page writes them.
PLAN_PARAMETERS = (
    "source",
    "model",
    "format",
    "engine",
    "context",
    "batch",
    "kv",
    "gpu",
    "vram",
    "live",
    "gpus",
)


def page_query(request: PlanRequest, source: str = "catalog") -> dict[str, str]:
    """The link parameters of ``request`` (defaults included: a link states the whole plan)."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    query: dict[str, str] = {"source": source}
    if request.model and source != "upload":
        query["model"] = request.model
    if request.format:
        query["format"] = request.format
    query["engine"] = request.engine_id or "auto"
    query["context"] = str(request.context if request.context else DEFAULT_CONTEXT)
    query["batch"] = str(request.batch)
    query["kv"] = request.kv_dtype_k or request.kv_dtype
    if request.live:
        query["live"] = "on"
    elif request.vram:
        query["vram"] = request.vram
    elif request.gpu:
        query["gpu"] = request.gpu
    query["gpus"] = str(request.gpus or 1)
    return query


def page_url(base: str, request: PlanRequest, source: str = "catalog") -> str:
    """``base`` (the page's address) with the plan's parameters as its query."""
    parts = urlsplit(base)
    return urlunsplit(
        (parts.scheme, parts.netloc, parts.path or "/", urlencode(page_query(request, source)), "")
    )
