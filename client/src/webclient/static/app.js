// TixVibe's script for every page: the countdowns (an order's, an admitted buyer's turn), the
// card payment, and the waiting room's place kept up to date (the Scan page's camera is
// scan.js). Every other page and form works without it; the waiting room's page refreshes
// itself without it.
"use strict";

function startCountdown(element, ended) {
  const expiresAt = Date.parse(element.dataset.expiresAt);
  const form = document.getElementById(element.dataset.hides);
  const tick = () => {
    const seconds = Math.floor((expiresAt - Date.now()) / 1000);
    if (seconds <= 0) {
      element.textContent = element.dataset.ended;
      element.classList.add("expired");
      if (form) form.hidden = true;
      clearInterval(timer);
      if (ended) ended();
      return;
    }
    const minutes = Math.floor(seconds / 60);
    const rest = String(seconds % 60).padStart(2, "0");
    const left = element.dataset.left;
    element.textContent = minutes ? `${minutes} min ${rest} s ${left}` : `${seconds} s ${left}`;
  };
  const timer = setInterval(tick, 1000);
  tick();
}

// Worded as the server words it (rendering.wait).
function waitText(seconds) {
  if (seconds <= 0) return "any moment now";
  if (seconds < 60) return "less than a minute";
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) return `about ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `about ${hours} h ${minutes % 60} min` : `about ${hours} h`;
}

// Which page shows a place: waiting and sold-out are one page, updated in place; an
// admission's or an expired one's comes from the server (it has a form to post).
const VIEWS = { waiting: "in-line", "sold-out": "in-line", admitted: "admitted", expired: "expired" };

function showPlace(section, place) {
  const drawn = place.position !== null && place.position !== undefined;
  for (const part of section.querySelectorAll("[data-show]")) {
    const when = part.dataset.show;
    part.hidden = !(
      (when === "drawn" && drawn) ||
      (when === "before-draw" && !drawn) ||
      (when === "sold-out" && place.status === "sold-out")
    );
  }
  const fields = { position: place.position, ahead: place.ahead, wait: waitText(place.estimatedWaitSeconds) };
  for (const [name, value] of Object.entries(fields)) {
    const field = section.querySelector(`[data-field="${name}"]`);
    if (field && value !== null && value !== undefined) field.textContent = String(value);
  }
}

// Asks the room for the place every `refreshSeconds` it says; returns a function that asks at
// once and every two seconds from then (for when an admission's countdown ends: the room's
// clock may be a moment behind the browser's).
function followPlace(section) {
  let timer;
  let hurry = false;
  const ask = async () => {
    clearTimeout(timer);
    let refresh = hurry ? 2 : Number(section.dataset.refresh) || 5;
    try {
      const response = await fetch(section.dataset.placeUrl, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.ok) {
        const place = await response.json();
        if (VIEWS[place.status] !== section.dataset.view) {
          window.location.reload();
          return;
        }
        if (section.dataset.view === "in-line") showPlace(section, place);
        refresh = hurry ? Math.min(place.refreshSeconds, 2) : place.refreshSeconds;
      } else if (response.status < 500) {
        // No place any more, or signed out: the page says what to do.
        window.location.reload();
        return;
      }
    } catch (_) {
      // Offline for a moment: ask again later.
    }
    timer = setTimeout(ask, refresh * 1000);
  };
  timer = setTimeout(ask, (Number(section.dataset.refresh) || 5) * 1000);
  return () => {
    hurry = true;
    ask();
  };
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
  const place = document.querySelector("[data-place-url]");
  const askNow = place ? followPlace(place) : null;
  const countdown = document.querySelector("[data-expires-at]");
  if (countdown) startCountdown(countdown, askNow);
  const form = document.getElementById("payment-form");
  if (form) startPayment(form);
});
