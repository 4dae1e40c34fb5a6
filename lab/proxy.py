"""A TCP proxy on loopback that the tests can break in the ways networks break: closed,
reset, frozen silently, refusing connections, or cut at the moment the client sends a
given action (a login, a resync), while Asterisk itself keeps running."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


class CuttableProxy:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self._target = (host, target_port)
        self._server = socket.create_server((host, 0))
        self.port = int(self._server.getsockname()[1])
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self.cuts = 0
        self.accepted = 0
        self._closed = False
        self._flowing = threading.Event()
        self._flowing.set()
        self._clients: set[socket.socket] = set()
        self._armed: tuple[bytes, bool] | None = None  # (marker, forward it first)
        self.armed_cuts = 0
        threading.Thread(target=self._accept, args=(self._server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while not self._closed:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns += [client, upstream]
                self._clients.add(client)
                self.accepted += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                # Stalled: hold the bytes, as a network that silently stops delivering would.
                while not self._flowing.wait(0.2):
                    if self._closed:
                        return
                armed = self._armed
                if armed is not None and src in self._clients and armed[0] in data:
                    self._armed = None
                    if armed[1]:
                        dst.sendall(data)
                        threading.Timer(0.02, self._armed_cut).start()
                    else:
                        self._armed_cut()
                    continue
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self, reset: bool = False) -> int:
        """Drop every connection through the proxy, as a network failure would (closed,
        or with ``reset`` a TCP reset). Returns how many client connections were cut."""
        with self._lock:
            conns, self._conns = self._conns, []
            if conns:
                self.cuts += 1
        for s in conns:
            self._clients.discard(s)
            with contextlib.suppress(OSError):
                if reset:  # close() sends RST instead of FIN
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    s.shutdown(socket.SHUT_RDWR)
            s.close()
        return len(conns) // 2

    def _armed_cut(self) -> None:
        self.armed_cuts += 1
        self.cut()

    def cut_when_sent(self, marker: bytes, forward: bool = False) -> None:
        """Cut every connection the next time the client sends bytes holding ``marker``
        (b"Action: Login": during the login; with ``forward``, b"Action: QueueStatus":
        while the resync's answer is on its way)."""
        self._armed = (marker, forward)

    def refuse(self, seconds: float) -> None:
        """Refuse connections for ``seconds`` (nothing listens), and drop those up."""
        port = self.port
        self._server.close()
        self.cut()

        def reopen() -> None:
            if self._closed:
                return
            self._server = socket.create_server(("127.0.0.1", port))
            threading.Thread(target=self._accept, args=(self._server,), daemon=True).start()

        threading.Timer(seconds, reopen).start()

    def stall(self) -> None:
        """Stop delivering bytes in both directions; connections stay open."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._flowing.set()
        self._closed = True
        self._server.close()
        self.cut()
