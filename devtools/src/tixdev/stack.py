"""`tix dev`: the whole platform on one machine, on embedded defaults.

Infrastructure (a MongoDB-wire server, NATS JetStream, Redis with append-only persistence) keeps
its data under `.dev/` so a restart finds it again; any MONGO_URI / NATS_URL / REDIS_URL in the
environment is used instead of starting our own. Mail goes to a local SMTP server that keeps each
message as `.dev/mail/<n>.eml` (`tix mail` lists them), unless SMTP_HOST points elsewhere.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from tixcommon.route_table import ROUTED_SERVICES
from tixcommon.tracing import SPANS_DIR_VARIABLE
from tixdev.gateway import Gateway
from tixdev.mail_server import SmtpServer
from tixdev.servers import (
    ManagedServer,
    MongoServer,
    NatsServer,
    RedisServer,
    StripeServer,
)
from tixdev.services import platform_services
from tixdev.supervisor import SupervisedProcess, prefix, say, wait_ready


@dataclass
class StackConfig:
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("TIX_DATA_DIR", ".dev")))
    base_port: int = field(default_factory=lambda: int(os.environ.get("TIX_BASE_PORT", "3000")))
    gateway_port: int = field(
        default_factory=lambda: int(os.environ.get("TIX_GATEWAY_PORT", "8080"))
    )
    ready_timeout: float = 60.0
    # The first restart delay of a crashed process, doubling up to 30 s.
    restart_backoff: float = field(
        default_factory=lambda: float(os.environ.get("TIX_RESTART_BACKOFF_SECONDS", "0.5"))
    )
    # The local SMTP server's: 3025 by default, beside the services' ports.
    smtp_port: int | None = field(
        default_factory=lambda: int(port) if (port := os.environ.get("TIX_SMTP_PORT")) else None
    )

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"


def local_secret(data_dir: Path, variable: str, make: Callable[[], str]) -> str:
    """A secret from the environment, else one generated for this machine and kept private
    under the data folder, so sessions (and the like) survive restarts."""
    if value := os.environ.get(variable):
        return value
    path = data_dir / variable.lower()
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def new_pass_signing_key() -> str:
    """An Ed25519 signing key as orders takes it: a 32-byte random seed, base64url."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def secrets_env(data_dir: Path) -> dict[str, str]:
    return {
        "JWT_KEY": local_secret(data_dir, "JWT_KEY", lambda: secrets.token_urlsafe(48)),
        "PASS_SIGNING_KEY": local_secret(data_dir, "PASS_SIGNING_KEY", new_pass_signing_key),
        "STRIPE_KEY": local_secret(
            data_dir, "STRIPE_KEY", lambda: f"sk_test_local{secrets.token_hex(12)}"
        ),
        "STRIPE_WEBHOOK_SECRET": local_secret(
            data_dir, "STRIPE_WEBHOOK_SECRET", lambda: f"whsec_{secrets.token_hex(16)}"
        ),
    }


def start_infrastructure(config: StackConfig) -> tuple[dict[str, str], list[ManagedServer]]:
    env: dict[str, str] = {}
    started: list[ManagedServer] = []
    wanted: list[tuple[str, ManagedServer]] = [
        ("MONGO_URI", MongoServer(data_dir=config.data_dir / "mongo")),
        ("NATS_URL", NatsServer(data_dir=config.data_dir / "nats")),
        ("REDIS_URL", RedisServer(data_dir=config.data_dir / "redis", append_only=True)),
        ("STRIPE_API_BASE", StripeServer(data_dir=config.data_dir / "stripe")),
    ]
    for variable, server in wanted:
        if given := os.environ.get(variable):
            say(f"{server.name}: using {variable}={given}")
            env[variable] = given
            continue
        server.start()
        started.append(server)
        env[variable] = server.url
        say(f"{server.name}: {server.url} (data in {server.data_dir}, log {server.log_path})")
    return env, started


def start_mail(config: StackConfig) -> tuple[dict[str, str], SmtpServer | None]:
    """The services' mail settings: the local SMTP server (started here, on a thread of `tix
    dev`), or the relay SMTP_HOST names; links in messages lead to the gateway."""
    env = {
        "MAIL_FROM": os.environ.get("MAIL_FROM", "TixVibe <tickets@tixvibe.dev>"),
        "PUBLIC_URL": os.environ.get("PUBLIC_URL", f"http://127.0.0.1:{config.gateway_port}"),
    }
    if given := os.environ.get("SMTP_HOST"):
        say(f"smtp: using SMTP_HOST={given}")
        return env, None
    server = SmtpServer(config.mail_dir, config.smtp_port or config.base_port + 25)
    try:
        server.start()
    except OSError:
        if config.smtp_port is not None:
            raise
        # The usual port is taken (another stack, or a test's on free ports): any free one,
        # since the services are told which.
        server = SmtpServer(config.mail_dir)
        server.start()
    say(f"smtp: {server.host}:{server.port} (messages in {config.mail_dir}: `tix mail`)")
    env.update(SMTP_HOST=server.host, SMTP_PORT=str(server.port), SMTP_STARTTLS="false")
    return env, server


def service_overrides(service: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`TIX_<SERVICE>__<VARIABLE>=value` sets VARIABLE for that one process (e.g.
    TIX_ORDERS__LOG_LEVEL=DEBUG, TIX_EXP_WORKER__NATS_URL=...)."""
    prefix = f"TIX_{service.upper().replace('-', '_')}__"
    source = os.environ if environ is None else environ
    return {k.removeprefix(prefix): v for k, v in source.items() if k.startswith(prefix)}


def register_local_webhook(stripe_url: str, gateway_url: str, secret: str) -> None:
    """Have the embedded Stripe-compatible server send its events to payments' webhook, as
    Stripe does in production (it settles a charge whose request crashed)."""
    response = httpx.post(
        f"{stripe_url}/_config/webhooks/tixvibe",
        data={"url": f"{gateway_url}/api/payments/webhook", "secret": secret},
        timeout=10,
    )
    response.raise_for_status()


async def run_stack(config: StackConfig) -> int:
    infra_env, servers = start_infrastructure(config)
    mail_env, mail_server = start_mail(config)
    specs = platform_services(config.base_port)
    base_env = {
        **os.environ,
        "ENVIRONMENT": os.environ.get("ENVIRONMENT", "dev"),
        **secrets_env(config.data_dir),
        **infra_env,
        **mail_env,
    }
    backends = {spec.name: f"http://127.0.0.1:{spec.port}" for spec in specs if spec.serves_http}
    gateway_url = f"http://127.0.0.1:{config.gateway_port}"
    state_file = config.data_dir / "stack.json"
    state_file.write_text(
        json.dumps(
            {
                "gateway": gateway_url,
                "services": backends,
                "metrics": {
                    spec.name: f"http://127.0.0.1:{spec.metrics_port}/metrics" for spec in specs
                },
                "nats_url": base_env["NATS_URL"],
                "mongo_url": base_env["MONGO_URI"],
                "redis_url": base_env["REDIS_URL"],
                "stripe_url": base_env["STRIPE_API_BASE"],
                "smtp": f"{base_env['SMTP_HOST']}:{base_env.get('SMTP_PORT', '')}",
                "mail_dir": str(config.mail_dir),
            },
            indent=2,
        )
    )
    if any(isinstance(server, StripeServer) for server in servers):
        register_local_webhook(
            base_env["STRIPE_API_BASE"], gateway_url, base_env["STRIPE_WEBHOOK_SECRET"]
        )
    per_service = {
        # The web client calls the services directly, as in Kubernetes (see client.settings).
        "client": {
            "API_URL": gateway_url,
            **{f"{name.upper()}_URL": backends[name] for name in ROUTED_SERVICES},
            "STRIPE_JS_URL": f"{base_env['STRIPE_API_BASE']}/js.stripe.com/v3/",
            "STRIPE_PUBLISHABLE_KEY": os.environ.get(
                "STRIPE_PUBLISHABLE_KEY", "pk_test_tixvibe_local"
            ),
        }
    }
    width = max(len(spec.name) for spec in specs) + 2
    run_dir = config.data_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    processes = [
        SupervisedProcess(
            spec,
            {
                **base_env,
                "PORT": str(spec.port),
                "METRICS_PORT": str(spec.metrics_port),
                # Every process keeps its spans on disk, for `tix trace` (tixcommon.tracing).
                SPANS_DIR_VARIABLE: str(config.data_dir / "spans"),
                "HOST": "127.0.0.1",
                **spec.env,
                **per_service.get(spec.name, {}),
                **service_overrides(spec.name),
            },
            prefix(spec.name, index, max(width, 10)),
            pid_file=run_dir / f"{spec.name}.pid",
            first_backoff=config.restart_backoff,
        )
        for index, spec in enumerate(specs)
    ]
    tasks = [asyncio.create_task(process.run()) for process in processes]
    gateway = Gateway(backends)
    gateway_server = uvicorn.Server(
        uvicorn.Config(
            gateway,
            host="127.0.0.1",
            port=config.gateway_port,
            log_config=None,
            access_log=False,
            lifespan="on",
            # The backend's own Date and Server headers pass through; don't add a second pair.
            server_header=False,
            date_header=False,
        )
    )
    tasks.append(asyncio.create_task(gateway_server.serve()))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        served = [spec for spec in specs if spec.ready_url is not None]
        ready = await asyncio.gather(
            *(wait_ready(spec.ready_url or "", config.ready_timeout) for spec in served)
        )
        for spec, ok in zip(served, ready, strict=True):
            if not ok:
                say(f"{spec.name} did not become ready at {spec.ready_url}")
        if all(ready):
            for spec in served:
                say(f"{spec.name} ready on http://127.0.0.1:{spec.port}")
            say(f"gateway on http://127.0.0.1:{config.gateway_port} (routes like the ingress)")
            say(f"TixVibe is up: open http://127.0.0.1:{config.gateway_port}  (Ctrl-C stops)")
        await stop.wait()
    finally:
        say("stopping...")
        gateway_server.should_exit = True
        await asyncio.gather(*(process.stop() for process in processes))
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for server in reversed(servers):
            server.stop()
        if mail_server is not None:
            mail_server.stop()
        state_file.unlink(missing_ok=True)
        say("stopped")
    return 0
