"""``python -m planner serve``: the HTTP JSON API and the fit badge (FastAPI on uvicorn).

Routes: ``/v1/estimate``, ``/v1/fit``, ``/v1/recommend``, ``/v1/gpus`` (the commands' flags as query
parameters, the commands' ``--json`` as the answer), ``/v1/badge.svg``, and the OpenAPI docs at
``/docs``. Listens on 127.0.0.1 unless ``--host`` says otherwise (``0.0.0.0`` to serve a network).
"""

from __future__ import annotations

import argparse
from typing import Any

from planner.cli.args import whole

DEFAULT_PORT = 8000


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``serve`` to an ``add_subparsers()`` object."""
    parser = sub.add_parser("serve", help="serve the HTTP JSON API and the fit badge (docs at /docs)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=whole("port", 1, 65535), default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--workers", type=whole("workers", 1, 64), default=1, help="worker processes (default 1)"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the API until interrupted."""
    import uvicorn

    uvicorn.run(
        "planner.api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )
    return 0
