// How the chat page shows one reply, kept pure (no DOM) so it is tested with `node --test`
// (chalice_app/tests/web/reply.test.js). The assistant's `response` carries the products as data
// (`products`) and the reply's text, which also lists them (for clients without cards, like
// scripts/chat.py) and, for a cart command, states the whole cart:
//
//   1. Asics Glide 1 — $60.99 · ★ 4.6 (83 reviews) · road, stability, light cushioning
//   Your cart (3 items):
//   • 1 × Asics Glide 1 — $60.99          (or "1. 1 × …" when the cart is shown numbered)
//   Total: $170.99
//
// `splitReply` takes the listed lines out of the text only when their product is in `products`
// (it is shown as a card instead, with the key attributes the line named), and the cart block
// only when it parses whole (it is shown as the cart panel, total as the assistant said it).
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.ChatReply = factory();
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const LISTED = /^\d+\.\s+(.+?) \u2014 \$[\d,]+\.\d{2} \u00b7 \u2605 [\d.]+ \([\d,]+ reviews?\)(?: \u00b7 (.+))?$/;
  const DETAIL_HEAD = /^(.+?) \u2014 \$[\d,]+\.\d{2}$/; // "Name — $60.99", then "★ 4.6 (83 reviews) · …"
  const CART_HEAD = /^Your cart \((\d+) items?\):$/;
  const CART_LINE = /^(?:\u2022|\d+\.)\s+(\d+) \u00d7 (.+) \u2014 (\$[\d,]+\.\d{2})$/;
  const CART_TOTAL = /^Total: (\$[\d,]+\.\d{2})$/;
  const CART_EMPTY = /^Your cart is (?:now )?empty\./;

  // "$1,234.50", as the assistant writes money (US dollars; another currency by Intl).
  function formatPrice(price, currency) {
    const amount = Number(price);
    if (!Number.isFinite(amount)) return "";
    if (currency && currency !== "USD") {
      try {
        return new Intl.NumberFormat("en-US", { style: "currency", currency }).format(amount);
      } catch (_) {
        return `${amount.toFixed(2)} ${currency}`;
      }
    }
    return "$" + amount.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  // "★ 4.6 (4,313 reviews)", as the assistant writes a rating.
  function formatRating(rating, reviews) {
    const count = Number.isFinite(Number(reviews)) ? Number(reviews) : 0;
    const noun = count === 1 ? "review" : "reviews";
    return `\u2605 ${Number(rating).toFixed(1)} (${count.toLocaleString("en-US")} ${noun})`;
  }

  // The first sentence of a description, for a card's one line.
  function oneLine(description) {
    if (typeof description !== "string") return "";
    const text = description.trim();
    const end = text.search(/[.!?](\s|$)/);
    return end >= 0 ? text.slice(0, end + 1) : text;
  }

  // A product's key attributes when the reply named none: its short values, at most three.
  function attributesOf(product) {
    const attributes = product && typeof product.attributes === "object" && product.attributes ? product.attributes : {};
    const words = [];
    for (const [key, value] of Object.entries(attributes)) {
      if (typeof value === "string" && value && value !== "none") words.push(key === "cushioning" ? `${value} cushioning` : value);
      if (words.length === 3) break;
    }
    return words.join(", ");
  }

  // The cart the text states, or null: {count, lines: [{quantity, name, lineTotal}], total}.
  function parseCart(lines) {
    if (lines.some((line) => CART_EMPTY.test(line))) return { count: 0, lines: [], total: "$0.00", at: [] };
    const head = lines.findIndex((line) => CART_HEAD.test(line));
    if (head < 0) return null;
    const items = [];
    let index = head + 1;
    for (; index < lines.length && CART_LINE.test(lines[index]); index += 1) {
      const [, quantity, name, lineTotal] = lines[index].match(CART_LINE);
      items.push({ quantity: Number(quantity), name, lineTotal });
    }
    const total = index < lines.length && lines[index].match(CART_TOTAL);
    const count = Number(lines[head].match(CART_HEAD)[1]);
    if (!total || !items.length || items.reduce((sum, item) => sum + item.quantity, 0) !== count) return null;
    const at = Array.from({ length: index - head + 1 }, (_, i) => head + i);
    return { count, lines: items, total: total[1], at };
  }

  // {text (above the cards), after (below them), products: [{product, highlights}], cart}: what the bubble shows.
  function splitReply(content, products) {
    const lines = String(content || "").split("\n");
    const known = new Map((Array.isArray(products) ? products : []).map((product) => [product.name, product]));
    const cart = parseCart(lines);
    const drop = new Set(cart && cart.lines.length ? cart.at : []);
    const highlights = new Map();
    lines.forEach((line, index) => {
      const head = line.match(DETAIL_HEAD);
      if (head && known.has(head[1]) && /^\u2605 /.test(lines[index + 1] || "")) {
        drop.add(index).add(index + 1); // a product's details: its card carries the name, price and rating
      }
      const listed = line.match(LISTED);
      if (listed && known.has(listed[1])) {
        drop.add(index);
        highlights.set(listed[1], listed[2] || "");
      }
    });
    // The text before the listed products stays above the cards, the text after them below.
    const listedAt = [...highlights.keys()].length ? Math.min(...[...drop].filter((i) => !cart || !cart.at.includes(i))) : -1;
    const keep = (_, index) => !drop.has(index);
    const above = listedAt >= 0 ? lines.slice(0, listedAt) : lines;
    const below = listedAt >= 0 ? lines.slice(listedAt) : [];
    const text = above.filter(keep).join("\n").trim();
    const after = below.filter((_, i) => !drop.has(i + listedAt)).join("\n").trim();
    // A cart reply's products are the lines just changed: the cart panel shows them.
    const cards = cart ? [] : [...known.values()].map((product) => ({
      product,
      highlights: highlights.has(product.name) ? highlights.get(product.name) : attributesOf(product),
    }));
    return { text, after, products: cards, cart: cart && { count: cart.count, lines: cart.lines, total: cart.total } };
  }

  // The chat messages the assistant understands for the cart panel's buttons.
  const CART_WORDS = {
    more: (name) => `add 1 ${name} to my cart`,
    less: (name) => `remove 1 ${name} from my cart`,
    remove: (name) => `remove the ${name} from my cart`,
    add: (name) => `add the ${name} to my cart`,
    details: (name) => `tell me more about the ${name}`,
  };

  return { formatPrice, formatRating, oneLine, attributesOf, parseCart, splitReply, CART_WORDS };
});
