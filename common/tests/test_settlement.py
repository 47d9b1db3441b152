"""The settlement policy, without a server: every (result, delivery) pair's decision. The
listener tests (test_listener.py) show the runner carrying the decisions out on JetStream."""

from __future__ import annotations

import pytest

from tixcommon.bus.settlement import Action, DeliveryPolicy, Result, Settlement, settle

POLICY = DeliveryPolicy(max_deliver=5, retry_base_seconds=0.5, retry_max_seconds=3.0)


@pytest.mark.parametrize("attempt", [1, 4, 5, 9])
def test_a_handled_event_is_acked_on_any_delivery(attempt: int) -> None:
    assert settle(Result.HANDLED, attempt, POLICY) == Settlement(Action.ACK)


@pytest.mark.parametrize("attempt", [1, 5])
def test_an_unparseable_event_is_dead_lettered_at_once(attempt: int) -> None:
    assert settle(Result.UNPARSEABLE, attempt, POLICY) == Settlement(Action.DEAD_LETTER)


@pytest.mark.parametrize("result", [Result.NOT_YET, Result.FAILED])
@pytest.mark.parametrize(("attempt", "delay"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0)])
def test_with_deliveries_left_it_comes_back_later_and_later(
    result: Result, attempt: int, delay: float
) -> None:
    assert settle(result, attempt, POLICY) == Settlement(Action.NAK, delay)


def test_a_failure_on_the_last_delivery_is_dead_lettered() -> None:
    assert settle(Result.FAILED, 5, POLICY) == Settlement(Action.DEAD_LETTER)
    assert settle(Result.FAILED, 6, POLICY) == Settlement(Action.DEAD_LETTER)


def test_not_yet_on_the_last_delivery_is_kept_in_hand_once_then_dead_lettered() -> None:
    assert settle(Result.NOT_YET, 5, POLICY) == Settlement(Action.KEEP_IN_HAND)
    after_waiting = settle(Result.NOT_YET, 5, POLICY, kept_in_hand=True)
    assert after_waiting == Settlement(Action.DEAD_LETTER)


def test_a_failure_while_kept_in_hand_is_dead_lettered() -> None:
    assert settle(Result.FAILED, 5, POLICY, kept_in_hand=True) == Settlement(Action.DEAD_LETTER)


@pytest.mark.parametrize("attempt", [1, 5])
def test_an_outage_met_while_stopping_goes_back_soon_for_another_replica(attempt: int) -> None:
    assert settle(Result.STOPPED_IN_OUTAGE, attempt, POLICY) == Settlement(Action.NAK, 0.5)


def test_outage_pauses_grow_but_renew_the_ack_wait_in_time() -> None:
    policy = DeliveryPolicy(ack_wait_seconds=3.0, retry_base_seconds=0.1, retry_max_seconds=30)
    pauses = [policy.outage_pause(n) for n in range(1, 8)]
    assert pauses == sorted(pauses)
    assert max(pauses) == pytest.approx(1.0)  # a third of the ack wait
