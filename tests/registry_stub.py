"""A stand-in for a Confluent schema registry over HTTP, for end-to-end tests: no registry server
installs on these machines (docs/configuration.md says so). It answers the one call Lethe makes,
``GET /schemas/ids/{id}`` (Confluent's REST API: ``{"schema": "<Avro JSON>"}``, 404 with error
code 40403 for an unknown id), through the real ``confluent-kafka`` client in the worker, and can
be stopped and restarted on the same port to play a registry outage."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PATH = re.compile(r"^/schemas/ids/(\d+)(?:\?.*)?$")


class RegistryStub:
    def __init__(self, port: int = 0) -> None:
        self.schemas: dict[int, dict[str, Any]] = {}
        self.requests = 0
        self.port = port
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RegistryStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.requests += 1
                match = _PATH.match(self.path)
                schema = stub.schemas.get(int(match.group(1))) if match else None
                if schema is None:
                    body, status = {"error_code": 40403, "message": "Schema not found"}, 404
                else:
                    body, status = {"schema": json.dumps(schema)}, 200
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
