"""The /metrics endpoint: prometheus_client's WSGI app, served from one thread that
sleeps until a scrape arrives.

prometheus_client's own ``start_http_server`` wakes twice a second to look for a
shutdown request: 0.24 ms of CPU per second measured on its own, and vaxeld's idle CPU
went from 0.33 to 0.17 ms/s without it. During a call load each of those wake-ups also
takes the interpreter lock from the thread reading AMI. This server waits for
connections only; ``stop`` wakes it with a connection of its own after asking it to shut
down.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

# Only a fallback: stop() wakes the server at once. Bounds the wait if it could not.
_LONGEST_SLEEP_SECONDS = 3600.0


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not logged: one line every 15 s per Prometheus says nothing."""


class MetricsServer:
    """Serve ``registry`` on ``address``:``port`` (port 0: any free port)."""

    def __init__(self, registry: CollectorRegistry, address: str, port: int) -> None:
        family, *_, sockaddr = socket.getaddrinfo(
            address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]

        class _Server(ThreadingWSGIServer):
            address_family = family

        self._httpd = make_server(
            str(sockaddr[0]), port, make_wsgi_app(registry), _Server, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _LONGEST_SLEEP_SECONDS},
            name="metrics-http",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and close the socket; returns once the thread has ended (or, should
        it not, after ``timeout`` seconds: the thread is a daemon thread)."""
        if self._thread.is_alive():
            stopper = threading.Thread(target=self._httpd.shutdown, daemon=True)
            stopper.start()
            deadline = time.monotonic() + timeout
            while stopper.is_alive() and time.monotonic() < deadline:
                self._wake()  # again if it arrived before the shutdown request did
                stopper.join(0.05)
            self._thread.join(max(0.0, deadline - time.monotonic()))
        self._httpd.server_close()

    def _wake(self) -> None:
        host = str(self._httpd.server_address[0])
        # Bound to every address: reach it on loopback.
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        with contextlib.suppress(OSError), socket.create_connection((host, self.port), 1.0):
            pass

    @property
    def running(self) -> bool:
        return self._thread.is_alive()
