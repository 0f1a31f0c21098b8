// How the chat page shows one reply (web/reply.js), run with `node --test` by test_session_js.py.
// The texts are the catalog assistant's own (chalicelib/assistant/catalog/replies.py).
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const R = require(path.join(__dirname, "..", "..", "web", "reply.js"));

const glide = { id: "RUN-003", name: "Asics Glide 1", brand: "Asics", price: 60.99, currency: "USD", rating: 4.6,
  review_count: 4313, attributes: { terrain: "road", support: "stability", cushioning: "light", drop_mm: 10 },
  description: "A light-cushioned stability road running shoe. Grippy outsole for wet pavement and light trails." };
const zephyr = { ...glide, id: "RUN-007", name: "Saucony Zephyr 7", brand: "Saucony", price: 55 };

const SEARCH = [
  "I found 10 running shoes under $100. Here are the top 2:",
  "1. Asics Glide 1 \u2014 $60.99 \u00b7 \u2605 4.6 (4,313 reviews) \u00b7 road, stability, light cushioning",
  "2. Saucony Zephyr 7 \u2014 $55.00 \u00b7 \u2605 4.5 (63 reviews) \u00b7 road, neutral, light cushioning",
  "Ask \u201ctell me more about the second one\u201d or \u201cadd the first one to my cart\u201d.",
].join("\n");

test("a search reply: the listed products become cards, with the attributes the line named", () => {
  const out = R.splitReply(SEARCH, [glide, zephyr]);
  assert.equal(out.text, "I found 10 running shoes under $100. Here are the top 2:");
  assert.equal(out.after, "Ask \u201ctell me more about the second one\u201d or \u201cadd the first one to my cart\u201d.");
  assert.deepEqual(out.products.map((card) => [card.product.name, card.highlights]),
    [["Asics Glide 1", "road, stability, light cushioning"], ["Saucony Zephyr 7", "road, neutral, light cushioning"]]);
  assert.equal(out.cart, null);
});

test("a listed line stays in the text when its product is not sent as data", () => {
  const out = R.splitReply(SEARCH, [glide]);
  assert.match(out.after, /Saucony Zephyr 7/);
  assert.doesNotMatch(out.text + out.after, /Asics Glide 1/);
  assert.equal(R.splitReply(SEARCH, []).text, SEARCH);
});

test("a cart reply: the cart goes to the panel with the assistant's total; no card offers it again", () => {
  const text = "Added 2 \u00d7 Saucony Zephyr 7 to your cart.\nYour cart (3 items):\n" +
    "\u2022 1 \u00d7 Asics Glide 1 \u2014 $60.99\n\u2022 2 \u00d7 Saucony Zephyr 7 \u2014 $110.00\nTotal: $170.99";
  const out = R.splitReply(text, [zephyr]);
  assert.equal(out.text, "Added 2 \u00d7 Saucony Zephyr 7 to your cart.");
  assert.deepEqual(out.products, []);
  assert.deepEqual(out.cart, { count: 3, total: "$170.99", lines: [
    { quantity: 1, name: "Asics Glide 1", lineTotal: "$60.99" },
    { quantity: 2, name: "Saucony Zephyr 7", lineTotal: "$110.00" },
  ] });
});

test("a numbered cart and an empty cart are carts too", () => {
  const shown = R.splitReply("Your cart (1 item):\n1. 1 \u00d7 Asics Glide 1 \u2014 $60.99\nTotal: $60.99", [glide]);
  assert.equal(shown.text, "");
  assert.equal(shown.cart.total, "$60.99");
  const empty = R.splitReply("Removed the Saucony Zephyr 7.\nYour cart is now empty.", []);
  assert.deepEqual(empty.cart, { count: 0, lines: [], total: "$0.00" });
  assert.equal(empty.text, "Removed the Saucony Zephyr 7.\nYour cart is now empty.");
});

test("a cart block that does not add up is left in the text", () => {
  const text = "Your cart (5 items):\n\u2022 1 \u00d7 Asics Glide 1 \u2014 $60.99\nTotal: $60.99";
  const out = R.splitReply(text, []);
  assert.equal(out.cart, null);
  assert.equal(out.text, text);
});

test("a details reply: the card carries name, price and rating; the text keeps the rest", () => {
  const text = "Asics Glide 1 \u2014 $60.99\n\u2605 4.6 (83 reviews) \u00b7 running shoe by Asics \u00b7 id RUN-003\n" +
    "A light-cushioned stability road running shoe.\nSay \u201cadd it to my cart\u201d to buy it.";
  const out = R.splitReply(text, [glide]);
  assert.equal(out.text, "A light-cushioned stability road running shoe.\nSay \u201cadd it to my cart\u201d to buy it.");
  assert.equal(out.products.length, 1);
  assert.equal(out.products[0].highlights, "road, stability, light cushioning");
});

test("money and ratings read as the assistant writes them", () => {
  assert.equal(R.formatPrice(1234.5), "$1,234.50");
  assert.equal(R.formatPrice(55, "USD"), "$55.00");
  assert.equal(R.formatPrice(10, "EUR"), "\u20ac10.00");
  assert.equal(R.formatRating(4.46, 4313), "\u2605 4.5 (4,313 reviews)");
  assert.equal(R.formatRating(5, 1), "\u2605 5.0 (1 review)");
  assert.equal(R.oneLine(glide.description), "A light-cushioned stability road running shoe.");
});

test("generated listings: every product listed and sent as data is shown once, as a card", () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let run = 0; run < 200; run += 1) {
    const count = 1 + Math.floor(random() * 5);
    const products = Array.from({ length: count }, (_, i) => ({
      ...glide, name: `Shoe ${run}-${i} ${"XYZ".slice(0, 1 + Math.floor(random() * 3))}`,
      price: Math.round(random() * 200000) / 100, rating: 1 + random() * 4, review_count: Math.floor(random() * 20000),
    }));
    const lines = products.map((p, i) => `${i + 1}. ${p.name} \u2014 ${R.formatPrice(p.price)} \u00b7 ` +
      `${R.formatRating(p.rating, p.review_count)}${random() < 0.5 ? " \u00b7 road" : ""}`);
    const out = R.splitReply(["Here:", ...lines, "Ask for more."].join("\n"), products);
    assert.equal(out.text, "Here:");
    assert.equal(out.after, "Ask for more.");
    assert.deepEqual(out.products.map((card) => card.product.name), products.map((p) => p.name));
  }
});

test("the cart buttons send what the assistant understands", () => {
  assert.equal(R.CART_WORDS.more("Asics Glide 1"), "add 1 Asics Glide 1 to my cart");
  assert.equal(R.CART_WORDS.less("Asics Glide 1"), "remove 1 Asics Glide 1 from my cart");
  assert.equal(R.CART_WORDS.remove("Asics Glide 1"), "remove the Asics Glide 1 from my cart");
});
