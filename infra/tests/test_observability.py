"""The observability component's rules and dashboards: the alert rules valid (`promtool check
rules`) and each firing when it should and not before (`promtool test rules`); every dashboard
query valid PromQL; and all of them written over metrics the services really export."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from kube import VARIANTS, Manifests, app_container, pod_spec
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tixcommon.tracing import OTLP_VARIABLES

OBSERVABILITY = Path(__file__).parents[1] / "k8s" / "components" / "observability"
# Every module that defines metrics: what a scrape of the fleet can show.
METRIC_MODULES = (
    "tixcommon.metrics", "auth.metrics", "orders.metrics", "payments.metrics",
    "expiration.metrics", "waitingroom.metrics",
)  # fmt: skip


DASHBOARDS = sorted((OBSERVABILITY / "dashboards").glob("*.json"))
# What prometheus-client itself exports of every process.
PROCESS_METRICS = {"process_resident_memory_bytes", "process_cpu_seconds_total"}
_METRIC = re.compile(r"\b((?:tixvibe|http_server|process)_[a-z_]+)\b")


def promtool(*args: str, cwd: Path = OBSERVABILITY) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool is not installed: run scripts/ensure-prometheus"
    return subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, check=False)


def dashboard_queries() -> dict[str, str]:
    """Every query of every dashboard, named by dashboard and panel."""
    queries = {}
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel["targets"]:
                queries[f"{path.stem}: {panel['title']} {target['refId']}"] = target["expr"]
    return queries


def test_the_rules_are_valid() -> None:
    checked = promtool("check", "rules", "alerts.yaml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_each_alert_fires_when_it_should_and_not_before() -> None:
    tested = promtool("test", "rules", "alerts-test.yaml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.fixture(scope="module")
def exported() -> set[str]:
    """The names of every sample our processes export (counters' _total, histograms' parts)."""
    for module in METRIC_MODULES:
        importlib.import_module(module)
    families = text_string_to_metric_families(generate_latest(REGISTRY).decode())
    names = set()
    for family in families:
        names |= {family.name, f"{family.name}_total"}
        if family.type == "histogram":
            names |= {f"{family.name}_{part}" for part in ("bucket", "count", "sum")}
    return names


def test_every_alert_reads_metrics_the_services_export(exported: set[str]) -> None:
    used = set(_METRIC.findall((OBSERVABILITY / "alerts.yaml").read_text()))
    assert used, "no metric found in the rules"
    assert used <= exported, sorted(used - exported)


def test_the_four_dashboards_are_there_with_unique_ids() -> None:
    boards = [json.loads(path.read_text()) for path in DASHBOARDS]
    assert {path.stem for path in DASHBOARDS} == {
        "fleet-overview", "purchase-funnel", "events-and-consumers", "payments",
    }  # fmt: skip
    assert len({board["uid"] for board in boards}) == len(boards)
    for board in boards:
        assert [panel["id"] for panel in board["panels"]] == list(
            range(1, len(board["panels"]) + 1)
        )


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    # promtool parses a recording rule's expression: one rule per query.
    rules = [
        {"record": f"dashboard:query:{index}", "expr": expr}
        for index, expr in enumerate(dashboard_queries().values())
    ]
    (tmp_path / "queries.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "q", "rules": rules}]})
    )
    checked = promtool("check", "rules", "queries.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_dashboard_reads_metrics_the_services_export(exported: set[str]) -> None:
    for name, expr in dashboard_queries().items():
        used = set(_METRIC.findall(expr))
        assert used, name
        assert used <= exported | PROCESS_METRICS, (name, sorted(used - exported))


METRICS_PORT = 9464


@pytest.mark.parametrize("variant", [name for name in VARIANTS if name.split("+")[0] != "dev"])
def test_cloud_pods_serve_metrics_on_a_port_only_prometheus_reaches(
    rendered: dict[str, Manifests], variant: str
) -> None:
    manifests = rendered[variant]
    for workload in manifests.service_deployments():
        name = workload["metadata"]["name"]
        template = workload["spec"]["template"]
        app = app_container(workload)
        assert manifests.container_env(workload, app)["METRICS_PORT"].value == str(METRICS_PORT)
        assert {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"} in app.get(
            "ports", []
        ), name
        assert template["metadata"]["annotations"]["prometheus.io/port"] == str(METRICS_PORT)
    # No Service and no ingress rule leads to it: only the pods' own address does.
    for service in manifests.of_kind("Service"):
        for port in service["spec"]["ports"]:
            assert METRICS_PORT not in (port.get("port"), port.get("targetPort")), service
            assert port.get("targetPort") != "metrics", service
    policy = manifests.get("NetworkPolicy", "metrics")
    [allowed] = policy["spec"]["ingress"]
    assert allowed["ports"] == [{"protocol": "TCP", "port": METRICS_PORT}]
    assert allowed["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        }
    ]
    rules = next(
        m
        for m in manifests.of_kind("ConfigMap")
        if m["metadata"]["name"].startswith("prometheus-rules")
    )
    assert yaml.safe_load(rules["data"]["alerts.yaml"]) == yaml.safe_load(
        (OBSERVABILITY / "alerts.yaml").read_text()
    )


def test_the_dev_overlay_serves_no_metrics_and_exports_no_spans(dev: Manifests) -> None:
    for workload in dev.service_deployments():
        env = dev.container_env(workload, app_container(workload))
        assert "METRICS_PORT" not in env
        assert not env.keys() & set(OTLP_VARIABLES)
    assert not dev.has("Deployment", "otel-collector")


def _pipeline_components(config: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            yield from ((kind, name) for name in pipeline.get(kind, []))
    yield from (("extensions", name) for name in config["service"].get("extensions", []))


@pytest.mark.parametrize("variant", [name for name in VARIANTS if name.split("+")[0] != "dev"])
def test_every_process_sends_its_spans_to_the_collector_that_is_deployed(
    rendered: dict[str, Manifests], variant: str
) -> None:
    """The collector's pipeline is whole (every component it names is configured; traces in
    over OTLP/HTTP, out over OTLP), it listens where its Service and every process's
    OTEL_EXPORTER_OTLP_ENDPOINT say, and its probes ask its health check."""
    manifests = rendered[variant]
    collector = manifests.get("Deployment", "otel-collector")
    [container] = pod_spec(collector)["containers"]
    [volume] = pod_spec(collector)["volumes"]
    config_map = manifests.config_map(volume["configMap"]["name"])  # as mounted, hash and all
    config = yaml.safe_load(config_map["collector.yaml"])
    assert config_map["collector.yaml"] == (OBSERVABILITY / "collector.yaml").read_text()
    for kind, name in _pipeline_components(config):
        assert name in config[kind], f"{kind} {name} is used but not configured"
    traces = config["service"]["pipelines"]["traces"]
    assert traces["processors"][0] == "memory_limiter"  # before anything can buffer
    assert [e.split("/")[0] for e in traces["exporters"]] == ["otlp"]
    backend_variable = re.fullmatch(r"\$\{env:(\w+)\}", config["exporters"]["otlp"]["endpoint"])
    assert backend_variable
    assert backend_variable.group(1) in {v["name"] for v in container["env"]}

    receiving_port = int(config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].split(":")[1])
    assert {"name": "otlp-http", "containerPort": receiving_port, "protocol": "TCP"} in container[
        "ports"
    ]
    service = manifests.get("Service", "otel-collector")
    [service_port] = service["spec"]["ports"]
    assert service_port["targetPort"] == "otlp-http"
    health_port = int(config["extensions"]["health_check"]["endpoint"].split(":")[1])
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == health_port
    mount = container["volumeMounts"][0]["mountPath"]
    assert f"--config={mount}/collector.yaml" in container["args"]

    for workload in manifests.service_deployments():
        env = manifests.container_env(workload, app_container(workload))
        endpoint = urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"].value or "")
        assert (endpoint.scheme, endpoint.hostname, endpoint.port) == (
            "http", service["metadata"]["name"], service_port["port"],
        ), workload["metadata"]["name"]  # fmt: skip
