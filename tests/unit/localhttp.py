"""A small threaded HTTP server on 127.0.0.1 for unit tests, whose answers each test scripts:
``srv.route(path, respond)`` where ``respond(handler, n)`` gets the n-th request (1-based) to path;
``srv.seen(path)`` lists the requests (with headers) it received."""

from __future__ import annotations

import re
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]


Respond = Callable[[BaseHTTPRequestHandler, int], None]  # (handler, n-th request to this path)


class LocalServer:
    def __init__(self) -> None:
        self.routes: dict[str, Respond] = {}
        self.requests: list[Seen] = []
        self.release = threading.Event()  # set at teardown: sleeping handlers stop waiting
        self._lock = threading.Lock()
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.01}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, respond: Respond) -> str:
        self.routes[path] = respond
        return self.url(path)

    def seen(self, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _record(self, path: str, headers: dict[str, str]) -> int:
        with self._lock:
            self.requests.append(Seen(path, headers))
            return sum(1 for r in self.requests if r.path == path)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LocalServer

    def server_bind(self) -> None:  # skip HTTPServer's getfqdn(): no name lookups at all
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection; closing ends the body
    server: _Server

    def do_GET(self) -> None:
        owner = self.server.owner
        n = owner._record(self.path, {k: v for k, v in self.headers.items()})
        respond = owner.routes.get(self.path)
        try:
            if respond is None:
                status(self, 404)
            else:
                respond(self, n)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeouts): fine

    def log_message(self, format: str, *args: object) -> None:
        pass


def status(h: BaseHTTPRequestHandler, code: int) -> None:
    """An error answer with an empty body."""
    h.send_response(code)
    h.send_header("Content-Length", "0")
    h.end_headers()


_RANGE = re.compile(r"^bytes=(\d+)-$")


def serve(h: BaseHTTPRequestHandler, data: bytes, *, honour_range: bool = True,
          length: bool = True) -> None:
    """Serve data, answering a ``Range: bytes=N-`` with 206 unless honour_range is false."""
    m = _RANGE.match(h.headers.get("Range", ""))
    if m and honour_range:
        start = int(m.group(1))
        h.send_response(206)
        h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        body = data[start:]
    else:
        h.send_response(200)
        body = data
    if length:
        h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def serve_truncated(h: BaseHTTPRequestHandler, data: bytes, upto: int, *,
                    length: bool = True) -> None:
    """Promise all of data (Content-Length) but send only data[:upto], then hang up."""
    h.send_response(200)
    if length:
        h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data[:upto])
    h.wfile.flush()
    h.close_connection = True


