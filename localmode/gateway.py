"""A local API Gateway (HTTP API, payload 2.0): HTTP requests in, the api function's responses out."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from localmode import lambda_events
from localmode.runtime import LocalFunction

MAX_BODY = 1024 * 1024  # API Gateway's payload limit is 10 MB; the API needs far less


class HttpApi:
    """Binds its port when made, so that no outgoing connection takes it while the functions start; serves requests
    once start() hands it the api function (until then they wait in the listen backlog)."""

    def __init__(self, host: str, port: int) -> None:
        self.function: LocalFunction | None = None
        handler = type("Handler", (_Handler,), {"api": self})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="http-api", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self, function: LocalFunction) -> None:
        self.function = function
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.server.shutdown()  # waits for serve_forever, so only once it runs
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    api: HttpApi
    protocol_version = "HTTP/1.1"
    server_version = "local-http-api"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the api function logs every request itself

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self._reply(413, {"content-type": "application/json"}, b'{"message":"Request too large"}')
            return
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        event = lambda_events.http_api_event(
            method=self.command, path=path, query=query, headers=headers, body=body, source_ip=self.client_address[0]
        )
        function = self.api.function
        assert function is not None  # requests are accepted only after start()
        invocation = function.invoke(event)
        if invocation.failed or not isinstance(invocation.result, dict):
            # What API Gateway answers when the integration fails: no details leak.
            self._reply(500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}')
            return
        result = invocation.result
        payload = result.get("body") or ""
        data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        response_headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            response_headers[str(name).lower()] = ",".join(str(v) for v in values)
        cookies = result.get("cookies") or []
        self._reply(int(result.get("statusCode", 200)), response_headers, data, cookies)

    def _reply(self, status: int, headers: dict[str, str], data: bytes, cookies: list[str] | None = None) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name not in ("content-length", "connection"):
                self.send_header(name, value)
        for cookie in cookies or []:
            self.send_header("set-cookie", cookie)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def __getattr__(self, name: str) -> Any:
        """Every method reaches the function, as API Gateway's $default route sends it any method (TRACE too): the
        function answers 405 with Allow, or 404, where http.server would have answered 501."""
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)
