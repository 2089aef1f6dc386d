"""A socketserver served from a thread that sleeps until there is work, and stops at once when asked.

`serve_forever(poll_interval)` wakes every interval to look for a shutdown request: with the few milliseconds a
prompt stop needs, every idle bed thread took the GIL hundreds of times a second from the tests running moediag
in the same process. This loop waits on the server's socket and a wake-up socket together instead.
"""

from __future__ import annotations

import selectors
import socket
import socketserver
import threading


class Serving:
    """`Serving(server, name)` serves `server` in a daemon thread until `stop()`, which closes it too."""

    def __init__(self, server: socketserver.BaseServer, name: str) -> None:
        self.server = server
        self._wake_read, self._wake_write = socket.socketpair()
        server.timeout = 0  # handle_request() never blocks: the loop below only calls it when the socket is readable
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.server, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            while True:
                ready = selector.select()
                if any(key.fileobj is self._wake_read for key, _ in ready):
                    return
                self.server.handle_request()

    def stop(self, timeout: float = 5) -> None:
        """Stop accepting (idempotent); connections being served go on in their own threads."""
        if self._wake_write.fileno() == -1:
            return
        self._wake_write.send(b"x")
        self._thread.join(timeout)
        self.server.server_close()
        self._wake_write.close()
        self._wake_read.close()
