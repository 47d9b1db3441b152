"""Running a rendered Deployment's pod with Podman, as the kubelet would run it.

Everything comes from the rendered manifest: the image, the command and arguments, the
environment (ConfigMaps and Secret references), the security context, the emptyDir volumes and
the probes. What a cluster would add, the test supplies in its place: the Secrets' values, the
names of the Kubernetes Services (each a loopback address of the test's own network namespace,
port 80 forwarded to the pod's port as a Service does) and the pod's address (`HOST`).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from kube import Doc, Manifests, app_container, pod_spec

ENGINE = "podman"


@dataclass(frozen=True)
class Pod:
    """One Deployment's pod: its container's name and the address it listens on."""

    deployment: Doc
    image: str
    address: str

    @property
    def name(self) -> str:
        name: str = self.deployment["metadata"]["name"]
        return name

    @property
    def container_name(self) -> str:
        return f"tixvibe-{self.name}"

    @property
    def container(self) -> Doc:
        return app_container(self.deployment)

    @property
    def grace_seconds(self) -> int:
        grace: int = pod_spec(self.deployment)["terminationGracePeriodSeconds"]
        return grace

    @property
    def pre_stop_seconds(self) -> int:
        pre_stop = self.container.get("lifecycle", {}).get("preStop", {})
        seconds: int = pre_stop.get("sleep", {}).get("seconds", 0)
        return seconds

    def port(self, name: str) -> int:
        (port,) = [p["containerPort"] for p in self.container["ports"] if p["name"] == name]
        found: int = port
        return found


def environment(
    manifests: Manifests, pod: Pod, secrets: Mapping[tuple[str, str], str]
) -> dict[str, str]:
    """The container's variables as the kubelet resolves them; a Secret key the test does not
    give is left out only where the manifest marks it optional."""
    env: dict[str, str] = {}
    for name, source in manifests.container_env(pod.deployment, pod.container).items():
        if source.secret is not None:
            if source.secret in secrets:
                env[name] = secrets[source.secret]
            elif not source.optional:
                raise AssertionError(f"{pod.name}: the test has no value for {source.secret}")
        else:
            assert source.value is not None
            env[name] = source.value
    return env


def run_command(
    manifests: Manifests,
    pod: Pod,
    *,
    hosts: Mapping[str, str],
    secrets: Mapping[tuple[str, str], str],
    extra_env: Mapping[str, str],
) -> list[str]:
    spec = pod_spec(pod.deployment)
    pod_security = spec["securityContext"]
    security = pod.container["securityContext"]
    command = [
        ENGINE, "run", "--detach", "--replace",
        "--name", pod.container_name,
        "--network", "host",
        "--user", f"{pod_security['runAsUser']}:{pod_security['runAsGroup']}",
        "--group-add", str(pod_security["fsGroup"]),
        "--stop-timeout", str(pod.grace_seconds),
    ]  # fmt: skip
    assert pod_security["runAsNonRoot"]
    assert pod_security["runAsUser"] != 0
    assert pod_security["seccompProfile"]["type"] == "RuntimeDefault"  # Podman's default
    for capability in security["capabilities"]["drop"]:
        command += ["--cap-drop", capability]
    if not security["allowPrivilegeEscalation"]:
        command += ["--security-opt", "no-new-privileges"]
    assert not security["privileged"]
    if security["readOnlyRootFilesystem"]:
        command.append("--read-only")
    volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
    for mount in pod.container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        assert "emptyDir" in volume, f"{pod.name}: only emptyDir volumes run here"
        size = volume["emptyDir"].get("sizeLimit", "64Mi").replace("Mi", "m")
        command += ["--tmpfs", f"{mount['mountPath']}:rw,size={size},mode=1777"]
    for host, address in hosts.items():
        command += ["--add-host", f"{host}:{address}"]
    env = {**environment(manifests, pod, secrets), **extra_env, "HOST": pod.address}
    for name, value in env.items():
        command += ["--env", f"{name}={value}"]
    if "command" in pod.container:
        entrypoint, *rest = pod.container["command"]
        command += ["--entrypoint", entrypoint, pod.image, *rest]
    else:
        command.append(pod.image)
    command += pod.container.get("args", [])
    return command


def engine(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ENGINE, *args], capture_output=True, text=True, check=check, timeout=timeout
    )


def logs(pod: Pod) -> str:
    result = engine("logs", "--tail", "60", pod.container_name, check=False)
    return f"--- {pod.name} logs ---\n{result.stdout}{result.stderr}"


def running(pod: Pod) -> bool:
    result = engine("inspect", "--format", "{{.State.Running}}", pod.container_name, check=False)
    return result.stdout.strip() == "true"


def probe(pod: Pod, probe_spec: Doc) -> bool:
    """One probe as the kubelet runs it: an HTTP GET on the pod's port, or a command in it."""
    timeout = float(probe_spec.get("timeoutSeconds", 1))
    if "httpGet" in probe_spec:
        get = probe_spec["httpGet"]
        port = get["port"] if isinstance(get["port"], int) else pod.port(get["port"])
        try:
            response = httpx.get(f"http://{pod.address}:{port}{get['path']}", timeout=timeout)
        except httpx.TransportError:
            return False
        return 200 <= response.status_code < 400
    command = probe_spec["exec"]["command"]
    result = engine("exec", pod.container_name, *command, check=False, timeout=timeout + 30)
    return result.returncode == 0


def wait_for_probe(pod: Pod, kind: str, deadline_seconds: float) -> None:
    probe_spec = pod.container[kind]
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if probe(pod, probe_spec):
            return
        if not running(pod):
            raise AssertionError(f"{pod.name} exited before its {kind} passed\n{logs(pod)}")
        time.sleep(0.25)
    raise AssertionError(f"{pod.name}: {kind} not passing within {deadline_seconds}s\n{logs(pod)}")
