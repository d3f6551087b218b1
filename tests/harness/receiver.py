"""A webhook receiver on 127.0.0.1 that tests start, script and stop: it
records every request it gets and answers as the test tells it to."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook

from harness.emulators import free_port, wait_until


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    received_at: float

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


# Decides each answer: (the request's number, from 1) -> (status, seconds to wait first).
Script = Callable[[int], tuple[int, float]]


def always(status: int) -> Script:
    return lambda _: (status, 0.0)


class Receiver:
    """``url`` takes POSTs; ``script`` answers them; ``received`` keeps them all."""

    def __init__(self, port: int | None = None, script: Script | None = None) -> None:
        self.port = port or free_port()
        self.script = script or always(204)
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.received.append(
                        Received(
                            {name.lower(): value for name, value in self.headers.items()},
                            body,
                            time.time(),
                        )
                    )
                    number = len(receiver.received)
                status, wait_s = receiver.script(number)
                if wait_s:
                    time.sleep(wait_s)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender gave up waiting: nobody reads the answer

            def log_message(self, format: str, *args: Any) -> None:
                del format, args  # quiet: the tests read what was received

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def by_type(self) -> dict[str, list[Received]]:
        grouped: dict[str, list[Received]] = {}
        for received in self.requests():
            grouped.setdefault(received.payload["type"], []).append(received)
        return grouped

    def wait_for(
        self, what: str, ready: Callable[[list[Received]], bool], timeout_s: float = 60
    ) -> list[Received]:
        wait_until(lambda: ready(self.requests()), what=what, timeout_s=timeout_s)
        return self.requests()


def verified(secret: str, received: Received) -> dict[str, Any]:
    """The payload, verified with the standardwebhooks package (raises when it does not)."""
    payload: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return payload
