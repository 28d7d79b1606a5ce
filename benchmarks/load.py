"""Benchmark: the hosted page and the HTTP API under load, with every answer checked for cross-talk.

Run: ``python -m benchmarks.load [--sessions 50] [--rate 200] [--seconds 60] [--only page|api]``.

* The page: ``streamlit run app.py`` in a subprocess, and ``--sessions`` concurrent readers that speak
  the browser's own protocol over Streamlit's websocket (``/_stcore/stream``: a ``rerun_script``
  BackMsg with the link's query string, then the ForwardMsgs until ``script_finished``), each load a
  new Streamlit session as a new tab is. No browser renders them: on this 2-core machine 50
  chromium tabs would measure chromium, not the server. Each reader opens the Fit check page on a
  plan of its own (model, format, GPU, context, batch), again and again for ``--seconds``; every
  answer must carry that plan in the link the page writes back and in the Fit check's summary line
  (``N tokens x B``, the GPU's name) and no other reader's GPU.
* The API: ``python -m planner serve`` in a subprocess, and an open-loop client that starts
  ``--rate`` requests a second for ``--seconds`` (a mix of ``/v1/estimate`` over catalog models, GPUs
  and contexts, ``/v1/badge.svg``, ``/v1/gpus`` and ``/v1/fit``: 490 distinct requests); each JSON
  answer must describe the plan it was asked for. Unless ``--cold``, every distinct request is made
  once first (the warm-up, timed apart): the minute then measures a server whose answer cache holds
  them, as a hosted API's does after its first minutes.

For both it prints the requests done, errors, cross-talk, latency percentiles and the server's
resident memory (``/proc/<pid>/status`` VmRSS, sampled each second, children included). Prints
figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from benchmarks.processes import free_port, stop_process
from planner.hardware import gpus_by_id

ROOT = Path(__file__).resolve().parents[1]

#: GPU id -> the name the Fit check page prints (read from the catalog).
GPUS = {i: gpus_by_id()[i].name for i in ("rtx-4090", "rtx-3090", "rtx-3060", "h100-sxm", "a100-80gb-sxm")}
MODELS = ("meta-llama/Llama-3.1-8B", "Qwen/Qwen3-8B", "google/gemma-3-12b-it", "Qwen/Qwen2.5-0.5B-Instruct")
FORMATS = ("q4_k_m", "bf16", "bnb-nf4", "q8_0")
CONTEXTS = (2048, 4096, 8192, 16384, 32768)


def _rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and its children (uvicorn workers), from /proc."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    crosstalk: list[str] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)

    def report(self, what: str, seconds: float) -> None:
        lat = sorted(self.latencies)
        done = len(lat)

        def pct(q: float) -> float:
            return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")

        print(f"{what}: {done} answers in {seconds:.1f} s ({done / seconds:.1f}/s)")
        print(f"  errors: {len(self.errors)}; cross-talk: {len(self.crosstalk)}")
        for e in (self.errors + self.crosstalk)[:5]:
            print(f"    {e[:600]}")
        if lat:
            print(
                f"  latency ms: median {statistics.median(lat) * 1000:.0f}, p95 {pct(0.95):.0f}, "
                f"p99 {pct(0.99):.0f}, max {lat[-1] * 1000:.0f}"
            )
        if self.rss:
            mib = [r / 2**20 for r in self.rss]
            print(
                f"  server memory (RSS) MiB: start {mib[0]:.0f}, peak {max(mib):.0f}, end {mib[-1]:.0f}; "
                f"last quarter's mean {statistics.mean(mib[-max(1, len(mib) // 4) :]):.0f}"
            )


async def _sample_rss(pid: int, stats: Stats, stop: asyncio.Event) -> None:
    while not stop.is_set():
        stats.rss.append(_rss_bytes(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


def _wait_http(url: str, proc: subprocess.Popen, limit_s: float = 180) -> None:
    deadline = time.monotonic() + limit_s
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=3):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"no answer from {url} in {limit_s} s") from None
            time.sleep(0.5)


# --------------------------------------------------------------------------------------------- the page


def _plan(rng: random.Random) -> dict[str, str]:
    return {
        "model": rng.choice(MODELS),
        "format": rng.choice(FORMATS),
        "gpu": rng.choice(list(GPUS)),
        "context": str(rng.choice((2048, 4096, 8192, 16384, 32768)) + rng.randrange(1, 512)),
        "batch": str(rng.randrange(1, 9)),
    }


def _texts(msg) -> list[str]:
    """Every string a delta's new element carries (markdown bodies, alerts, metrics...)."""
    out: list[str] = []

    def walk(node, depth: int) -> None:
        for _, value in node.ListFields():
            if isinstance(value, str):
                out.append(value)
            elif hasattr(value, "ListFields") and depth < 4:
                walk(value, depth + 1)

    walk(msg.delta.new_element, 0)
    return out


async def _page_load(url: str, plan: dict[str, str]) -> tuple[dict[str, list[str]] | None, list[str]]:
    """Open the page on ``plan``'s link as a browser tab does: connect, ask for a run, read until it ends.

    Returns the link the page wrote back (its last ``page_info_changed``) and every text it drew.
    """
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    async with websockets.connect(url, subprotocols=["streamlit"], max_size=2**26, open_timeout=300) as ws:
        back = BackMsg()
        back.rerun_script.query_string = urlencode(plan)
        back.rerun_script.page_script_hash = ""
        await ws.send(back.SerializeToString())
        written: dict[str, list[str]] | None = None
        texts: list[str] = []
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await asyncio.wait_for(ws.recv(), timeout=300))
            kind = msg.WhichOneof("type")
            if kind == "page_info_changed":
                written = parse_qs(msg.page_info_changed.query_string)
            elif kind == "delta":
                texts.extend(_texts(msg))
            elif kind == "script_finished":
                return written, texts


async def _page_session(url: str, sid: int, until: float, stats: Stats, rng: random.Random) -> None:
    """One reader: opens the page on a new plan of its own, again and again, until ``until``."""
    first = True
    while first or time.monotonic() < until:
        first = False
        plan = _plan(rng)
        start = time.monotonic()
        written, texts = await _page_load(url, plan)
        stats.latencies.append(time.monotonic() - start)
        joined = "\n".join(texts)
        if any("Traceback" in t for t in texts):
            stats.errors.append(f"session {sid}: {joined[:200]}")
        want = {k: [v] for k, v in plan.items()}
        if written is None or any(written.get(k) != v for k, v in want.items()):
            stats.crosstalk.append(f"session {sid}: asked {plan}, the page wrote {written}")
        summary = f"{int(plan['context']):,} tokens x {plan['batch']} sequence"
        if summary not in joined or GPUS[plan["gpu"]] not in joined:
            stats.crosstalk.append(f"session {sid}: asked {plan}, the page showed another plan")
        others = [g for g in GPUS.values() if g != GPUS[plan["gpu"]] and f"{g}, " in joined]
        if others:
            stats.crosstalk.append(f"session {sid}: another session's GPU on the page: {others}")


async def run_page(sessions: int, seconds: float) -> None:
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    stats = Stats()
    try:
        _wait_http(f"http://127.0.0.1:{port}/_stcore/health", proc)
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample_rss(proc.pid, stats, stop))
        start = time.monotonic()
        until = start + seconds
        results = await asyncio.gather(
            *(
                _page_session(f"ws://127.0.0.1:{port}/_stcore/stream", i, until, stats, random.Random(i))
                for i in range(sessions)
            ),
            return_exceptions=True,
        )
        elapsed = time.monotonic() - start
        stop.set()
        await sampler
        for i, r in enumerate(results):
            if isinstance(r, BaseException):
                stats.errors.append(f"session {i}: {type(r).__name__}: {r}")
        print(f"page: {sessions} concurrent readers, each opening the Fit check page on its own links")
        stats.report("page reruns", elapsed)
    finally:
        stop_process(proc)


# --------------------------------------------------------------------------------------------- the API


def _api_request(rng: random.Random) -> tuple[str, dict[str, str]]:
    kind = rng.random()
    if kind < 0.70:
        plan = {
            "model": rng.choice(MODELS),
            "format": rng.choice(FORMATS),
            "gpu": rng.choice(list(GPUS)),
            "context": str(rng.choice(CONTEXTS)),
        }
        return "/v1/estimate", plan
    if kind < 0.90:
        return "/v1/badge.svg", {
            "model": rng.choice(MODELS),
            "format": rng.choice(FORMATS),
            "gpu": rng.choice(list(GPUS)),
        }
    if kind < 0.97:
        return "/v1/gpus", {"query": rng.choice(list(GPUS))}
    return "/v1/fit", {"gpu": rng.choice(list(GPUS)), "formats": "q4_k_m,bf16"}


def _check(path: str, params: dict[str, str], status: int, body: bytes) -> str | None:
    """A description of what is wrong with the answer, or None."""
    if status != 200:
        return f"HTTP {status}: {body[:120]!r}"
    if path == "/v1/badge.svg":
        return (
            None if body.startswith(b"<svg") and GPUS[params["gpu"]].split()[-1].encode() in body else "badge"
        )
    data = json.loads(body)
    if path == "/v1/estimate":
        ok = (
            data["model"] == params["model"]
            and data["format"] == params["format"]
            and data["context"] == int(params["context"])
            and data["gpu"]["name"] == GPUS[params["gpu"]]
        )
        return (
            None
            if ok
            else f"asked {params}, got {data['model']} {data['format']} {data['context']} {data['gpu']['name']}"
        )
    if path == "/v1/gpus":
        return None if data["id"] == params["query"] else f"asked {params['query']}, got {data['id']}"
    return (
        None
        if data["gpu"]["name"] == GPUS[params["gpu"]]
        else f"fit for {params['gpu']} answered {data['gpu']['name']}"
    )


def _all_api_requests() -> list[tuple[str, dict[str, str]]]:
    """Every distinct request :func:`_api_request` can make."""
    out = []
    for model in MODELS:
        for fmt in FORMATS:
            for gpu in GPUS:
                out.append(("/v1/badge.svg", {"model": model, "format": fmt, "gpu": gpu}))
                for context in CONTEXTS:
                    out.append(
                        ("/v1/estimate", {"model": model, "format": fmt, "gpu": gpu, "context": str(context)})
                    )
    out += [("/v1/gpus", {"query": g}) for g in GPUS]
    out += [("/v1/fit", {"gpu": g, "formats": "q4_k_m,bf16"}) for g in GPUS]
    return out


class _Connection:
    """One keep-alive HTTP/1.1 connection, one request at a time (a lighter client than httpx: on this
    machine the client shares the two cores with the server it measures)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, bytes]:
        for attempt in (0, 1):  # a keep-alive connection the server closed meanwhile is reopened once
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            try:
                self.writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
                await self.writer.drain()
                status_line = await self.reader.readline()
                if not status_line:
                    raise ConnectionError("closed")
                status = int(status_line.split()[1])
                length = 0
                while (line := await self.reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                return status, await self.reader.readexactly(length)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.writer.close()
                self.writer = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def run_api(rate: float, seconds: float, workers: int, warm: bool) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "planner", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    stats = Stats()
    pool: asyncio.Queue[_Connection] = asyncio.Queue()
    connections = [_Connection("127.0.0.1", port) for _ in range(64)]
    for c in connections:
        pool.put_nowait(c)

    async def get(path: str, params: dict[str, str]) -> tuple[int, bytes]:
        conn = await pool.get()
        try:
            return await conn.get(f"{path}?{urlencode(params)}")
        finally:
            pool.put_nowait(conn)

    try:
        _wait_http(f"http://127.0.0.1:{port}/v1/gpus?query=rtx-4090", proc)
        if warm:  # every distinct request once: the caches a hosted API has after its first minutes
            began = time.monotonic()
            todo = _all_api_requests()
            gate = asyncio.Semaphore(8)

            async def fetch(path: str, params: dict[str, str]) -> None:
                async with gate:
                    await get(path, params)

            await asyncio.gather(*(fetch(p, q) for p, q in todo))
            print(f"api warm-up: {len(todo)} distinct requests in {time.monotonic() - began:.1f} s")
        rng = random.Random(16)
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample_rss(proc.pid, stats, stop))
        in_flight: set[asyncio.Task] = set()

        async def one(path: str, params: dict[str, str]) -> None:
            start = time.monotonic()
            try:
                status, body = await get(path, params)
                problem = _check(path, params, status, body)
            except Exception as exc:
                stats.errors.append(f"{path}: {type(exc).__name__}: {exc}")
                return
            stats.latencies.append(time.monotonic() - start)
            if problem is not None:
                (stats.errors if problem.startswith("HTTP") else stats.crosstalk).append(f"{path}: {problem}")

        start = time.monotonic()
        n = 0
        while (now := time.monotonic()) < start + seconds:
            due = start + n / rate
            if due > now:
                await asyncio.sleep(due - now)
            path, params = _api_request(rng)
            task = asyncio.create_task(one(path, params))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            n += 1
        sent_in = time.monotonic() - start
        await asyncio.gather(*in_flight)
        elapsed = time.monotonic() - start
        stop.set()
        await sampler
        print(
            f"api: {n} requests started in {sent_in:.1f} s ({n / sent_in:.1f}/s offered), {workers} worker(s)"
        )
        stats.report("api answers", elapsed)
    finally:
        for c in connections:
            c.close()
        stop_process(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=1, help="API worker processes")
    parser.add_argument("--only", choices=("page", "api"))
    parser.add_argument("--cold", action="store_true", help="skip the API warm-up (start with empty caches)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at start)")
    if args.only in (None, "page"):
        asyncio.run(run_page(args.sessions, args.seconds))
    if args.only in (None, "api"):
        asyncio.run(run_api(args.rate, args.seconds, args.workers, not args.cold))


if __name__ == "__main__":
    main()
