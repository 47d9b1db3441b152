"""The partition proxy the fault-injection suite cuts: it relays, cuts, and relays again."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from tixtest import TcpProxy, free_port


@pytest.fixture
def echo_port() -> Iterator[int]:
    port = free_port()
    server = socket.create_server(("127.0.0.1", port))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(1024):
                    conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    yield port
    server.close()


def roundtrip(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"ping")
        return conn.recv(1024)


def test_relays_cuts_and_relays_again(echo_port: int) -> None:
    proxy = TcpProxy(echo_port)
    proxy.restore()
    try:
        assert roundtrip(proxy.port) == b"ping"
        live = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        live.sendall(b"x")
        assert live.recv(16) == b"x"
        proxy.cut()
        # The open connection is dropped and new ones are refused.
        assert live.recv(16) == b""
        live.close()
        with pytest.raises(ConnectionRefusedError):
            roundtrip(proxy.port)
        proxy.restore()
        assert roundtrip(proxy.port) == b"ping"
    finally:
        proxy.cut()
