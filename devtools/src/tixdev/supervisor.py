"""Runs service processes like a small Deployment controller would: output prefixed with the
service's name, a crash reported at once and restarted with backoff, a clean stop on Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from tixdev.services import ServiceSpec

_COLOURS = ["36", "35", "33", "32", "34", "31", "96", "95"]
_MAX_BACKOFF_SECONDS = 30.0
_STABLE_AFTER_SECONDS = 30.0


def prefix(name: str, index: int, width: int) -> str:
    label = f"{name:<{width}} |"
    if sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
        return f"\033[{_COLOURS[index % len(_COLOURS)]}m{label}\033[0m"
    return label


def say(message: str) -> None:
    print(f"{'tix':<10} | {message}", flush=True)  # noqa: T201 - this is the CLI's output


class SupervisedProcess:
    def __init__(
        self,
        spec: ServiceSpec,
        env: Mapping[str, str],
        label: str,
        pid_file: Path | None = None,
        first_backoff: float = 0.5,
    ) -> None:
        self.spec = spec
        self.env = dict(env)
        self.label = label
        # Where the current pid is kept, so operators (and tests) can signal one service.
        self.pid_file = pid_file
        self.first_backoff = first_backoff
        self.process: asyncio.subprocess.Process | None = None
        self._stopping = False
        self.restarts = 0

    async def _pipe_output(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            sys.stdout.write(f"{self.label} {line.decode(errors='replace').rstrip()}\n")
            sys.stdout.flush()

    async def run(self) -> None:
        """Keep the service running until stopped."""
        backoff = self.first_backoff
        while not self._stopping:
            started = time.monotonic()
            self.process = await asyncio.create_subprocess_exec(
                *self.spec.command,
                env=self.env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
            if self.pid_file is not None:
                self.pid_file.write_text(f"{self.process.pid}\n")
            assert self.process.stdout is not None
            await self._pipe_output(self.process.stdout)
            code = await self.process.wait()
            if self._stopping:
                return
            if time.monotonic() - started > _STABLE_AFTER_SECONDS:
                backoff = self.first_backoff
            self.restarts += 1
            say(f"{self.spec.name} exited with code {code}; restarting in {backoff:.1f}s")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)

    async def stop(self, timeout: float = 15.0) -> None:
        self._stopping = True
        if self.pid_file is not None:
            self.pid_file.unlink(missing_ok=True)
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()


async def wait_ready(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=1.0) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return True
            await asyncio.sleep(0.2)
    return False
