"""Charging and refunding through Stripe's official SDK. The same code talks to real Stripe in
production and to the local Stripe-compatible server in dev and tests: only the base address
and key differ."""

from __future__ import annotations

import logging

import stripe

from tixcommon.errors import BadRequest, ServiceUnavailable

logger = logging.getLogger(__name__)

PROVIDER_UNAVAILABLE = "Payment provider unavailable, try again shortly"


class PaymentDeclined(BadRequest):
    """Stripe refused the charge; the message is Stripe's own."""


class StripeRefused(RuntimeError):
    """Stripe turned a request of ours down as invalid: not an outage, so not retried as one
    (an event meeting it is redelivered, then set aside for an operator)."""


class StripeGateway:
    def __init__(self, api_key: str, *, api_base: str, timeout: float, currency: str) -> None:
        self._http = stripe.HTTPXClient(timeout=timeout)
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base},
            http_client=self._http,
            # Nothing is retried blindly: our idempotency keys make our own retries safe.
            max_network_retries=0,
        )
        self.currency = currency

    async def create_intent(
        self, attempt: str, order_id: str, amount_cents: int, payment_method: str
    ) -> str:
        """A PaymentIntent for one payment attempt, not yet confirmed (nothing charged): its
        id. The attempt keys the call, so asking again returns the same intent."""
        try:
            intent = await self.client.v1.payment_intents.create_async(
                params={
                    "amount": amount_cents,
                    "currency": self.currency,
                    "payment_method": payment_method,
                    # Card only: confirming then needs no return_url on any API version. The
                    # SDK's typed params no longer list it; the API still accepts it.
                    "payment_method_types": ["card"],  # type: ignore[typeddict-unknown-key]
                    "metadata": {"orderId": order_id},
                },
                options={"idempotency_key": f"payment-intent:{attempt}"},
            )
        except (stripe.CardError, stripe.InvalidRequestError) as error:
            raise PaymentDeclined(error.user_message or str(error)) from None
        except stripe.StripeError as error:
            raise _unavailable(error) from None
        return str(intent.id)

    async def confirm(self, attempt: str, intent_id: str) -> None:
        """Charge the card. PaymentDeclined when nothing was charged; ServiceUnavailable when
        Stripe's answer was lost, so the charge may or may not have happened."""
        try:
            intent = await self.client.v1.payment_intents.confirm_async(
                intent_id, options={"idempotency_key": f"confirm:{attempt}"}
            )
        except (stripe.CardError, stripe.InvalidRequestError) as error:
            raise PaymentDeclined(error.user_message or str(error)) from None
        except stripe.StripeError as error:
            raise _unavailable(error) from None
        if intent.status != "succeeded":
            raise PaymentDeclined(f"Payment was not completed (status: {intent.status})")

    async def status(self, intent_id: str) -> str:
        """Where a PaymentIntent stands now (`succeeded`, `processing`, `canceled`...)."""
        try:
            intent = await self.client.v1.payment_intents.retrieve_async(intent_id)
        except stripe.InvalidRequestError as error:
            raise StripeRefused(str(error)) from None
        except stripe.StripeError as error:
            raise _unavailable(error) from None
        return str(intent.status)

    async def cancel(self, intent_id: str) -> str:
        """Cancel an intent so it can never charge; its status afterwards. An intent past
        cancelling (it succeeded meanwhile, say) is left as it is and its status returned."""
        try:
            intent = await self.client.v1.payment_intents.cancel_async(intent_id)
        except stripe.InvalidRequestError:
            return await self.status(intent_id)
        except stripe.StripeError as error:
            raise _unavailable(error) from None
        return str(intent.status)

    async def refund(self, order_id: str, payment_intent: str) -> str:
        try:
            refund = await self.client.v1.refunds.create_async(
                params={"payment_intent": payment_intent, "metadata": {"orderId": order_id}},
                options={"idempotency_key": f"refund:{order_id}"},
            )
        except stripe.InvalidRequestError as error:
            raise StripeRefused(str(error)) from None
        except stripe.StripeError as error:
            raise _unavailable(error) from None
        return str(refund.id)

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]


def _unavailable(error: stripe.StripeError) -> ServiceUnavailable:
    logger.warning("stripe unavailable: %s: %s", type(error).__name__, error)
    return ServiceUnavailable(PROVIDER_UNAVAILABLE)
