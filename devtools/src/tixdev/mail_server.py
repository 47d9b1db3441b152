"""The local SMTP server of `tix dev` and the tests: every message it accepts is kept as
`<directory>/<n>.eml` (n = 1, 2, ... in arrival order), for `tix mail` and the tests to read.

It runs on a thread of the process that starts it (aiosmtpd's Controller), so a test can stop
it (connections refused: an outage) and start it again on the same port. Given a TLS context it
offers STARTTLS, and given credentials it requires AUTH (over TLS only) with them.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hmac
import os
import re
import socket
import ssl
import threading
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tixdev.servers import free_port

_MESSAGE_FILE = re.compile(r"^(\d+)\.eml$")


def message_numbers(directory: Path) -> list[int]:
    """The numbers of the messages kept in `directory`, in arrival order."""
    if not directory.is_dir():
        return []
    found = (_MESSAGE_FILE.match(path.name) for path in directory.iterdir())
    return sorted(int(match.group(1)) for match in found if match)


def read_message(directory: Path, number: int) -> EmailMessage:
    with (directory / f"{number}.eml").open("rb") as file:
        message = email.message_from_binary_file(file, policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # what policy.default parses into
    return message


def read_messages(directory: Path) -> list[EmailMessage]:
    return [read_message(directory, number) for number in message_numbers(directory)]


class _KeepAsFiles:
    """aiosmtpd's handler: each message's bytes, as received, into the next numbered file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        content = envelope.original_content or b""
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            number = max(message_numbers(self.directory), default=0) + 1
            # Written whole, then renamed: a reader never sees half a message.
            partial = self.directory / f".{number}.eml.partial"
            partial.write_bytes(content)
            os.replace(partial, self.directory / f"{number}.eml")
        return "250 Message accepted for delivery"


class _Credentials:
    """aiosmtpd's authenticator: LOGIN and PLAIN against one username and password."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username.encode()
        self.password = password.encode()

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and hmac.compare_digest(data.login, self.username)
            and hmac.compare_digest(data.password, self.password)
        )
        return AuthResult(success=ok, handled=False)


class _Controller(Controller):
    """aiosmtpd's threaded controller, which also closes the connections open when it stops
    (its own stop leaves them to the garbage collector)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        smtp = SMTP(self.handler, **self.SMTP_kwargs)  # what Controller.factory makes
        self.sessions.append(smtp)
        return smtp

    async def close_sessions(self) -> None:
        for smtp in self.sessions:
            if smtp.transport is not None:
                smtp.transport.close()
        await asyncio.sleep(0)  # each transport closes its socket on the next loop iteration
        await asyncio.sleep(0)

    def stop(self, no_assert: bool = False) -> None:
        asyncio.run_coroutine_threadsafe(self.close_sessions(), self.loop).result(timeout=10)
        super().stop(no_assert)


class SmtpServer:
    """An SMTP server on `port` (a free one by default) that keeps messages in `directory`."""

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        *,
        tls_context: ssl.SSLContext | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = directory
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.tls_context = tls_context
        self.credentials = dict(credentials or {})
        self._controller: Controller | None = None

    def start(self) -> None:
        """Listen (again); what was received before stays."""
        if self._controller is not None:
            return
        options: dict[str, Any] = {}
        if self.tls_context is not None:
            options.update(tls_context=self.tls_context, require_starttls=True)
        if self.credentials:
            (username, password), *_ = self.credentials.items()
            options.update(
                authenticator=_Credentials(username, password),
                auth_required=True,
                auth_require_tls=True,
            )
        # Taken (another stack's server): say so now, not after the controller's ready timeout.
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((self.host, self.port))
        # A new controller each time: a stopped one has closed its event loop.
        controller = _Controller(
            _KeepAsFiles(self.directory),
            hostname=self.host,
            port=self.port,
            server_hostname="localhost",
            ready_timeout=10,
            **options,
        )
        try:
            controller.start()
        except BaseException:
            controller.loop.close()
            raise
        self._controller = controller

    def stop(self) -> None:
        """Stop listening: connections are refused until `start`, as in an outage."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def messages(self) -> list[EmailMessage]:
        """Every message received, in arrival order, parsed (email.policy.default)."""
        return read_messages(self.directory)

    def __enter__(self) -> SmtpServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
