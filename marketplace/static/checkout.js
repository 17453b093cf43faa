// Card payment on the pay page. Stripe.js turns the card into a payment method, our server
// attaches it to the order's PaymentIntent and confirms it, Stripe.js finishes 3-D Secure when
// the bank asks, and the page then waits until Stripe's word has made the order paid.
(function () {
  "use strict";
  const form = document.getElementById("payment-form");
  if (!form || typeof Stripe === "undefined") {
    return;
  }
  const data = form.dataset;
  const status = document.getElementById("payment-status");
  const button = form.querySelector("button[type=submit]");
  const paid = new Set(data.paidStatuses.split(" "));
  const stripe = Stripe(data.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");

  const say = (text) => { status.textContent = text; };
  const fail = (text) => { say(text); button.disabled = false; };
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function paymentMethodId() {
    const made = await stripe.createPaymentMethod({ type: "card", card: card });
    if (made && made.paymentMethod) {
      return made.paymentMethod.id;
    }
    if (made && made.error) {
      throw made.error;
    }
    // The local Stripe emulator's Stripe.js makes tokens only; a token's card is accepted by
    // PaymentIntents as a payment method.
    const tokenised = await stripe.createToken(card);
    if (tokenised.error) {
      throw tokenised.error;
    }
    return tokenised.token.card.id;
  }

  async function finishAuthentication(clientSecret) {
    const result = await stripe.confirmCardPayment(clientSecret);
    if (result.error) {
      return false;
    }
    const intent = result.paymentIntent || {};
    return intent.status === "succeeded" || intent.status === "processing";
  }

  async function waitUntilPaid() {
    for (let attempt = 0; attempt < 90; attempt += 1) {
      const response = await fetch(data.statusUrl, {
        headers: { Accept: "application/json" }, credentials: "same-origin",
      });
      if (response.ok) {
        const order = await response.json();
        if (paid.has(order.status)) {
          window.location.assign(data.orderUrl);
          return;
        }
      }
      await pause(1000);
    }
    say(data.msgSlow);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    say(data.msgWorking);
    let outcome;
    try {
      const method = await paymentMethodId();
      const response = await fetch(data.payUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRF-Token": data.csrf,
        },
        body: JSON.stringify({ payment_method: method }),
      });
      outcome = await response.json();
      if (!response.ok) {
        fail(data.msgError);
        return;
      }
    } catch (error) {
      fail(data.msgError);
      return;
    }
    if (outcome.status === "failed") {
      fail(outcome.message || data.msgDeclined);
      return;
    }
    if (outcome.status === "requires_action" && !(await finishAuthentication(outcome.client_secret))) {
      fail(data.msgAuthFailed);
      return;
    }
    say(data.msgWaiting);
    await waitUntilPaid();
  });
}());
