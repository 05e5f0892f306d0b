"""The one web server paperboy runs, under `paperboy run` and in each gunicorn worker of
`paperboy serve`: waitress, whose event loop reads a whole request (head and body) before one of
its threads takes it, so a client that sends slowly or not at all costs a socket, never a thread.

Bounds, as deploy/nginx.conf sets them in front: a request's head must arrive within
HEAD_SECONDS of its first byte, its whole body within REQUEST_SECONDS, and a connection idle
for IDLE_SECONDS is closed. Up to CONNECTION_LIMIT connections are open per process; the kernel
queues more until one closes."""

from __future__ import annotations

import logging
import os
import resource
import time
from collections.abc import Callable
from socket import socket
from typing import Any, cast

from gunicorn.workers.base import Worker
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

from service.web.body_limits import MAX_CONTENT_LENGTH, ROUTE_LIMITS

THREADS = 8  # threads that run the app, per process
HEAD_SECONDS = 15  # nginx's client_header_timeout
REQUEST_SECONDS = 120  # a 5 MB CSV at 45 KB/s
IDLE_SECONDS = 15  # nginx's client_body_timeout; kept-alive connections too
CONNECTION_LIMIT = 2000
SERVER_NAME = "paperboy"  # answers name the server without its version

log = logging.getLogger("paperboy.web")


class _Channel(HTTPChannel):
    """A connection that notes when the request it is reading began."""

    request_began = 0.0

    def received(self, data: bytes) -> bool:
        if self.request is None and data:
            self.request_began = time.time()
        return bool(super().received(data))


class _Server(TcpWSGIServer):
    """waitress's server, which also closes connections whose request arrives too slowly."""

    channel_class = _Channel

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # type: ignore[arg-type]  # idle connections (waitress passes time.time())
        channels = cast(dict[int, _Channel], self.active_channels)
        for channel in list(channels.values()):
            partial = channel.request
            if partial is None or channel.requests or channel.will_close:
                continue
            bound = REQUEST_SECONDS if partial.headers_finished else HEAD_SECONDS
            if now - channel.request_began > bound:
                log.info("web: closing a connection from %s: its request took over %d s", channel.addr[0], bound)
                channel.will_close = True


class BufferedServer:
    """waitress serving `app` on `sockets` (already bound) or on host:port."""

    def __init__(
        self, app: Callable[..., Any], *, trusted_proxies: int = 0, sockets: list[socket] | None = None, **listen: Any
    ):
        _allow_open_files(CONNECTION_LIMIT + 100)
        adjustments = Adjustments(
            threads=THREADS,
            ident=SERVER_NAME,
            max_request_body_size=max(MAX_CONTENT_LENGTH, *ROUTE_LIMITS.values()),
            connection_limit=CONNECTION_LIMIT,
            channel_timeout=IDLE_SECONDS,
            cleanup_interval=1,
            backlog=1024,
            asyncore_use_poll=True,  # select() stops at 1024 descriptors
            # Behind PAPERBOY_TRUSTED_PROXIES the app reads X-Forwarded-* itself (ProxyFix), as
            # under any server; without it they are dropped, so no client can pose as another.
            clear_untrusted_proxy_headers=not trusted_proxies,
            **listen,
        )
        self.map: dict[int, Any] = {}
        self.dispatcher = ThreadedTaskDispatcher()
        self.dispatcher.set_thread_count(THREADS)
        if sockets:
            self.servers = [
                _Server(
                    app,
                    self.map,
                    _sock=listener,
                    dispatcher=self.dispatcher,
                    adj=adjustments,
                    bind_socket=False,
                    sockinfo=(listener.family, listener.type, listener.proto, listener.getsockname()),
                )
                for listener in sockets
            ]
        else:
            self.servers = [
                _Server(app, self.map, dispatcher=self.dispatcher, adj=adjustments, sockinfo=cast(Any, sockinfo))
                for sockinfo in adjustments.listen
            ]

    def serve_for(self, seconds: float) -> None:
        """Handle connections for about `seconds`, then return (callers check their own state)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            wasyncore.loop(timeout=0.5, map=self.map, use_poll=True, count=1)

    def close(self) -> None:
        self.dispatcher.shutdown(timeout=10)
        wasyncore.close_all(self.map)


def _allow_open_files(wanted: int) -> None:
    """Raise this process's soft limit on open files towards `wanted`, as far as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class BufferedWorker(Worker):
    """A gunicorn worker serving with BufferedServer: gunicorn forks, restarts and stops the
    processes; waitress reads each request whole before a thread handles it."""

    def run(self) -> None:
        runtime = getattr(self.wsgi, "extensions", {}).get("paperboy")
        proxies = runtime.config.trusted_proxies if runtime is not None else 0
        server = BufferedServer(self.wsgi, trusted_proxies=proxies, sockets=[s.sock for s in self.sockets])
        try:
            while self.alive and self.ppid == os.getppid():
                self.notify()  # gunicorn's master restarts a worker that stays silent past its timeout
                server.serve_for(1.0)
        finally:
            server.close()
