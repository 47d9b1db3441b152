"""The images as an operator gets them: built from the Dockerfile exactly as `infra/deploy.py`
builds them, then each Deployment of the rendered dev overlay run as its pod, in a network
namespace of this test run's own (nothing touches the host's ports), against real MongoDB-wire,
NATS and Redis servers, with the local gateway standing in for the ingress.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import deploy
import pytest
import uvicorn
from fleet import Fleet, Servers, StatefulSetRedis
from kube import Doc, Manifests, app_container, render
from pods import ENGINE, Pod, engine, logs, run_command

from tixdev.gateway import Gateway
from tixdev.stack import new_pass_signing_key, register_local_webhook
from tixtest import MongoServer, NatsServer, SmtpServer, StripeServer

ROOT = Path(__file__).resolve().parents[2]
CLONE_NEWNET = 0x40000000
# Where the data servers listen, each on a port of its own; each data workload's Services have
# an address of their own (from 127.0.0.2), their ports forwarded to its server's.
DATA_ADDRESS = "127.0.0.1"
# Not 8080, the web client's default API_URL: a client that is not given a service's own address
# must fail here as it would in the cluster, where nothing answers its default.
GATEWAY_PORT = 8088
# A reservation lapses in seconds here, not the dev overlay's 15 minutes, so one can be seen.
EXPIRATION_WINDOW_SECONDS = "6"


@pytest.fixture(scope="session")
def dev() -> Manifests:
    return Manifests("dev", render("dev"))


@pytest.fixture(scope="session")
def container_engine() -> None:
    subprocess.run([str(ROOT / "scripts" / "ensure-container-engine")], check=True)
    os.environ["CONTAINERS_CONF"] = str(ROOT / "infra" / "containers" / "containers.conf")


@pytest.fixture(scope="session")
def images(container_engine: None) -> dict[str, str]:
    """Every skaffold artifact, built as `infra/deploy.py build` builds it (behind this
    machine's TLS-inspecting proxy, with its CA bundle as a build secret): manifest name ->
    local reference."""
    ca_bundle = Path(os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"))
    built: dict[str, str] = {}
    for image in deploy.images():
        ref = f"localhost/{image.name}:under-test"
        command = deploy.build_command(
            image, ref, engine=ENGINE, ca_bundle=ca_bundle if ca_bundle.exists() else None
        )
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}\n{result.stderr}"
        built[image.name] = ref
    return built


@pytest.fixture(scope="session")
def network_namespace(images: dict[str, str]) -> Iterator[None]:
    """Move this test process (and so every server, container and client it starts from now
    on) into a new network namespace with only a loopback interface; back out at the end.
    The images are built first: their builds download from the package registries."""
    libc = ctypes.CDLL(None, use_errno=True)
    host = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    if libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET): the image tests run as root")
    try:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        yield
    finally:
        libc.setns(host, CLONE_NEWNET)
        os.close(host)


@pytest.fixture(scope="session")
def servers(
    network_namespace: None, dev: Manifests, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    root = tmp_path_factory.mktemp("fleet-servers")
    found = Servers(
        MongoServer(27017, root / "mongo"),
        NatsServer(4222, root / "nats"),
        StatefulSetRedis(dev.get("StatefulSet", "redis"), 6379, root / "redis"),
        StatefulSetRedis(dev.get("StatefulSet", "waitingroom-redis"), 6380, root / "room-redis"),
        StripeServer(data_dir=root / "stripe"),
        SmtpServer(root / "mail", _smtp_port(dev)),
    )
    started = []
    try:
        for server in (found.mongo, found.nats, found.redis, found.room_redis, found.stripe):
            server.start()
            started.append(server)
        with found.smtp:
            yield found
    finally:
        for server in reversed(started):
            server.close()


def _smtp_port(dev: Manifests) -> int:
    """The port the manifests send mail to, one for every service that mails (auth's reset
    links, orders' passes)."""
    ports = set()
    for sender in ("auth", "orders"):
        deployment = dev.get("Deployment", sender)
        ports.add(dev.container_env(deployment, app_container(deployment))["SMTP_PORT"].value)
    (port,) = ports
    assert port is not None
    return int(port)


def _selected(service: Doc) -> str:
    name: str = service["spec"]["selector"]["app.kubernetes.io/name"]
    return name


def _forward(address: str, port: int, target: int, target_address: str | None = None) -> None:
    """A Service's port to its pod's (or its server's), as kube-proxy does (DNAT in this
    namespace only)."""
    destination = f"{target_address or address}:{target}"
    subprocess.run(
        [
            "iptables", "-t", "nat", "-A", "OUTPUT", "-d", address, "-p", "tcp",
            "--dport", str(port), "-j", "DNAT", "--to-destination", destination,
        ],
        check=True,
    )  # fmt: skip


@pytest.fixture(scope="session")
def fleet(dev: Manifests, images: dict[str, str], servers: Servers) -> Iterator[Fleet]:
    """Every Deployment of the dev overlay running as its pod, each Service name resolving to
    its pod (or, for the data Services, to our servers), the gateway in front."""
    deployments = {doc["metadata"]["name"]: doc for doc in dev.of_kind("Deployment")}
    pods = {
        name: Pod(doc, images[doc["spec"]["template"]["spec"]["containers"][0]["image"]],
                  f"127.0.0.{10 + index}")
        for index, (name, doc) in enumerate(sorted(deployments.items()))
    }  # fmt: skip
    hosts: dict[str, str] = {"stripe": DATA_ADDRESS, "mail": DATA_ADDRESS}
    behind = servers.behind()
    data_addresses = {selected: f"127.0.0.{2 + i}" for i, selected in enumerate(sorted(behind))}
    forwarded: set[tuple[str, int]] = set()
    for service in dev.of_kind("Service"):
        name = service["metadata"]["name"]
        selected = _selected(service)
        if selected in pods:
            pod = pods[selected]
            hosts[name] = pod.address
            for port in service["spec"]["ports"]:
                _forward(pod.address, port["port"], pod.port(port["targetPort"]))
            continue
        assert selected in behind, f"no server stands in for {name}"
        hosts[name] = data_addresses[selected]
        for port in service["spec"]["ports"]:
            # One NATS server here: no cluster routes, and nobody scrapes its monitor.
            entry = (hosts[name], port["port"])
            if port["name"] not in ("cluster", "monitor") and entry not in forwarded:
                _forward(*entry, behind[selected].port, DATA_ADDRESS)
                forwarded.add(entry)
    webhook_secret = f"whsec_{secrets.token_hex(16)}"
    secret_values = {
        ("jwt-secret", "JWT_KEY"): secrets.token_urlsafe(48),
        ("pass-secret", "PASS_SIGNING_KEY"): new_pass_signing_key(),
        ("smtp-secret", "SMTP_HOST"): "mail",
        ("stripe-secret", "STRIPE_KEY"): f"sk_test_{secrets.token_hex(12)}",
        ("stripe-secret", "STRIPE_WEBHOOK_SECRET"): webhook_secret,
        ("stripe-secret", "STRIPE_PUBLISHABLE_KEY"): f"pk_test_{secrets.token_hex(12)}",
    }
    # No real Stripe here; no 15-minute wait for a reservation to lapse.
    extra_env = {
        "payments": {"STRIPE_API_BASE": f"http://stripe:{servers.stripe.port}"},
        "orders": {"EXPIRATION_WINDOW_SECONDS": EXPIRATION_WINDOW_SECONDS},
    }
    gateway_app = Gateway({name: f"http://{hosts[name]}" for name in hosts if name in pods})
    gateway = uvicorn.Server(
        uvicorn.Config(gateway_app, host="127.0.0.1", port=GATEWAY_PORT, log_config=None)
    )
    gateway_thread = threading.Thread(target=gateway.run, name="gateway", daemon=True)
    gateway_thread.start()
    gateway_url = f"http://127.0.0.1:{GATEWAY_PORT}"
    register_local_webhook(servers.stripe.url, gateway_url, webhook_secret)
    try:
        for pod in pods.values():
            command = run_command(
                dev,
                pod,
                hosts=hosts,
                secrets=secret_values,
                extra_env=extra_env.get(pod.name, {}),
            )
            engine(*command[1:])
        yield Fleet(dev, pods, servers, gateway_url, webhook_secret)
    finally:
        for pod in pods.values():
            if os.environ.get("TIX_IMAGE_LOGS"):
                print(logs(pod))  # noqa: T201 - asked for
            engine("rm", "--force", "--time", "0", pod.container_name, check=False)
        gateway.should_exit = True
        gateway_thread.join(timeout=10)
