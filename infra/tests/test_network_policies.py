"""The cloud overlays' network: every flow the configuration needs is allowed, and no other.

The flows are derived from the rendered manifests themselves (the URLs in each service's
config, the ingress backends, the NATS cluster routes), then every pair of endpoints and port is
run through an evaluator of the NetworkPolicy semantics (a flow passes when the source's egress
and the destination's ingress both allow it).
"""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from kube import CLOUD_OVERLAYS, NAMESPACE, Doc, Manifests, app_container, pod_spec

DEFAULT_PORTS = {"http": 80, "https": 443, "mongodb": 27017, "nats": 4222, "redis": 6379}


@dataclass(frozen=True)
class Endpoint:
    name: str
    namespace: str | None  # None: outside the cluster
    labels: tuple[tuple[str, str], ...]
    ip: str
    ports: tuple[int, ...] = ()

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True)
class Flow:
    source: str
    destination: str
    port: int
    protocol: str = "TCP"


NAMESPACE_LABELS = {
    namespace: {"kubernetes.io/metadata.name": namespace}
    for namespace in (NAMESPACE, "kube-system", "ingress-nginx", "monitoring")
}
OUTSIDE = [
    Endpoint(
        "ingress-controller",
        "ingress-nginx",
        (("app.kubernetes.io/name", "ingress-nginx"),),
        "10.12.0.2",
    ),
    Endpoint("kube-dns", "kube-system", (("k8s-app", "kube-dns"),), "10.12.0.3", (53,)),
    # The cluster's monitoring: a Prometheus that scrapes, a tracing backend that takes OTLP.
    Endpoint("prometheus", "monitoring", (("app.kubernetes.io/name", "prometheus"),), "10.12.0.4"),
    Endpoint(
        "tracing-backend",
        "monitoring",
        (("app.kubernetes.io/name", "tempo"),),
        "10.12.0.5",
        (4317,),
    ),
    # Stripe's API and the mail relay are somewhere on the internet, at addresses that change.
    Endpoint("internet", None, (), "54.187.174.169", (443, 587, 25, 80, 27017, 22)),
    Endpoint("cloud-metadata", None, (), "169.254.169.254", (80, 443)),
    Endpoint("managed-mongo", None, (), "10.200.0.5", (27017,)),
]


def _matches(selector: Doc, labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _peer_matches(peer: Doc, endpoint: Endpoint) -> bool:
    if "ipBlock" in peer:
        address = ipaddress.ip_address(endpoint.ip)
        block = peer["ipBlock"]
        excluded = any(address in ipaddress.ip_network(c) for c in block.get("except", []))
        return address in ipaddress.ip_network(block["cidr"]) and not excluded
    if endpoint.namespace is None:
        return False
    if "namespaceSelector" in peer:
        if not _matches(peer["namespaceSelector"], NAMESPACE_LABELS[endpoint.namespace]):
            return False
    elif endpoint.namespace != NAMESPACE:
        return False
    return _matches(peer.get("podSelector", {}), endpoint.label_map)


def _rule_allows(rule: Doc, peers_key: str, other: Endpoint, flow: Flow) -> bool:
    peers = rule.get(peers_key)
    if peers and not any(_peer_matches(peer, other) for peer in peers):
        return False
    ports = rule.get("ports")
    return not ports or any(
        p.get("port") == flow.port and p.get("protocol", "TCP") == flow.protocol for p in ports
    )


def _side_allows(
    policies: list[Doc], endpoint: Endpoint, other: Endpoint, flow: Flow, direction: str
) -> bool:
    if endpoint.namespace != NAMESPACE:
        return True  # not ours to police
    selecting = [
        p
        for p in policies
        if direction in p["spec"]["policyTypes"]
        and _matches(p["spec"]["podSelector"], endpoint.label_map)
    ]
    if not selecting:
        return True
    key, peers = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    return any(
        _rule_allows(rule, peers, other, flow)
        for policy in selecting
        for rule in policy["spec"].get(key, [])
    )


def allowed(manifests: Manifests, source: Endpoint, destination: Endpoint, flow: Flow) -> bool:
    policies = manifests.of_kind("NetworkPolicy")
    return _side_allows(policies, source, destination, flow, "Egress") and _side_allows(
        policies, destination, source, flow, "Ingress"
    )


def endpoints(manifests: Manifests) -> dict[str, Endpoint]:
    found = {e.name: e for e in OUTSIDE}
    for index, workload in enumerate(manifests.workloads()):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        ports = tuple(
            port["containerPort"] for c in pod_spec(workload)["containers"]
            for port in c.get("ports", [])
        )  # fmt: skip
        name = workload["metadata"]["name"]
        found[name] = Endpoint(
            name, NAMESPACE, tuple(sorted(labels.items())), f"10.8.0.{index + 10}", ports
        )
    return found


def _workloads_behind(manifests: Manifests, service_name: str, port: int) -> list[tuple[str, int]]:
    """The workloads a Service sends to, with the container port that `port` reaches."""
    service = manifests.get("Service", service_name)
    (service_port,) = [p for p in service["spec"]["ports"] if p["port"] == port]
    behind = []
    for workload in manifests.workloads():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        if not service["spec"]["selector"].items() <= labels.items():
            continue
        target = service_port.get("targetPort", port)
        for container in pod_spec(workload)["containers"]:
            for container_port in container.get("ports", []):
                if target in (container_port["name"], container_port["containerPort"]):
                    behind.append((workload["metadata"]["name"], container_port["containerPort"]))
    assert behind, f"service {service_name}:{port} reaches no container"
    return behind


def needed_flows(manifests: Manifests) -> set[Flow]:
    """What the architecture needs, read off the configuration."""
    flows: set[Flow] = set()
    names = endpoints(manifests)
    for workload in manifests.workloads():
        name = workload["metadata"]["name"]
        flows |= {Flow(name, "kube-dns", 53, "UDP"), Flow(name, "kube-dns", 53, "TCP")}
    for deployment in manifests.service_deployments():
        source = deployment["metadata"]["name"]
        env = manifests.container_env(deployment, app_container(deployment))
        for source_value in env.values():
            if source_value.value is None or "://" not in source_value.value:
                continue
            url = urlsplit(source_value.value)
            if (
                url.hostname is None
                or url.scheme not in DEFAULT_PORTS
                or url.hostname not in {s["metadata"]["name"] for s in manifests.of_kind("Service")}
            ):
                continue
            port = url.port or DEFAULT_PORTS[url.scheme]
            for destination, container_port in _workloads_behind(manifests, url.hostname, port):
                flows.add(Flow(source, destination, container_port))
        if source == "payments":
            flows.add(Flow(source, "internet", 443))
        if smtp_port := env.get("SMTP_PORT"):  # the mail relay, named by smtp-secret
            assert smtp_port.value
            flows.add(Flow(source, "internet", int(smtp_port.value)))
        if metrics_port := env.get("METRICS_PORT"):
            assert metrics_port.value
            flows.add(Flow("prometheus", source, int(metrics_port.value)))
        if env.get("MONGO_URI") and env["MONGO_URI"].secret:  # a managed MongoDB
            flows.add(Flow(source, "managed-mongo", 27017))
    (ingress,) = manifests.of_kind("Ingress")
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            service = manifests.get("Service", path["backend"]["service"]["name"])
            port_name = path["backend"]["service"]["port"]["name"]
            (port,) = [p["port"] for p in service["spec"]["ports"] if p["name"] == port_name]
            for destination, container_port in _workloads_behind(
                manifests, service["metadata"]["name"], port
            ):
                flows.add(Flow("ingress-controller", destination, container_port))
    if "otel-collector" in names:
        collector = manifests.get("Deployment", "otel-collector")
        (backend,) = [
            variable["value"] for variable in pod_spec(collector)["containers"][0]["env"]
            if variable["name"] == "TRACES_BACKEND_ENDPOINT"
        ]  # fmt: skip
        assert ".monitoring." in backend
        flows.add(Flow("otel-collector", "tracing-backend", int(backend.rsplit(":", 1)[1])))
    nats = names["nats"]
    if manifests.get("StatefulSet", "nats")["spec"]["replicas"] > 1:
        flows.add(Flow(nats.name, nats.name, 6222))
    return flows


@pytest.mark.parametrize(
    "variant", [*CLOUD_OVERLAYS, *(f"{c}+managed-mongo" for c in CLOUD_OVERLAYS)]
)
def test_exactly_the_needed_flows_are_allowed(rendered: dict[str, Manifests], variant: str) -> None:
    manifests = rendered[variant]
    names = endpoints(manifests)
    needed = needed_flows(manifests)
    # The architecture as the README draws it: if these are missing, the derivation broke.
    for flow in [
        Flow("client", "auth", 8000),
        Flow("tickets", "nats", 4222),
        Flow("auth", "nats", 4222),
        Flow("expiration-worker", "redis", 6379),
        Flow("waitingroom", "waitingroom-redis", 6379),
        Flow("ingress-controller", "waitingroom", 8000),
        Flow("ingress-controller", "payments", 8000),
        Flow("payments", "internet", 443),
        Flow("orders", "internet", 587),
        Flow("auth", "internet", 587),
        Flow("prometheus", "orders", 9464),
        Flow("expiration-worker", "otel-collector", 4318),
        Flow("otel-collector", "tracing-backend", 4317),
    ]:
        assert flow in needed, flow
    for source, destination in itertools.product(names.values(), repeat=2):
        if source.namespace != NAMESPACE and destination.namespace != NAMESPACE:
            continue
        ports = destination.ports or (80,)
        protocols = ("UDP", "TCP") if destination.name == "kube-dns" else ("TCP",)
        for port, protocol in itertools.product(ports, protocols):
            flow = Flow(source.name, destination.name, port, protocol)
            expected = flow in needed
            assert allowed(manifests, source, destination, flow) is expected, (
                f"{variant}: {flow} should be {'allowed' if expected else 'denied'}"
            )


@pytest.mark.parametrize("cloud", CLOUD_OVERLAYS)
def test_only_payments_and_the_mail_reach_the_internet(
    rendered: dict[str, Manifests], cloud: str
) -> None:
    manifests = rendered[cloud]
    names = endpoints(manifests)
    internet = names["internet"]
    for endpoint in names.values():
        if endpoint.namespace != NAMESPACE:
            continue
        reaches = allowed(manifests, endpoint, internet, Flow(endpoint.name, internet.name, 443))
        assert reaches is (endpoint.name == "payments"), endpoint.name
        mails = allowed(manifests, endpoint, internet, Flow(endpoint.name, internet.name, 587))
        # The buyers' passes (orders) and the password reset links (auth).
        assert mails is (endpoint.name in ("orders", "auth")), endpoint.name
        # Not even payments may reach the cloud's metadata server or private addresses.
        for private in ("cloud-metadata", "managed-mongo"):
            target = names[private]
            assert not allowed(manifests, endpoint, target, Flow(endpoint.name, private, 443))
