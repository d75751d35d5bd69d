"""/healthz, /readyz and /metrics of a role without the HTTP API (`vitrina load`, `vitrina
schedule`): the standard library's threading HTTP server on its own thread, so that the
answers do not wait behind the role's work."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

# (problem, facts): problem None is ready; the facts are added to the answer either way.
Readiness = Callable[[], tuple[str | None, dict[str, Any]]]


class OpsServer:
    def __init__(self, host: str, port: int, registry: CollectorRegistry, readiness: Readiness) -> None:
        registry_, readiness_ = registry, readiness

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(registry_), CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    self._json(200, {"status": "ok"})
                elif path == "/readyz":
                    problem, facts = readiness_()
                    if problem is None:
                        self._json(200, {"status": "ready", **facts})
                    else:
                        self._json(503, {"error": "not_ready", "message": problem, "detail": [facts]})
                else:
                    self._json(404, {"error": "not_found", "message": f"no route {path}; try /healthz, /readyz or /metrics", "detail": []})

            def _json(self, status: int, body: dict[str, Any]) -> None:
                self._send(status, json.dumps(body).encode(), "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # scrapes every few seconds: no access log
                pass

        try:
            self.server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise SystemExit(f"vitrina: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="vitrina-ops-http", daemon=True)

    def start(self) -> OpsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
