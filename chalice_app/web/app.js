// The chat page: one WebSocket to the shopping assistant (wire protocol v1, docs/protocol.md).
// Sessions, cursors, resume and retries are decided by the pure ChatSession (session.js), how a
// reply is shown by the pure ChatReply (reply.js); this file does the socket and the DOM. No build
// step. Works against the local runtime (same host) or a deployed stack (?ws=wss://…).
// No inline script or style: the server's Content-Security-Policy allows only files from /static.
"use strict";

const KEEPALIVE_MS = 60_000;      // API Gateway closes connections idle for 10 minutes
const MAX_BACKOFF_MS = 10_000;
const RESUME_WAIT_MS = 10_000;    // a resume with no answer by then stops holding messages back
const SESSION_KEY = "shopping-assistant.session_id";
const CURSOR_KEY = "shopping-assistant.cursor";
const FOLLOW_SLACK_PX = 48;
const SLOW_ACK_MS = 4_000;        // "Sending…" longer than this says why it still waits       // this close to the end counts as "at the newest message"

// What happened and what to do, per error code; the code and message id go under "Details".
const ERROR_WORDS = {
  processing_failed: "Sorry, the assistant could not answer this one. Please send it again, or ask in other words.",
  expired: "This message waited too long to be answered. Please send it again.",
  service_unavailable: "The shopping assistant is not available right now. Please try again in a minute.",
  internal_error: "Something went wrong on our side. Please send your message again.",
  invalid_json: "That message could not be sent. Please try again.",
  unknown_action: "That message could not be sent. Please try again.",
  rate_limited: "You are sending messages very quickly. Please wait a moment.",
};
const FALLBACK_WORDS = "Something went wrong. Please try again.";

const $ = (id) => document.getElementById(id);
const connectionLabel = $("connection");
const conversation = $("conversation");
const scroller = $("chat");
const pill = $("new-messages");
const composer = $("composer");
const input = $("message");
const stopButton = $("stop");

const client = {
  url: null,               // the WebSocket server, chosen once (see websocketUrl)
  ws: null,
  state: "connecting",
  attempts: 0,
  // A page load replays the session from cursor 0: the kept conversation is shown again.
  session: ChatSession.initial({ sessionId: localStorage.getItem(SESSION_KEY), cursor: 0 }),
  resumeTimer: null,
  retryTimer: null,
  lastTraffic: Date.now(),
  turns: new Map(),        // client_message_id -> turn
  byMessageId: new Map(),  // message_id -> turn
  received: [],            // frame types in arrival order, for the console (and tests)
  shown: [],               // the frames applied to the page, in order (repeats dropped)
  following: true,         // keep the newest exchange in view (false once the shopper scrolls up)
  autoTop: 0,              // the scrollTop the page itself set last
  cart: undefined,         // the cart as the assistant last stated it (undefined: not known)
  refusals: 0,             // frames the server refused for now (and the page sent again)
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
  stopButton.hidden = !state.answering.some((id) => !(client.byMessageId.get(id) || {}).stopped);
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
    armResumeTimer();
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
    refreshWaitingTurns();
  });
}

// While a resume is on its way: one with no answer in time stops holding messages back.
function armResumeTimer() {
  clearTimeout(client.resumeTimer);
  if (!client.session.resuming) return;
  client.resumeTimer = setTimeout(() => applyOutcome(ChatSession.resumeTimedOut(client.session)), RESUME_WAIT_MS);
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
  if (isOpen()) {
    const { state, send: frames } = ChatSession.flush(client.session);
    setSession(state);
    for (const frame of frames) {
      send(frame);
      const turn = client.turns.get(frame.client_message_id);
      if (turn) turn.sentAt = Date.now();
    }
  }
  refreshWaitingTurns();
}

// What ChatSession decided about a frame (or a resume with no answer): show, note, retry, send on.
function applyOutcome({ state, show, note, retry, failed }) {
  const follow = following();
  setSession(state);
  if (!state.resuming) clearTimeout(client.resumeTimer);
  watchGap(state);
  if (note) addNote(note);
  for (const frame of show) {
    client.shown.push(frame);
    handleFrame(frame);
  }
  if (retry) scheduleRetry(retry);
  for (const frame of failed || []) notSent(frame);
  flushOutbox();
  if (show.length || note) contentAdded(follow);
}

function watchGap(state) {
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
}

// A refused frame goes again after its wait, with jitter so many pages do not come back at once.
function scheduleRetry(retry) {
  client.refusals += 1;
  const delay = retry.after_ms * (1 + Math.random() / 4);
  const due = Date.now() + delay;
  if (retry.kind === "resume") {
    clearTimeout(client.resumeTimer); // the resume goes again: no giving up on it meanwhile
    setState("connected", "The server is busy; catching up shortly…");
  }
  const turn = retry.client_message_id && client.turns.get(retry.client_message_id);
  if (turn) turn.retryAt = due;
  clearTimeout(client.retryTimer);
  client.retryTimer = setTimeout(() => {
    client.retryTimer = null;
    const { state, send: frames } = ChatSession.retryDue(client.session);
    setSession(state);
    for (const frame of frames) send(frame);
    if (frames.some((frame) => frame.action === "resume")) {
      setState("connected", "Connected");
      armResumeTimer();
    }
    for (const t of client.turns.values()) t.retryAt = null;
    flushOutbox();
  }, delay);
  refreshWaitingTurns();
}

setInterval(() => {
  if (client.state === "connected" && Date.now() - client.lastTraffic > KEEPALIVE_MS) send({ action: "ping" });
}, 5_000);

// Every second: elapsed times and countdowns move.
setInterval(() => {
  refreshWaitingTurns();
  for (const turn of client.byMessageId.values()) showProgress(turn);
}, 1_000);

// --- keeping the newest exchange in view -----------------------------------

function atEnd() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < FOLLOW_SLACK_PX;
}

// The newest question at the top when its exchange is taller than the view, else the end.
function scrollToLatest() {
  const end = scroller.scrollHeight - scroller.clientHeight;
  const questions = conversation.querySelectorAll(".turn.user");
  const last = questions[questions.length - 1];
  const top = last ? last.offsetTop - 8 : end;
  client.autoTop = Math.max(0, Math.min(end, top));
  scroller.scrollTop = client.autoTop;
  client.following = true;
  pill.hidden = true;
}

function contentAdded(follow) {
  if (follow) scrollToLatest();
  else pill.hidden = false;
}

// Whether to keep following, read from where the view is now (a scroll event may not have run yet).
function following() {
  if (atEnd()) {
    client.following = true;
    pill.hidden = true;
  } else if (scroller.scrollTop < client.autoTop - 4) {
    client.following = false; // the shopper scrolled up to read
  }
  client.autoTop = Math.min(client.autoTop, scroller.scrollTop);
  return client.following;
}

scroller.addEventListener("scroll", following);

pill.addEventListener("click", () => {
  scrollToLatest();
  input.focus();
});

// --- the conversation ------------------------------------------------------

function element(tag, className, text) {
  const item = document.createElement(tag);
  if (className) item.className = className;
  if (text !== undefined) item.textContent = text;
  return item;
}

function addTurn(role, text) {
  const item = element("li", `turn ${role}`);
  item.append(element("p", "text", text), element("span", "state"));
  conversation.append(item);
  return item;
}

function addNote(text) {
  addTurn("note", text);
}

function setTurnState(item, text) {
  item.querySelector(".state").textContent = text;
}

function newClientMessageId() {
  return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now() + Math.random())).slice(0, 64);
}

function sendMessage(text) {
  const frame = { action: "sendMessage", message: text, client_message_id: newClientMessageId() };
  const user = addTurn("user", text);
  client.turns.set(frame.client_message_id, { user, assistant: null, seq: -1, acked: false, frame });
  setSession(ChatSession.queue(client.session, frame));
  client.following = true;
  flushOutbox();
  scrollToLatest();
}

// Each message not acked yet says why it waits: never "Sending…" without a reason for long.
function refreshWaitingTurns() {
  const session = client.session;
  const unacked = new Set(session.unacked.map((entry) => entry.frame.client_message_id));
  for (const [id, turn] of client.turns) {
    if (turn.acked || turn.failed) continue;
    let words = "Waiting to send…";
    if (turn.retryAt) {
      const seconds = Math.max(0, Math.ceil((turn.retryAt - Date.now()) / 1000));
      words = `Sent too quickly; sending again in ${seconds} s`;
    } else if (!isOpen()) words = "Not connected; it goes when the connection is back";
    else if (session.resuming) words = "Catching up with the conversation…";
    else if (unacked.has(id)) words = Date.now() - (turn.sentAt || 0) > SLOW_ACK_MS
      ? "Sending… the server is slow to confirm; it goes again if the connection drops"
      : "Sending…";
    else words = "Waiting for the message before it";
    setTurnState(turn.user, words);
  }
}

// A message the server refused for good (or too often): the shopper decides whether to send it again.
function notSent(frame) {
  const turn = client.turns.get(frame.client_message_id);
  if (!turn) return;
  turn.failed = true;
  turn.retryAt = null;
  setTurnState(turn.user, "Not sent");
  const resend = element("button", "resend", "Resend");
  resend.type = "button";
  resend.setAttribute("aria-label", `Resend: ${frame.message}`);
  resend.addEventListener("click", () => {
    resend.remove();
    turn.failed = false;
    setSession(ChatSession.queue(client.session, frame));
    flushOutbox();
  });
  turn.user.append(resend);
}

function handleFrame(frame) {
  switch (frame.type) {
    case "ack": return onAck(frame);
    case "status": return withTurn(frame, (turn) => onStatus(turn, frame));
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
  turn.retryAt = null;
  setTurnState(turn.user, "Sent");
  startReply(turn, frame.message_id);
}

// The question of a message this page did not send (from another tab, or before a reload): the
// ack carries the text acked. null from a server whose ack has no `message`.
function askedElsewhere(frame) {
  if (typeof frame.message !== "string" || !frame.message) return null;
  const user = addTurn("user", frame.message);
  setTurnState(user, "Sent");
  return user;
}

// A reply of this session to a message this page did not send (sent before a reload, or from
// another tab): shown as it comes, in a bubble of its own, after its question when its ack was seen.
function adoptReply(messageId, user = null) {
  const turn = { user, assistant: null, seq: -1, acked: true };
  startReply(turn, messageId);
  return turn;
}

function startReply(turn, messageId) {
  turn.assistant = addTurn("assistant", "");
  const progress = element("div", "progress");
  progress.append(element("span", "dots"), element("span", "progress-text", "Queued"), element("span", "elapsed"));
  progress.querySelector(".dots").setAttribute("aria-hidden", "true");
  turn.assistant.prepend(progress);
  turn.progress = { label: "Queued", since: Date.now() };
  turn.messageId = messageId;
  client.byMessageId.set(messageId, turn);
  showProgress(turn);
}

function showProgress(turn) {
  const box = turn.assistant && turn.assistant.querySelector(".progress");
  if (!box || !turn.progress) return;
  box.querySelector(".progress-text").textContent = turn.progress.label;
  const seconds = Math.max(0, Math.floor((Date.now() - turn.progress.since) / 1000));
  box.querySelector(".elapsed").textContent = `${seconds} s`;
}

function endProgress(turn) {
  const box = turn.assistant && turn.assistant.querySelector(".progress");
  if (box) box.remove();
  turn.progress = null;
}

function withTurn(frame, action) {
  let turn = client.byMessageId.get(frame.message_id);
  if (!turn && Number.isInteger(frame.cursor) && frame.message_id) turn = adoptReply(frame.message_id);
  if (turn && turn.assistant) action(turn);
}

const STATUS_WORDS = {
  processing: () => "Working on it",
  retrying: (frame) => `Trying again${frame.attempt ? ` (attempt ${frame.attempt})` : ""}` +
    (frame.reason ? `: ${frame.reason}` : ""),
};

function onStatus(turn, frame) {
  if (turn.stopped || !turn.progress) return;
  const words = (STATUS_WORDS[frame.status] || STATUS_WORDS.processing)(frame);
  const since = frame.status === "processing" ? Date.now() - (Number(frame.elapsed_ms) || 0) : turn.progress.since;
  if (turn.progress.label !== "Writing") turn.progress = { label: words, since };
  else turn.progress.since = since;
  showProgress(turn);
}

function onChunk(turn, frame) {
  if (frame.seq <= turn.seq || turn.stopped) return; // a repeat (chunks only grow the text), or stopped here
  turn.seq = frame.seq;
  turn.assistant.querySelector(".text").textContent += frame.delta;
  if (turn.progress) turn.progress.label = "Writing";
  showProgress(turn);
}

function onResponse(turn, frame) {
  endProgress(turn);
  client.byMessageId.delete(frame.message_id);
  const stopped = frame.stopped === true;
  if (turn.user) setTurnState(turn.user, stopped ? "Stopped" : "Answered");
  if (stopped || (turn.stopped && !frame.content)) {
    const text = turn.assistant.querySelector(".text");
    if (frame.content) text.textContent = frame.content;
    markStopped(turn);
    return;
  }
  turn.stopped = false;
  turn.assistant.classList.remove("stopped");
  setTurnState(turn.assistant, "");
  const shown = ChatReply.splitReply(frame.content, frame.products);
  turn.assistant.querySelector(".text").textContent = shown.text;
  if (shown.products.length) turn.assistant.append(renderProducts(shown.products));
  if (shown.after) turn.assistant.append(element("p", "text-after", shown.after));
  if (shown.cart) {
    turn.assistant.append(cartSummary(shown.cart));
    setCart(shown.cart);
  }
}

function markStopped(turn) {
  turn.stopped = true;
  endProgress(turn);
  turn.assistant.classList.add("stopped");
  const text = turn.assistant.querySelector(".text");
  if (!text.textContent) text.textContent = "(stopped before it began)";
  setTurnState(turn.assistant, "Stopped");
}

function onError(frame) {
  if (frame.code === "rate_limited" && !frame.message_id) return; // a ping over budget: nothing to tell
  const words = frame.code === "invalid_message" ? frame.message : ERROR_WORDS[frame.code] || FALLBACK_WORDS;
  let turn = frame.message_id && client.byMessageId.get(frame.message_id);
  if (!turn && frame.message_id && Number.isInteger(frame.cursor)) turn = adoptReply(frame.message_id);
  const item = turn && turn.assistant ? turn.assistant : addTurn("assistant", "");
  if (turn) {
    endProgress(turn);
    client.byMessageId.delete(frame.message_id);
    if (turn.user) setTurnState(turn.user, "Not answered");
  }
  item.classList.add("error");
  item.querySelector(".text").textContent = words;
  setTurnState(item, "");
  item.append(errorDetails(frame));
  if (frame.code === "service_unavailable") setState("blocked", "The assistant is not available");
}

function errorDetails(frame) {
  const details = element("details", "details");
  details.append(element("summary", "", "Details"));
  details.append(element("p", "", `Code: ${frame.code || "unknown"}`));
  if (frame.message_id) {
    details.append(element("p", "", `Message id: ${frame.message_id} (scripts/trace.py ${frame.message_id})`));
  }
  return details;
}

// --- stop ------------------------------------------------------------------

// Stop the reply in progress: the bubble keeps what was written, marked stopped, at once; the
// server ends it with a stopped response (its text is the same).
function stopReply() {
  const { state, send: frames } = ChatSession.stop(client.session);
  if (!frames.length) return;
  setSession(state);
  for (const frame of frames) send(frame);
  const turn = client.byMessageId.get(frames[0].message_id);
  if (turn && turn.assistant) markStopped(turn);
  setSession(client.session);
  input.focus();
}

stopButton.addEventListener("click", stopReply);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !stopButton.hidden) {
    event.preventDefault();
    stopReply();
  } else if (event.key === "Escape" && document.body.classList.contains("cart-open")) {
    toggleCart(false);
  }
});

// --- a new conversation ----------------------------------------------------

$("new-conversation").addEventListener("click", () => {
  const { state, send: frames } = ChatSession.reset(client.session);
  for (const frame of frames) send(frame);
  setSession(state);
  clearTimeout(client.retryTimer);
  client.turns.clear();
  client.byMessageId.clear();
  conversation.replaceChildren();
  setCart(null); // a new session starts with an empty cart
  addNote("New conversation. What are you looking for?");
  input.focus();
});

// --- products --------------------------------------------------------------

function renderProducts(cards) {
  const list = element("ul", "products");
  list.setAttribute("aria-label", "Products");
  const template = $("product-card");
  for (const { product, highlights } of cards) {
    const card = template.content.firstElementChild.cloneNode(true);
    card.querySelector(".product-name").textContent = product.name;
    card.querySelector(".product-brand").textContent = product.brand || "";
    card.querySelector(".product-price").textContent = ChatReply.formatPrice(product.price, product.currency);
    card.querySelector(".product-rating").textContent = ChatReply.formatRating(product.rating, product.review_count);
    card.querySelector(".product-description").textContent = ChatReply.oneLine(product.description);
    card.querySelector(".product-attributes").textContent = highlights;
    for (const button of card.querySelectorAll(".follow-up")) {
      const verb = button.dataset.action === "add" ? "Add to cart" : "Tell me more about";
      button.setAttribute("aria-label", `${verb} ${product.name}`);
      button.addEventListener("click", () => sendMessage(ChatReply.CART_WORDS[button.dataset.action](product.name)));
    }
    list.append(card);
  }
  return list;
}

// --- the cart --------------------------------------------------------------

function cartSummary(cart) {
  const box = element("p", "cart-summary");
  const count = `${cart.count} item${cart.count === 1 ? "" : "s"}`;
  box.append(element("span", "", cart.count ? `Cart: ${count} · Total ${cart.total} · ` : "Cart: empty · "));
  const open = element("button", "link", "View cart");
  open.type = "button";
  open.addEventListener("click", () => toggleCart(true));
  box.append(open);
  return box;
}

// The cart as the assistant last stated it (undefined: not known yet, e.g. after the resume window).
function setCart(given) {
  const cart = given === null ? { count: 0, lines: [], total: "$0.00" } : given;
  client.cart = cart;
  const known = cart !== undefined;
  const lines = known && cart ? cart.lines : [];
  $("cart-count").textContent = known ? String(cart.count) : "–";
  $("cart-empty").hidden = !known || lines.length > 0;
  $("cart-unknown").hidden = known;
  $("cart-total-line").hidden = !lines.length;
  $("cart-total").textContent = known ? cart.total : "";
  $("cart-lines").replaceChildren(...lines.map(cartLine));
}

function cartLine(line) {
  const item = element("li", "cart-line");
  item.append(element("span", "cart-name", line.name), element("span", "cart-price", line.lineTotal));
  const controls = element("div", "cart-controls");
  const buttons = [
    ["less", "−", `One fewer ${line.name}`],
    ["quantity", String(line.quantity), null],
    ["more", "+", `One more ${line.name}`],
    ["remove", "Remove", `Remove ${line.name} from the cart`],
  ];
  for (const [action, label, name] of buttons) {
    if (!name) {
      controls.append(element("span", "cart-quantity", label));
      continue;
    }
    const button = element("button", `secondary cart-${action}`, label);
    button.type = "button";
    button.setAttribute("aria-label", name);
    button.addEventListener("click", () => sendMessage(ChatReply.CART_WORDS[action](line.name)));
    controls.append(button);
  }
  item.append(controls);
  return item;
}

function toggleCart(open) {
  document.body.classList.toggle("cart-open", open);
  $("cart-toggle").setAttribute("aria-expanded", String(open));
  if (open) $("cart").focus();
}

$("cart-toggle").addEventListener("click", () => toggleCart(!document.body.classList.contains("cart-open")));
$("cart-close").addEventListener("click", () => {
  toggleCart(false);
  $("cart-toggle").focus();
});
$("cart-show").addEventListener("click", () => sendMessage("show my cart"));

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

setCart(client.sessionId ? undefined : null);
start();
input.focus();
