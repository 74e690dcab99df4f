"""A loopback HTTP reverse proxy that injects faults between a client and a real server (MLflow, moto).

Each request is shown to a `rule(request)` that picks what happens: forward it, drop the connection without an
answer, answer with an error status without forwarding, forward it and then lose the answer (the server acted,
the client never hears), or delay it. Rules count requests, so faults are exact and repeatable ("the 3rd
PutObject", "requests 100-160", "every 7th").
"""

from __future__ import annotations

import http.client
import http.server
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    number: int  # 1-based, in arrival order
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Action:
    kind: str  # "forward", "drop", "status", "lose_answer", "delay", "rewrite"
    status: int = 500
    body: bytes = b""
    seconds: float = 0.0
    rewrite: Callable[[bytes], bytes] | None = None  # forward, then change the answer's body


FORWARD = Action("forward")
DROP = Action("drop")
LOSE_ANSWER = Action("lose_answer")


def status(code: int, body: bytes = b"") -> Action:
    return Action("status", status=code, body=body)


def delay(seconds: float) -> Action:
    return Action("delay", seconds=seconds)


def rewrite(change: Callable[[bytes], bytes]) -> Action:
    return Action("rewrite", rewrite=change)


@dataclass
class FaultProxy:
    """Listens on 127.0.0.1:<free port>, forwards to `upstream` unless `rule` says otherwise."""

    upstream: str
    rule: Callable[[Request], Action] = lambda request: FORWARD
    log: list[tuple[int, str, str, str]] = field(default_factory=list)  # (number, method, path, action kind)

    def __post_init__(self) -> None:
        target = urlsplit(self.upstream)
        proxy = self
        counter = iter(range(1, 10**9))
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with lock:
                    number = next(counter)
                request = Request(number, self.command, self.path, dict(self.headers.items()), body)
                action = proxy.rule(request)
                proxy.log.append((number, self.command, self.path, action.kind))
                if action.kind == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if action.kind == "status":
                    self._answer(action.status, {"Content-Type": "application/json"}, action.body)
                    return
                if action.kind == "delay":
                    time.sleep(action.seconds)
                answer = self._forward(request)
                if action.kind == "rewrite" and action.rewrite is not None:
                    answer = (answer[0], answer[1], action.rewrite(answer[2]))
                if action.kind == "lose_answer":  # the server acted; the client never hears about it
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self._answer(*answer)

            def _forward(self, request: Request) -> tuple[int, dict[str, str], bytes]:
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "connection")}
                headers["Host"] = target.netloc
                connection.request(request.method, request.path, body=request.body or None, headers=headers)
                response = connection.getresponse()
                data = response.read()
                length = () if request.method == "HEAD" else ("content-length",)  # HEAD keeps the object's size
                dropped = ("transfer-encoding", "connection", *length)
                kept = {k: v for k, v in response.getheaders() if k.lower() not in dropped}
                connection.close()
                return response.status, kept, data

            def _answer(self, code: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(code)
                for key, value in headers.items():
                    self.send_header(key, value)
                if not any(key.lower() == "content-length" for key in headers):
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
