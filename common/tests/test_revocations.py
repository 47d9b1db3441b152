"""Ended sessions: the per-account line every process keeps, and the feed that keeps it from
auth's events, through a real JetStream (a restart of the broker included)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from tixcommon.auth import SessionCodec
from tixcommon.bus import EventBus, Publisher
from tixcommon.events import RevocationReason, UserSessionsRevoked
from tixcommon.revocations import RevokedSessions, following_revocations
from tixtest import NatsServer, wait_until

KEY = "k" * 48
ALICE, BOB = "a" * 24, "b" * 24
NOW = int(time.time())


def revocation(account: str, not_before: int) -> UserSessionsRevoked:
    return UserSessionsRevoked(
        id=account, not_before=not_before, reason=RevocationReason.SIGNOUT_EVERYWHERE
    )


def test_a_line_refuses_the_sessions_issued_before_it_only() -> None:
    revoked = RevokedSessions(3600)
    revoked.apply(ALICE, NOW)

    assert revoked.refuses(ALICE, NOW - 1)
    assert not revoked.refuses(ALICE, NOW)
    assert not revoked.refuses(BOB, NOW - 1)


def test_a_line_only_moves_forward_so_events_apply_in_any_order_and_again() -> None:
    revoked = RevokedSessions(3600)
    for line in (NOW, NOW - 100, NOW):
        revoked.apply(ALICE, line)

    assert revoked.refuses(ALICE, NOW - 1)
    assert not revoked.refuses(ALICE, NOW)


def test_lines_older_than_a_session_lifetime_are_dropped() -> None:
    """Every session such a line refuses has expired anyway: the table stays bounded."""
    revoked = RevokedSessions(60)
    revoked.apply(ALICE, int(time.time()) - 3600)
    revoked._next_prune = 0
    revoked.apply(BOB, int(time.time()))

    assert len(revoked) == 1
    assert revoked.refuses(BOB, 0)


def test_the_codec_refuses_a_session_issued_before_its_accounts_line() -> None:
    codec = SessionCodec(KEY, 3600)
    now = int(time.time())
    old = codec.issue(ALICE, "alice@example.com", now=now - 10)
    other = codec.issue(BOB, "bob@example.com", now=now - 10)
    assert codec.decode(old) is not None  # verified once, and kept

    codec.revoked.apply(ALICE, now)

    assert codec.decode(old) is None
    assert codec.decode(other) is not None
    assert codec.decode(codec.issue(ALICE, "alice@example.com", now=now)) is not None


@pytest.fixture
async def own_nats(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[NatsServer]:
    """A broker of the test's own, which it restarts (its stream kept on disk)."""
    server = NatsServer(data_dir=tmp_path_factory.mktemp("nats"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def connected(server: NatsServer, name: str) -> EventBus:
    bus = await EventBus.connect(server.url, client_name=name, namespace="rev")
    await bus.ensure_stream()
    return bus


async def test_a_process_reads_back_what_was_revoked_before_it_started(
    own_nats: NatsServer,
) -> None:
    auth = await connected(own_nats, "auth")
    now = int(time.time())
    await Publisher(auth).publish(revocation(ALICE, now))
    await Publisher(auth).publish(revocation(BOB, now - 5))
    revoked = RevokedSessions(3600)
    other = await connected(own_nats, "orders")

    async with following_revocations(other, revoked, process="orders"):
        # On entry, before anything else: what the process may answer with.
        assert revoked.refuses(ALICE, now - 1)
        assert revoked.refuses(BOB, now - 6)

    await other.close()
    await auth.close()


async def test_a_revocation_reaches_every_process_and_survives_a_broker_restart(
    own_nats: NatsServer,
) -> None:
    auth = await connected(own_nats, "auth")
    tables = [RevokedSessions(3600), RevokedSessions(3600)]
    buses = [await connected(own_nats, f"replica-{n}") for n in range(2)]
    now = int(time.time())
    async with (
        following_revocations(buses[0], tables[0], process="tickets"),
        following_revocations(buses[1], tables[1], process="tickets"),
    ):
        await Publisher(auth).publish(revocation(ALICE, now))
        # Both replicas of one service hear it: not one durable consumer shared by them.
        await wait_until(
            lambda: all(t.refuses(ALICE, now - 1) for t in tables),
            timeout=5,
            message="both replicas refuse Alice's old sessions",
        )

        own_nats.restart()
        await wait_until(lambda: auth.is_connected, timeout=30, message="reconnected")
        await wait_until(
            lambda: all(b.is_connected for b in buses), timeout=30, message="reconnected"
        )

        async def published() -> bool:
            try:
                await Publisher(auth).publish(revocation(BOB, now))
            except Exception:
                return False
            return True

        await wait_until(published, timeout=30, message="published after the restart")
        await wait_until(
            lambda: all(t.refuses(BOB, now - 1) for t in tables),
            timeout=15,
            message="both replicas refuse Bob's old sessions after the broker's restart",
        )

    for bus in [*buses, auth]:
        await bus.close()
