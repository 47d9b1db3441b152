"""A Stripe-compatible server for tests and `make dev`: localstripe, bound to 127.0.0.1, its
state kept in a folder of ours (its own command line binds every interface and writes to
/tmp/localstripe.pickle).

Its fake Stripe.js (`/js.stripe.com/v3/`) lacks `stripe.createPaymentMethod`, the call our card
form makes; we complete it the way the real Stripe.js works: the browser posts the card to
`/v1/payment_methods` with the publishable key, and the server accepts that key for that call.

    python -m tixdev.stripe_server --port 8420 --state-dir .dev/stripe
"""

from __future__ import annotations

import argparse
import logging
import pickle
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args()

    from aiohttp import web
    from localstripe import resources, server

    state = args.state_dir / "localstripe.pickle"
    args.state_dir.mkdir(parents=True, exist_ok=True)

    def load(store: resources.Store) -> None:
        if state.exists():
            with state.open("rb") as file:
                saved = pickle.load(file)
            dict.clear(store)
            dict.update(store, saved)

    def dump(store: resources.Store) -> None:
        with state.open("wb") as file:
            pickle.dump(dict(store), file, protocol=pickle.HIGHEST_PROTOCOL)

    resources.Store.try_load_from_disk = load
    resources.Store.dump_to_disk = dump
    resources.store.try_load_from_disk()
    position = server.app.middlewares.index(server.auth_middleware)
    server.app.middlewares[position] = _with_browser_calls(server)
    logging.basicConfig(level=logging.WARNING)
    web.run_app(server.app, host="127.0.0.1", port=args.port, print=None, access_log=None)


_CREATE_PAYMENT_METHOD = """
// tixvibe: Stripe.js's createPaymentMethod, which localstripe leaves as a stub.
(function () {
  const makeStripe = Stripe;
  Stripe = (apiKey) => {
    const stripe = makeStripe(apiKey);
    stripe.createPaymentMethod = async ({ type, card }) => {
      const value = (card && card.value && card.value.card) || {};
      const body = new URLSearchParams({ type: type || "card", key: apiKey });
      for (const field of ["number", "exp_month", "exp_year", "cvc"]) {
        body.append(`card[${field}]`, value[field] || "");
      }
      const response = await fetch(`${LOCALSTRIPE_BASE_API}/v1/payment_methods`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body,
      });
      const result = await response.json().catch(() => ({}));
      if (response.status !== 200 || result.error) {
        return { error: result.error || { message: "Your card was declined." } };
      }
      return { paymentMethod: result };
    };
    return stripe;
  };
})();
"""


def _with_browser_calls(server: Any) -> Any:
    """localstripe's auth middleware, plus what a browser may do with a publishable key:
    create a payment method (as api.stripe.com allows), and load the completed Stripe.js."""
    from aiohttp import web

    original = server.auth_middleware
    script = (Path(server.__file__).parent / "localstripe-v3.js").read_text()
    script += _CREATE_PAYMENT_METHOD

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "GET" and request.path == "/js.stripe.com/v3/":
            return web.Response(text=script, content_type="application/javascript")
        if request.method == "POST" and request.path == "/v1/payment_methods":
            data = await server.get_post_data(request, remove_auth=False)
            key = data.get("key") if isinstance(data, dict) else None
            if isinstance(key, str) and key.startswith("pk_"):
                response: web.StreamResponse = await handler(request)
                return response
        result: web.StreamResponse = await original(request, handler)
        return result

    return middleware


if __name__ == "__main__":
    main()
