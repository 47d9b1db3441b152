// TixVibe's only script: the order page's countdown and card payment. Every other page and
// form works without it.
"use strict";

function startCountdown(element) {
  const expiresAt = Date.parse(element.dataset.expiresAt);
  const form = document.getElementById("payment-form");
  const tick = () => {
    const seconds = Math.floor((expiresAt - Date.now()) / 1000);
    if (seconds <= 0) {
      element.textContent = "Order expired";
      element.classList.add("expired");
      if (form) form.hidden = true;
      clearInterval(timer);
      return;
    }
    const minutes = Math.floor(seconds / 60);
    const rest = String(seconds % 60).padStart(2, "0");
    element.textContent = minutes ? `${minutes} min ${rest} s left to pay` : `${seconds} s left to pay`;
  };
  const timer = setInterval(tick, 1000);
  tick();
}

function startPayment(form) {
  const error = document.getElementById("payment-error");
  const button = document.getElementById("pay-button");
  if (typeof Stripe === "undefined") {
    error.textContent = "The card form could not load. Check your connection and reload the page.";
    error.hidden = false;
    button.disabled = true;
    return;
  }
  const stripe = Stripe(form.dataset.stripeKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const fail = (message) => {
    error.textContent = message;
    error.hidden = false;
    button.disabled = false;
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    button.disabled = true;
    // The card goes from the browser to Stripe; we only ever see the payment method's id.
    const result = await stripe.createPaymentMethod({ type: "card", card });
    if (!result || result.error || !result.paymentMethod) {
      fail((result && result.error && result.error.message) || "Your card could not be used.");
      return;
    }
    let response;
    try {
      response = await fetch("/api/payments", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ orderId: form.dataset.orderId, token: result.paymentMethod.id }),
      });
    } catch (_) {
      fail("We couldn't reach TixVibe. Check your connection and try again.");
      return;
    }
    if (response.status === 201) {
      window.location.assign(`/orders?paid=${encodeURIComponent(form.dataset.orderId)}`);
      return;
    }
    const body = await response.json().catch(() => ({}));
    const messages = (body.errors || []).map((e) => e.message).join(" ");
    fail(messages || `Payment failed (${response.status}).`);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const countdown = document.querySelector("[data-expires-at]");
  if (countdown) startCountdown(countdown);
  const form = document.getElementById("payment-form");
  if (form) startPayment(form);
});
