"""The Kubernetes manifests: valid, secure, and consistent with the code they deploy."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest
from fastapi import FastAPI
from kube import (
    CLOUD_OVERLAYS,
    K8S,
    MIN_KUBERNETES,
    VARIANTS,
    Doc,
    Manifests,
    app_container,
    containers,
    pod_spec,
)

from auth.app import create_app as create_auth
from auth.settings import AuthSettings
from expiration.app import create_app as create_expiration
from expiration.settings import ExpirationSettings
from orders.app import create_app as create_orders
from orders.settings import OrdersSettings
from payments.app import create_app as create_payments
from payments.settings import PaymentsSettings
from tickets.app import create_app as create_tickets
from tickets.settings import TicketsSettings
from tixcommon.mail import MailSettings
from tixcommon.route_table import DEFAULT_SERVICE, ROUTES, service_for
from tixcommon.settings import EventServiceSettings, ProcessSettings
from tixcommon.tracing import OTLP_VARIABLES
from tixdev.stack import new_pass_signing_key
from waitingroom.app import create_app as create_waitingroom
from waitingroom.settings import WaitingRoomSettings
from webclient.app import create_app as create_client
from webclient.settings import ClientSettings

# What runs in each image (by package), and how it is configured.
SETTINGS: dict[str, type[ProcessSettings]] = {
    "auth": AuthSettings,
    "tickets": TicketsSettings,
    "orders": OrdersSettings,
    "expiration": ExpirationSettings,
    "payments": PaymentsSettings,
    "waitingroom": WaitingRoomSettings,
    "client": ClientSettings,
}
APPS: dict[str, Callable[[Any], FastAPI]] = {
    "auth": create_auth,
    "tickets": create_tickets,
    "orders": create_orders,
    "expiration": create_expiration,
    "payments": create_payments,
    "waitingroom": create_waitingroom,
    "client": create_client,
}
# Each user of Redis has its own (the room's load must never slow the reservation clock).
REDIS_OF = {"expiration": "redis", "waitingroom": "waitingroom-redis"}
SECRETS = {"jwt-secret", "pass-secret", "smtp-secret", "stripe-secret", "mongo-uri"}
UVICORN_GRACEFUL_SECONDS = 15  # tixcommon.process


def package_of(deployment: Doc) -> str:
    image: str = app_container(deployment)["image"]
    return image.rsplit("/", 1)[-1].split(":")[0]


def variants() -> list[str]:
    return list(VARIANTS)


@pytest.mark.parametrize("variant", variants())
def test_every_overlay_validates_against_the_kubernetes_schemas(
    rendered: dict[str, Manifests], variant: str
) -> None:
    for doc in rendered[variant].docs:
        where = f"{variant}: {doc['kind']}/{doc['metadata']['name']}"
        try:
            kubernetes_validate.validate(doc, MIN_KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{where}: {error.message} at {list(error.path)}")


@pytest.mark.parametrize("variant", variants())
def test_every_pod_runs_restricted(rendered: dict[str, Manifests], variant: str) -> None:
    manifests = rendered[variant]
    for workload in manifests.workloads():
        name = workload["metadata"]["name"]
        spec = pod_spec(workload)
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in containers(workload):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            # Only the dev overlay lets skaffold sync files into the services' containers.
            synced = variant == "dev" and container["name"] == "app"
            assert context["readOnlyRootFilesystem"] is not synced, name
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), name
            assert {"cpu", "memory"} <= resources["limits"].keys(), name
    for account in manifests.of_kind("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False
    for deployment in manifests.service_deployments():
        # Each service has an account of its own (the worker shares expiration's).
        account = pod_spec(deployment)["serviceAccountName"]
        assert account == package_of(deployment)
        assert manifests.has("ServiceAccount", account)
    namespace = manifests.get("Namespace", "tixvibe")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def _settings_for(package: str, environment: dict[str, str]) -> ProcessSettings:
    return SETTINGS[package].model_validate(
        {key.lower(): value for key, value in environment.items()}
    )


def _stand_in(variable: str) -> str:
    """A value of the right shape for a secret: pass keys are Ed25519 keys, and a retired
    key's list may be empty."""
    if variable == "PASS_SIGNING_KEY":
        return new_pass_signing_key()
    if variable in ("PASS_RETIRED_KEYS", "SMTP_USERNAME", "SMTP_PASSWORD"):
        return ""  # optional: none, or a relay that takes no account
    if variable == "SMTP_HOST":
        return "smtp.example.com"
    return secrets.token_urlsafe(48)


@pytest.mark.parametrize("variant", variants())
def test_every_setting_a_service_requires_is_provided_and_none_is_unknown(
    rendered: dict[str, Manifests], variant: str
) -> None:
    manifests = rendered[variant]
    for deployment in manifests.service_deployments():
        name = deployment["metadata"]["name"]
        settings_type = SETTINGS[package_of(deployment)]
        container = app_container(deployment)
        env = manifests.container_env(deployment, container)
        # Besides the settings, the OpenTelemetry SDK's own variables (read by the exporter).
        fields = {field_name.upper() for field_name in settings_type.model_fields}
        fields |= set(OTLP_VARIABLES)
        required = {n.upper() for n, f in settings_type.model_fields.items() if f.is_required()}
        assert required <= env.keys(), f"{name} lacks {sorted(required - env.keys())}"
        assert env.keys() <= fields, f"{name}: unknown settings {sorted(env.keys() - fields)}"
        for variable, source in env.items():
            if source.secret is not None:
                assert source.secret[0] in SECRETS, f"{name}: {variable} from {source.secret}"
                assert not source.optional or variable not in required, name
        # The literal values are valid too: load the settings with stand-ins for the secrets.
        values = {
            k: s.value for k, s in env.items() if s.value is not None and k not in OTLP_VARIABLES
        }
        stand_ins = {k: _stand_in(k) for k, s in env.items() if s.secret}
        settings = _settings_for(package_of(deployment), {**values, **stand_ins})
        assert settings.port == 8000, name
        if variant.startswith("dev"):
            assert settings.environment == "dev"
        else:
            assert settings.environment == "production"


@pytest.mark.parametrize("variant", variants())
async def test_probes_hit_routes_the_services_have(
    rendered: dict[str, Manifests], variant: str
) -> None:
    apps: dict[str, httpx.AsyncClient] = {}
    for package, factory in APPS.items():
        settings = _settings_for(
            package,
            {
                "JWT_KEY": secrets.token_urlsafe(48),
                "PASS_SIGNING_KEY": new_pass_signing_key(),
                "SMTP_HOST": "unused",
                "MAIL_FROM": "TixVibe <tickets@tixvibe.test>",
                "PUBLIC_URL": "http://unused",
                "MONGO_URI": "mongodb://unused",
                "NATS_URL": "nats://unused",
                "REDIS_URL": "redis://unused",
                "STRIPE_KEY": "unused",
                "STRIPE_WEBHOOK_SECRET": "unused",
            },
        )
        # No lifespan: nothing connects; a route that exists answers anything but 404/405.
        transport = httpx.ASGITransport(factory(settings), raise_app_exceptions=False)
        apps[package] = httpx.AsyncClient(transport=transport, base_url="http://probe")
    manifests = rendered[variant]
    for deployment in manifests.service_deployments():
        name = deployment["metadata"]["name"]
        container = app_container(deployment)
        if deployment["metadata"]["labels"]["app.kubernetes.io/component"] == "worker":
            assert container["livenessProbe"]["exec"]["command"] == [
                "tix-expiration-worker",
                "--check",
            ]
            continue
        probes = {kind: container[kind] for kind in ("startupProbe", "readinessProbe")}
        probes["livenessProbe"] = container["livenessProbe"]
        assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        for probe in probes.values():
            response = await apps[package_of(deployment)].get(probe["httpGet"]["path"])
            assert response.status_code not in (404, 405), (name, probe)
            assert probe["httpGet"]["port"] == "http"
        assert {"name": "http", "containerPort": 8000, "protocol": "TCP"} in container["ports"]
    for client in apps.values():
        await client.aclose()


@pytest.mark.parametrize("variant", variants())
def test_services_stop_gracefully_after_draining_nats(
    rendered: dict[str, Manifests], variant: str
) -> None:
    manifests = rendered[variant]
    for deployment in manifests.service_deployments():
        settings_type = SETTINGS[package_of(deployment)]
        drain = 0.0
        if issubclass(settings_type, EventServiceSettings):
            drain = settings_type.model_fields["drain_timeout_seconds"].default
        container = app_container(deployment)
        pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {})
        needed = pre_stop.get("seconds", 0) + UVICORN_GRACEFUL_SECONDS + drain
        assert pod_spec(deployment)["terminationGracePeriodSeconds"] > needed


@pytest.mark.parametrize("variant", variants())
def test_every_service_that_mails_uses_the_one_relay_and_sender(
    rendered: dict[str, Manifests], variant: str
) -> None:
    """One relay, one From and one public address for the platform's mail, whoever sends it
    (a second copy of them would drift)."""
    manifests = rendered[variant]
    mail_variables = {"SMTP_HOST", "SMTP_PORT", "SMTP_STARTTLS", "SMTP_USERNAME"}
    mail_variables |= {"SMTP_PASSWORD", "MAIL_FROM", "PUBLIC_URL"}
    senders = {}
    for deployment in manifests.service_deployments():
        if issubclass(SETTINGS[package_of(deployment)], MailSettings):
            env = manifests.container_env(deployment, app_container(deployment))
            senders[deployment["metadata"]["name"]] = {v: env.get(v) for v in mail_variables}
    assert senders.keys() == {"auth", "orders"}
    assert senders["auth"] == senders["orders"]


def _path_regex(path: str) -> re.Pattern[str]:
    # ingress-nginx with use-regex: each path is an anchored, case-insensitive regex.
    return re.compile("^" + path, re.IGNORECASE)


@pytest.mark.parametrize("variant", variants())
def test_the_ingress_routes_exactly_as_the_gateway(
    rendered: dict[str, Manifests], variant: str
) -> None:
    (ingress,) = rendered[variant].of_kind("Ingress")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/use-regex"] == "true"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (rule,) = ingress["spec"]["rules"]
    paths = [(p["path"], p["backend"]["service"]["name"]) for p in rule["http"]["paths"]]
    assert {service for _, service in paths} == {s for _, s in ROUTES} | {DEFAULT_SERVICE}
    # ingress-nginx tries the longest path first; the first regex that matches wins.
    ordered = sorted(paths, key=lambda item: len(item[0]), reverse=True)

    def route(path: str) -> str:
        service: str = next(s for p, s in ordered if _path_regex(p).search(path))
        return service

    probes = ["/", "/tickets/new", "/api", "/api/", "/apiusers", "/favicon.svg"]
    for prefix, _ in ROUTES:
        probes += [prefix, prefix + "/", prefix + "/x/y", prefix.upper() + "/Z", prefix + "X"]
        probes += [prefix + "?q=1", prefix + "s", "/x" + prefix]
    for path in probes:
        bare = path.split("?")[0]  # nginx matches locations against the path alone
        assert route(bare) == service_for(bare), path
    if variant.startswith("dev"):
        assert rule["host"] == "tixvibe.dev"
        assert "tls" not in ingress["spec"]
    else:
        (tls,) = ingress["spec"]["tls"]
        assert tls["hosts"] == [rule["host"]]
        assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]


@pytest.mark.parametrize("variant", variants())
def test_every_service_reaches_the_backends_its_settings_name(
    rendered: dict[str, Manifests], variant: str
) -> None:
    """The URLs in the config name Services that exist and select the right workload."""
    manifests = rendered[variant]
    managed = variant.endswith("managed-mongo")
    for deployment in manifests.service_deployments():
        name = deployment["metadata"]["name"]
        package = package_of(deployment)
        env = manifests.container_env(deployment, app_container(deployment))
        if "MONGO_URI" in env:
            source = env["MONGO_URI"]
            if managed:
                assert source.secret == ("mongo-uri", package), name
            else:
                assert source.value == (
                    f"mongodb://{package}-mongo:27017/?directConnection=true"
                ), name
                service = manifests.get("Service", f"{package}-mongo")
                mongo = manifests.get("StatefulSet", f"{package}-mongo")
                selector = service["spec"]["selector"]
                assert selector.items() <= mongo["spec"]["template"]["metadata"]["labels"].items()
        for variable, service_name in (
            ("NATS_URL", "nats"),
            ("REDIS_URL", REDIS_OF.get(package, "")),
        ):
            if variable in env:
                url = env[variable].value
                assert url is not None
                assert f"//{service_name}:" in url, (name, url)
                service = manifests.get("Service", service_name)
                # The Service reaches its own StatefulSet's pods, and no other workload's.
                selector = service["spec"]["selector"].items()
                selected = [
                    w["metadata"]["name"] for w in manifests.workloads()
                    if selector <= w["spec"]["template"]["metadata"]["labels"].items()
                ]  # fmt: skip
                assert selected == [service_name], (service_name, selected)
        if package == "client":
            for _, routed in ROUTES:
                assert env[f"{routed.upper()}_URL"].value == f"http://{routed}"
                assert manifests.has("Service", routed)
    if managed:
        assert not [s for s in manifests.of_kind("StatefulSet") if "mongo" in s["metadata"]["name"]]


def test_in_cluster_mongo_is_a_single_node_replica_set_on_a_volume(dev: Manifests) -> None:
    for package in ("auth", "tickets", "orders", "expiration", "payments", "waitingroom"):
        mongo = dev.get("StatefulSet", f"{package}-mongo")
        (container,) = pod_spec(mongo)["containers"]
        assert container["args"][:2] == ["--replSet", "rs0"]
        init = " ".join(container["lifecycle"]["postStart"]["exec"]["command"])
        assert "rs.initiate(" in init
        assert "rs.status()" in init
        assert "isWritablePrimary" in " ".join(container["readinessProbe"]["exec"]["command"])
        (claim,) = mongo["spec"]["volumeClaimTemplates"]
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert mounts[claim["metadata"]["name"]] == "/data/db"


@pytest.mark.parametrize("name", sorted(REDIS_OF.values()))
def test_each_redis_appends_every_write_to_a_volume_each_second(dev: Manifests, name: str) -> None:
    redis = dev.get("StatefulSet", name)
    (container,) = pod_spec(redis)["containers"]
    args = container["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    # What a crash can lose is at most the last second (docs/deploying.md).
    assert args[args.index("--appendfsync") + 1] == "everysec"
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == args[args.index("--dir") + 1]


def test_the_rooms_redis_refuses_writes_when_full_rather_than_evict_places(dev: Manifests) -> None:
    (container,) = pod_spec(dev.get("StatefulSet", "waitingroom-redis"))["containers"]
    args = container["args"]
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    most = int(args[args.index("--maxmemory") + 1].removesuffix("mb"))
    limit = int(container["resources"]["limits"]["memory"].removesuffix("Mi"))
    # Room under the limit for an append-only-file rewrite's copy-on-write pages.
    assert most * 2 <= limit


def _nats_config(manifests: Manifests) -> str:
    nats = manifests.get("StatefulSet", "nats")
    (volume,) = [v for v in pod_spec(nats)["volumes"] if v["name"] == "config"]
    config: str = manifests.config_map(volume["configMap"]["name"])["nats.conf"]
    return config


def test_nats_is_one_jetstream_server_in_dev(dev: Manifests) -> None:
    nats = dev.get("StatefulSet", "nats")
    assert nats["spec"]["replicas"] == 1
    config = _nats_config(dev)
    assert "jetstream" in config
    assert "cluster" not in config


@pytest.mark.parametrize("cloud", CLOUD_OVERLAYS)
def test_nats_is_a_three_node_cluster_with_replicated_streams_in_the_cloud(
    rendered: dict[str, Manifests], cloud: str
) -> None:
    manifests = rendered[cloud]
    nats = manifests.get("StatefulSet", "nats")
    assert nats["spec"]["replicas"] == 3
    config = _nats_config(manifests)
    routes = re.findall(r"nats://(nats-\d)\.([a-z-]+):6222", config)
    assert sorted(pod for pod, _ in routes) == ["nats-0", "nats-1", "nats-2"]
    assert {service for _, service in routes} == {nats["spec"]["serviceName"]}
    assert manifests.get("Service", nats["spec"]["serviceName"])["spec"]["clusterIP"] == "None"
    (container,) = pod_spec(nats)["containers"]
    (claim,) = nats["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert f"store_dir: {mounts[claim['metadata']['name']]}" in config
    assert {p["name"]: p["containerPort"] for p in container["ports"]}["monitor"] == 8222
    assert "/healthz" in container["livenessProbe"]["httpGet"]["path"]
    pdb = manifests.get("PodDisruptionBudget", "nats")
    assert pdb["spec"]["maxUnavailable"] == 1
    for deployment in manifests.service_deployments():
        if issubclass(SETTINGS[package_of(deployment)], EventServiceSettings):
            env = manifests.container_env(deployment, app_container(deployment))
            assert env["EVENTS_STREAM_REPLICAS"].value == "3"


@pytest.mark.parametrize("cloud", CLOUD_OVERLAYS)
def test_production_runs_two_of_everything_spread_budgeted_and_autoscaled(
    rendered: dict[str, Manifests], cloud: str
) -> None:
    manifests = rendered[cloud]
    budgets = {p["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]: p for p in
               manifests.of_kind("PodDisruptionBudget")}  # fmt: skip
    scalers = {h["spec"]["scaleTargetRef"]["name"]: h for h in
               manifests.of_kind("HorizontalPodAutoscaler")}  # fmt: skip
    for deployment in manifests.service_deployments():
        name = deployment["metadata"]["name"]
        assert deployment["spec"]["replicas"] >= 2, name
        assert budgets[name]["spec"]["minAvailable"] == 1, name
        keys = {c["topologyKey"] for c in pod_spec(deployment)["topologySpreadConstraints"]}
        assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}, name
    http_facing = {service for _, service in ROUTES} | {DEFAULT_SERVICE}
    assert scalers.keys() == http_facing
    for scaler in scalers.values():
        assert scaler["spec"]["minReplicas"] >= 2


def test_dev_runs_one_of_each_without_production_extras(dev: Manifests) -> None:
    assert all(d["spec"]["replicas"] == 1 for d in dev.service_deployments())
    for kind in ("HorizontalPodAutoscaler", "NetworkPolicy"):
        assert not dev.of_kind(kind)


@pytest.mark.parametrize("variant", variants())
def test_no_secret_is_in_the_manifests(rendered: dict[str, Manifests], variant: str) -> None:
    assert not rendered[variant].of_kind("Secret")


def test_no_secret_value_is_committed() -> None:
    secret_like = re.compile(
        r"(sk|rk)_(test|live)_[A-Za-z0-9]{8,}|whsec_[A-Za-z0-9]{8,}|JWT_KEY\s*[=:]\s*\S{16,}"
        r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    )
    root = K8S.parent.parent
    checked = 0
    for path in [*K8S.rglob("*"), root / "skaffold.yaml", *root.glob(".github/workflows/*")]:
        if path.is_file():
            checked += 1
            text = Path(path).read_text()
            assert not secret_like.search(text), path
    assert checked > 20
