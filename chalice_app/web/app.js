// The chat page: one WebSocket to the shopping assistant (wire protocol v1, docs/protocol.md).
// Sessions, cursors and resume are decided by the pure ChatSession (session.js); this file does the
// socket and the DOM. No build step. Works against the local runtime (same host) or a deployed stack (?ws=wss://…).
// No inline script or style: the server's Content-Security-Policy allows only files from /static.
"use strict";

const KEEPALIVE_MS = 60_000;      // API Gateway closes connections idle for 10 minutes
const MAX_BACKOFF_MS = 10_000;
const RESUME_WAIT_MS = 10_000;    // a resume with no answer by then stops holding messages back
const SESSION_KEY = "shopping-assistant.session_id";
const CURSOR_KEY = "shopping-assistant.cursor";

const ERROR_WORDS = {
  processing_failed: "Sorry, the assistant could not answer this one. Please try again.",
  expired: "This message waited too long to be answered. Please send it again.",
  rate_limited: "You are sending messages very quickly. Please wait a moment.",
  invalid_json: "That message could not be sent. Please try again.",
  unknown_action: "That message could not be sent. Please try again.",
};

const $ = (id) => document.getElementById(id);
const connectionLabel = $("connection");
const conversation = $("conversation");
const composer = $("composer");
const input = $("message");

const client = {
  url: null,               // the WebSocket server, chosen once (see websocketUrl)
  ws: null,
  state: "connecting",
  attempts: 0,
  session: ChatSession.initial({        // session id, last cursor, outbox (see session.js)
    sessionId: localStorage.getItem(SESSION_KEY),
    cursor: Number(localStorage.getItem(CURSOR_KEY)),
  }),
  resumeTimer: null,
  lastTraffic: Date.now(),
  turns: new Map(),        // client_message_id -> {user, assistant}
  byMessageId: new Map(),  // message_id -> turn
  received: [],            // frame types in arrival order, for the console (and tests)
  shown: [],               // the frames applied to the page, in order (repeats dropped)
  get sessionId() { return this.session.sessionId; },
};
window.chatClient = client; // for people (and tests) poking at the page from the console

function setSession(state) {
  client.session = state;
  const { sessionId, cursor } = ChatSession.saved(state);
  if (sessionId) {
    localStorage.setItem(SESSION_KEY, sessionId);
    localStorage.setItem(CURSOR_KEY, String(cursor));
  } else {
    localStorage.removeItem(SESSION_KEY);
    localStorage.removeItem(CURSOR_KEY);
  }
}

function setState(state, text) {
  client.state = state;
  connectionLabel.dataset.state = state;
  connectionLabel.textContent = text;
}

// ?ws= decides where the whole conversation goes, so a link must not pick any server:
// loopback and API Gateway's own hosts are used directly, anything else only once the
// user agrees (the server's CSP connect-src allows ws: and wss: for that reason).
const API_GATEWAY_HOST = /^[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com$/;
const LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"];

function linkedServer(given) {
  let url;
  try { url = new URL(given); } catch (_) { return { url: null }; }
  if ((url.protocol !== "ws:" && url.protocol !== "wss:") || url.username || url.password) return { url: null };
  const direct = LOOPBACK_HOSTS.includes(url.hostname) ||
    (url.protocol === "wss:" && !url.port && API_GATEWAY_HOST.test(url.hostname));
  return { url: url.href, direct };
}

async function websocketUrl() {
  const given = new URLSearchParams(location.search).get("ws");
  if (given !== null) {
    const { url, direct } = linkedServer(given);
    if (!url) return null;
    const host = new URL(url).host;
    const agreed = direct || window.confirm(
      `This link wants the chat to connect to ${host}.\n\n` +
      `Everything you type would be sent to that server. Connect to ${host}?`);
    return agreed ? url : null;
  }
  let path = "/api";
  try {
    const health = await (await fetch("/health")).json();
    path = health.websocket_path || path;
  } catch (_) { /* not served by the local runtime: keep the default stage */ }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}`;
}

async function start() {
  client.url = await websocketUrl();
  if (!client.url) {
    setState("blocked", "Not connected: the server in this link was not allowed");
    return;
  }
  connect();
}

function connect() {
  const ws = new WebSocket(client.url);
  client.ws = ws;
  ws.addEventListener("open", () => {
    client.attempts = 0;
    setState("connected", "Connected");
    const { state, send: frames } = ChatSession.opened(client.session);
    setSession(state);
    for (const frame of frames) send(frame);
    clearTimeout(client.resumeTimer);
    if (state.resuming) {
      client.resumeTimer = setTimeout(() => applyOutcome(ChatSession.resumeTimedOut(client.session)), RESUME_WAIT_MS);
    }
    flushOutbox();
  });
  ws.addEventListener("message", (event) => {
    client.lastTraffic = Date.now();
    let frame;
    try { frame = JSON.parse(event.data); } catch (_) { return; }
    if (!frame || typeof frame !== "object") return;
    client.received.push(frame.type);
    applyOutcome(ChatSession.reduce(client.session, frame));
  });
  ws.addEventListener("close", () => {
    if (client.ws !== ws) return;
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** client.attempts) * (0.75 + Math.random() / 2);
    client.attempts += 1;
    setState("reconnecting", `Reconnecting in ${Math.ceil(delay / 1000)} s…`);
    setTimeout(connect, delay);
  });
}

function isOpen() {
  return Boolean(client.ws && client.ws.readyState === WebSocket.OPEN);
}

function send(frame) {
  if (!isOpen()) return false;
  client.ws.send(JSON.stringify(frame));
  client.lastTraffic = Date.now();
  return true;
}

// The messages ChatSession lets go now (none while a resume is answered or while disconnected).
function flushOutbox() {
  if (!isOpen()) return;
  const { state, send: frames } = ChatSession.flush(client.session);
  setSession(state);
  for (const frame of frames) {
    send(frame);
    const turn = client.turns.get(frame.client_message_id);
    if (turn && !turn.acked) setTurnState(turn.user, "Sending…");
  }
}

// What ChatSession decided about a frame (or a resume with no answer): show, note, send on.
function applyOutcome({ state, show, note }) {
  setSession(state);
  if (!state.resuming) clearTimeout(client.resumeTimer);
  if (state.resuming || !state.held.length) {
    clearTimeout(client.gapTimer);
    client.gapTimer = null;
  } else if (!client.gapTimer) {
    // A frame after a gap: give the missing ones a moment to arrive (see session.js).
    client.gapTimer = setTimeout(() => {
      client.gapTimer = null;
      applyOutcome(ChatSession.gapTimedOut(client.session));
    }, ChatSession.GAP_WAIT_MS);
  }
  if (note) addTurn("note", note);
  for (const frame of show) {
    client.shown.push(frame);
    handleFrame(frame);
  }
  flushOutbox();
}

setInterval(() => {
  if (client.state === "connected" && Date.now() - client.lastTraffic > KEEPALIVE_MS) send({ action: "ping" });
}, 5_000);

// --- the conversation ------------------------------------------------------

function addTurn(role, text) {
  const item = document.createElement("li");
  item.className = `turn ${role}`;
  const body = document.createElement("p");
  body.className = "text";
  body.textContent = text;
  const state = document.createElement("span");
  state.className = "state";
  item.append(body, state);
  conversation.append(item);
  item.scrollIntoView({ block: "end", behavior: "smooth" });
  return item;
}

function setTurnState(item, text) {
  item.querySelector(".state").textContent = text;
}

function sendMessage(text) {
  const clientMessageId = crypto.randomUUID ? crypto.randomUUID() : String(Date.now() + Math.random());
  const user = addTurn("user", text);
  const frame = { action: "sendMessage", message: text, client_message_id: clientMessageId.slice(0, 64) };
  client.turns.set(frame.client_message_id, { user, assistant: null, seq: -1, acked: false });
  setTurnState(user, isOpen() ? "Waiting to send…" : "Will send when reconnected");
  setSession(ChatSession.queue(client.session, frame));
  flushOutbox();
}

function handleFrame(frame) {
  switch (frame.type) {
    case "ack": return onAck(frame);
    case "status": return withTurn(frame, (turn) =>
      setTurnState(turn.assistant, `Working on it… ${Math.round((frame.elapsed_ms || 0) / 1000)} s`));
    case "chunk": return withTurn(frame, (turn) => onChunk(turn, frame));
    case "response": return withTurn(frame, (turn) => onResponse(turn, frame));
    case "error": return onError(frame);
    default: return undefined; // pong and anything newer: nothing to show
  }
}

function onAck(frame) {
  const turn = client.turns.get(frame.client_message_id);
  if (!turn) return void (Number.isInteger(frame.cursor) && adoptReply(frame.message_id, askedElsewhere(frame)));
  if (turn.acked) return; // an old server's repeat
  turn.acked = true;
  setTurnState(turn.user, "Queued");
  turn.assistant = addTurn("assistant", "");
  setTurnState(turn.assistant, "Waiting for the assistant…");
  client.byMessageId.set(frame.message_id, turn);
}

// The question of a message this page did not send (from another tab, or before a reload): the
// ack carries the text acked. null from a server whose ack has no `message`.
function askedElsewhere(frame) {
  if (typeof frame.message !== "string" || !frame.message) return null;
  const user = addTurn("user", frame.message);
  setTurnState(user, "Queued");
  return user;
}

// A reply of this session to a message this page did not send (sent before a reload, or from
// another tab): shown as it comes, in a bubble of its own, after its question when its ack was seen.
function adoptReply(messageId, user = null) {
  const turn = { user, assistant: addTurn("assistant", ""), seq: -1, acked: true };
  setTurnState(turn.assistant, "Waiting for the assistant…");
  client.byMessageId.set(messageId, turn);
  return turn;
}

function withTurn(frame, action) {
  let turn = client.byMessageId.get(frame.message_id);
  if (!turn && Number.isInteger(frame.cursor) && frame.message_id) turn = adoptReply(frame.message_id);
  if (turn && turn.assistant) action(turn);
}

function onChunk(turn, frame) {
  if (frame.seq <= turn.seq) return; // a repeat; chunks only ever grow the text
  turn.seq = frame.seq;
  turn.assistant.querySelector(".text").textContent += frame.delta;
}

function onResponse(turn, frame) {
  turn.assistant.querySelector(".text").textContent = frame.content;
  setTurnState(turn.assistant, "");
  if (turn.user) setTurnState(turn.user, "Answered");
  if (frame.products && frame.products.length) turn.assistant.append(renderProducts(frame.products));
  client.byMessageId.delete(frame.message_id);
}

function onError(frame) {
  const words = ERROR_WORDS[frame.code] || frame.message || "Something went wrong.";
  let turn = frame.message_id && client.byMessageId.get(frame.message_id);
  if (!turn && frame.message_id && Number.isInteger(frame.cursor)) turn = adoptReply(frame.message_id);
  if (turn && turn.assistant) {
    turn.assistant.classList.add("error");
    turn.assistant.querySelector(".text").textContent = words;
    setTurnState(turn.assistant, "");
    client.byMessageId.delete(frame.message_id);
    return;
  }
  const item = addTurn("assistant", frame.code === "invalid_message" ? frame.message : words);
  item.classList.add("error");
}

function renderProducts(products) {
  const list = document.createElement("ul");
  list.className = "products";
  list.setAttribute("aria-label", "Products");
  const template = $("product-card");
  for (const product of products) {
    const card = template.content.firstElementChild.cloneNode(true);
    card.querySelector(".product-name").textContent = product.name;
    card.querySelector(".product-brand").textContent = product.brand;
    card.querySelector(".product-price").textContent = formatPrice(product.price, product.currency);
    card.querySelector(".product-rating").textContent =
      `★ ${Number(product.rating).toFixed(1)} (${product.review_count ?? 0} reviews)`;
    for (const button of card.querySelectorAll(".follow-up")) {
      const verb = button.dataset.action === "cart" ? "Add to cart" : "Tell me more about";
      button.setAttribute("aria-label", `${verb} ${product.name}`);
      button.addEventListener("click", () => sendMessage(followUp(button.dataset.action, product)));
    }
    list.append(card);
  }
  return list;
}

function followUp(action, product) {
  return action === "cart" ? `add ${product.name} to my cart` : `tell me more about ${product.name}`;
}

function formatPrice(price, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "USD" }).format(price);
  } catch (_) {
    return `${price} ${currency || ""}`;
  }
}

// --- the composer ----------------------------------------------------------

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  sendMessage(text);
  input.value = "";
  input.focus();
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

start();
input.focus();
