"""A fake Hugging Face Hub on loopback, for testing :mod:`planner.hub` offline.

It speaks just enough of the Hub's HTTP API for huggingface_hub's real client:

* ``GET /api/models/{org}/{name}[/revision/{rev}]`` (``HfApi.model_info``, with file
  sizes in ``siblings`` as ``?blobs=true`` gives them);
* ``HEAD``/``GET /{org}/{name}/resolve/{rev}/{path}`` with ``Range`` support and the
  headers the client relies on (``X-Repo-Commit``, ``ETag``, ``Content-Length``);
* errors the way the Hub sends them: a status plus ``X-Error-Code`` /
  ``X-Error-Message`` (``RepoNotFound`` 401 for unknown repos, ``GatedRepo`` 403,
  ``RevisionNotFound`` and ``EntryNotFound`` 404, a 429 with ``RateLimit`` headers...).

Repos are described in ``tests/fixtures/hub/repos.json``; real files (``config.json``)
sit in ``tests/fixtures/hub/{org}/{name}/``. Safetensors files are built at start-up
with ``struct`` (8-byte header length, JSON header, zeros) from the tensor table in
the manifest (``{i}`` in a name repeats it for each of ``layers``); a sharded table
also gets its ``model.safetensors.index.json``. ``virtual`` files (GGUF) exist only as
a size: their bytes are zeros made on demand. Every request is recorded in
:attr:`FakeHub.requests` (method, path, headers) for the tests to inspect, and the body bytes
written per path in :attr:`FakeHub.sent`.

Hostile servers for the deadline and size-cap tests are set on a repo at run time:
``repo.drip[name] = seconds`` sends that file (or, for ``"api"``, the model info) one byte per
interval; ``repo.no_length`` lists files (or ``"api"``) served without ``Content-Length``, whose
body then ends when the connection closes (HTTP/1.0).
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

FIXTURES = Path(__file__).parent / "fixtures" / "hub"

DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}

_API = re.compile(r"^/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?/?$")
_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def build_safetensors(
    tensors: dict[str, tuple[str, list[int]]], metadata: dict[str, str] | None = None
) -> bytes:
    """A valid safetensors file whose tensors are all zeros."""
    header: dict[str, Any] = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        n = DTYPE_BYTES[dtype]
        for dim in shape:
            n *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + bytes(offset)


@dataclass
class FakeFile:
    size: int
    content: bytes | None = None  # None: zeros of ``size`` bytes
    lfs: bool = False
    etag: str = ""

    def read(self, start: int, end: int) -> bytes:
        if self.content is not None:
            return self.content[start:end]
        return bytes(end - start)


@dataclass
class FakeRepo:
    repo_id: str
    sha: str
    files: dict[str, FakeFile] = field(default_factory=dict)
    gated: bool = False
    delay: float = 0.0
    error: dict[str, Any] | None = None
    drip: dict[str, float] = field(default_factory=dict)
    no_length: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names


def _expand(table: dict[str, list[Any]], layers: int) -> dict[str, tuple[str, list[int]]]:
    out: dict[str, tuple[str, list[int]]] = {}
    for name, (dtype, shape) in table.items():
        for i in range(layers) if "{i}" in name else [None]:
            out[name.replace("{i}", str(i)) if i is not None else name] = (dtype, list(shape))
    return out


def load_repos(root: Path = FIXTURES) -> dict[str, FakeRepo]:
    manifest = json.loads((root / "repos.json").read_text(encoding="utf-8"))
    repos: dict[str, FakeRepo] = {}
    for repo_id, spec in manifest.items():
        if repo_id.startswith("_"):
            continue
        repo = FakeRepo(
            repo_id=repo_id,
            sha=spec["sha"],
            gated=bool(spec.get("gated", False)),
            delay=float(spec.get("delay", 0.0)),
            error=spec.get("error"),
        )
        folder = root / repo_id
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    data = path.read_bytes()
                    repo.files[path.relative_to(folder).as_posix()] = FakeFile(len(data), data)
        layers = int(spec.get("layers", 1))
        shards = {name: _expand(table, layers) for name, table in spec.get("safetensors", {}).items()}
        for name, tensors in shards.items():
            data = build_safetensors(tensors)
            repo.files[name] = FakeFile(len(data), data, lfs=True)
        if len(shards) > 1:
            weight_map = {t: name for name, tensors in shards.items() for t in tensors}
            index = {
                "metadata": {"total_size": sum(repo.files[n].size for n in shards)},
                "weight_map": weight_map,
            }
            data = json.dumps(index, indent=2).encode()
            repo.files["model.safetensors.index.json"] = FakeFile(len(data), data)
        for name, size in spec.get("virtual", {}).items():
            repo.files[name] = FakeFile(int(size), None, lfs=True)
        for name, f in repo.files.items():
            digest = hashlib.sha1(f.content if f.content is not None else f"{repo_id}/{name}".encode())
            f.etag = digest.hexdigest()
        repos[repo_id] = repo
    return repos


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    hub: FakeHub


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers at shutdown

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        pass

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_POST(self) -> None:
        self._send(405, {"error": "not implemented in the fake hub"}, head=False)

    # ------------------------------------------------------------------ routing

    def _serve(self, *, head: bool) -> None:
        hub = self.server.hub
        path = urlsplit(self.path).path
        hub.record(RecordedRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        try:
            api = _API.match(path)
            resolve = _RESOLVE.match(path)
            repo_id = unquote((api or resolve).group(1)) if (api or resolve) else None
            repo = hub.repos.get(repo_id) if repo_id else None
            if repo_id is None:
                self._send(404, {"error": "Not Found"}, head=head)
                return
            if repo is None:
                self._error(401, "RepoNotFound", "Repository not found", head=head)
                return
            if repo.delay and hub.stopping.wait(repo.delay):
                return
            if repo.error is not None:
                err = repo.error
                self._error(
                    int(err["status"]),
                    err.get("code"),
                    err.get("message"),
                    head=head,
                    extra=err.get("headers", {}),
                )
                return
            if api:
                self._model_info(repo, unquote(api.group(2) or "main"), head=head)
            else:
                assert resolve is not None
                self._resolve(repo, unquote(resolve.group(2)), unquote(resolve.group(3)), head=head)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer

    def _model_info(self, repo: FakeRepo, rev: str, *, head: bool) -> None:
        if rev not in ("main", repo.sha):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}", head=head)
            return
        siblings = []
        for name, f in sorted(repo.files.items()):
            entry: dict[str, Any] = {"rfilename": name, "size": f.size, "blobId": f.etag}
            if f.lfs:
                sha256 = hashlib.sha256(f"{repo.repo_id}/{name}".encode()).hexdigest()
                entry["lfs"] = {"size": f.size, "sha256": sha256, "pointerSize": 134}
            siblings.append(entry)
        body = {
            "_id": repo.sha[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "sha": repo.sha,
            "private": False,
            "gated": "manual" if repo.gated else False,
            "disabled": False,
            "tags": [],
            "lastModified": "2025-01-01T00:00:00.000Z",
            "siblings": siblings,
        }
        self._send(200, body, head=head, drip=repo.drip.get("api"), length="api" not in repo.no_length)

    def _resolve(self, repo: FakeRepo, rev: str, filename: str, *, head: bool) -> None:
        commit = {"X-Repo-Commit": repo.sha}
        if repo.gated:
            message = f"Access to model {repo.repo_id} is restricted. You must have access to it."
            self._error(403, "GatedRepo", message, head=head, extra=commit)
            return
        if rev not in ("main", repo.sha):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}", head=head)
            return
        f = repo.files.get(filename)
        if f is None:
            self._error(
                404, "EntryNotFound", f'{filename} does not exist on "{rev}"', head=head, extra=commit
            )
            return
        start, end, status = 0, f.size, 200
        wanted = self.headers.get("Range")
        if wanted:
            match = _RANGE.match(wanted.strip())
            if match is None or (match.group(1) == "" and match.group(2) == ""):
                self._error(416, None, "Bad range", head=head)
                return
            if match.group(1) == "":  # suffix range: the last N bytes
                start = max(f.size - int(match.group(2)), 0)
            else:
                start = int(match.group(1))
                end = min(int(match.group(2)) + 1, f.size) if match.group(2) else f.size
            if start >= f.size or start >= end:
                self._error(416, None, "Range Not Satisfiable", head=head)
                return
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        if filename not in repo.no_length:
            self.send_header("Content-Length", str(end - start))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{f.etag}"')
        self.send_header("X-Repo-Commit", repo.sha)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{f.size}")
        self.end_headers()
        if not head:
            drip = repo.drip.get(filename)
            step = 1 if drip else 1 << 20
            for pos in range(start, end, step):
                if drip and self.server.hub.stopping.wait(drip):
                    return
                self._write(f.read(pos, min(pos + step, end)))

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        if data:
            self.wfile.flush()
        self.server.hub.count(urlsplit(self.path).path, len(data))

    # ------------------------------------------------------------------ responses

    def _error(
        self,
        status: int,
        code: str | None,
        message: str | None,
        *,
        head: bool,
        extra: dict[str, str] | None = None,
    ) -> None:
        headers = dict(extra or {})
        if code:
            headers["X-Error-Code"] = code
        if message:
            headers["X-Error-Message"] = message
        self._send(status, {"error": message or "error"}, head=head, headers=headers)

    def _send(
        self,
        status: int,
        body: Any,
        *,
        head: bool,
        headers: dict[str, str] | None = None,
        drip: float | None = None,
        length: bool = True,
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if length:
            self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if head:
            return
        if not drip:
            self._write(data)
            return
        for i in range(len(data)):
            if self.server.hub.stopping.wait(drip):
                return
            self._write(data[i : i + 1])


class FakeHub:
    """A running fake Hub: ``with FakeHub() as hub: ... hub.url ...``."""

    def __init__(self, fixtures: Path = FIXTURES) -> None:
        self.repos = load_repos(fixtures)
        self.requests: list[RecordedRequest] = []
        self.sent: dict[str, int] = {}
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the fake hub is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def count(self, path: str, n: int) -> None:
        with self._lock:
            self.sent[path] = self.sent.get(path, 0) + n

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def start(self) -> FakeHub:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.hub = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down (idempotent); later requests get 'connection refused'."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
