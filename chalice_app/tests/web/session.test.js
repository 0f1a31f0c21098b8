// The chat page's session logic (web/session.js), run with `node --test` by test_session_js.py.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const S = require(path.join(__dirname, "..", "..", "web", "session.js"));

const SID = "s-1";
const ack = (cursor, cmid, sid = SID) => ({ type: "ack", message_id: "m1", client_message_id: cmid, session_id: sid, status: "queued", cursor });
const chunk = (cursor, seq, delta) => ({ type: "chunk", message_id: "m1", seq, delta, session_id: SID, cursor });
const response = (cursor) => ({ type: "response", message_id: "m1", content: "Hi there", products: [], session_id: SID, cursor });

// Feed frames one by one; return the final state, every frame shown (in order) and the notes.
function feed(state, frames) {
  const shown = [];
  const notes = [];
  for (const frame of frames) {
    const out = S.reduce(state, frame);
    state = out.state;
    shown.push(...out.show);
    if (out.note) notes.push(out.note);
  }
  return { state, shown, notes };
}

function connectedWith(stored) {
  return S.opened(S.initial(stored));
}

test("a new conversation takes its session id and cursor from the ack", () => {
  let state = S.queue(S.opened(S.initial(null)).state, { action: "sendMessage", message: "hi", client_message_id: "c1" });
  const out = S.flush(state);
  assert.deepEqual(out.send, [{ action: "sendMessage", message: "hi", client_message_id: "c1" }]);
  const fed = feed(out.state, [ack(1, "c1"), chunk(2, 0, "Hi"), response(3)]);
  assert.deepEqual(S.saved(fed.state), { sessionId: SID, cursor: 3 });
  assert.deepEqual(fed.shown.map((f) => f.type), ["ack", "chunk", "response"]);
  assert.deepEqual(fed.state.unacked, []);
});

test("without a session only one message goes out until its ack names the session", () => {
  let state = S.opened(S.initial(null)).state;
  state = S.queue(state, { action: "sendMessage", message: "one", client_message_id: "c1" });
  state = S.queue(state, { action: "sendMessage", message: "two", client_message_id: "c2" });
  let out = S.flush(state);
  assert.equal(out.send.length, 1);
  assert.equal(S.flush(out.state).send.length, 0);
  state = S.reduce(out.state, ack(1, "c1")).state;
  out = S.flush(state);
  assert.deepEqual(out.send, [{ action: "sendMessage", message: "two", client_message_id: "c2", session_id: SID }]);
});

test("with a session messages still go out one at a time, in the order typed", () => {
  // The server may ack two frames of one connection in either order; it runs turns in acked order.
  let state = S.initial({ sessionId: SID, cursor: 5 });
  for (const [i, text] of ["add it to my cart", "what is in my cart"].entries()) {
    state = S.queue(state, { action: "sendMessage", message: text, client_message_id: `c${i}` });
  }
  let out = S.flush(state);
  assert.deepEqual(out.send.map((f) => f.message), ["add it to my cart"]);
  assert.deepEqual(S.flush(out.state).send, []);
  out = S.flush(S.reduce(out.state, ack(6, "c0")).state);
  assert.deepEqual(out.send.map((f) => [f.message, f.session_id]), [["what is in my cart", SID]]);
});

test("an internal_error before the ack (no cursor) lets the next message go", () => {
  let state = S.initial({ sessionId: SID, cursor: 5 });
  state = S.queue(state, { action: "sendMessage", message: "first", client_message_id: "c0" });
  state = S.queue(state, { action: "sendMessage", message: "second", client_message_id: "c1" });
  state = S.flush(state).state;
  state = S.reduce(state, { type: "error", code: "internal_error", message: "try again", message_id: "m-0" }).state;
  assert.deepEqual(S.flush(state).send.map((f) => f.message), ["second"]);
});

test("a reconnect with a known session sends resume with the last cursor and holds messages", () => {
  const { state, send } = connectedWith({ sessionId: SID, cursor: 7 });
  assert.deepEqual(send, [{ action: "resume", session_id: SID, after: 7 }]);
  const queued = S.queue(state, { action: "sendMessage", message: "later", client_message_id: "c9" });
  assert.deepEqual(S.flush(queued).send, []);
  const after = S.reduce(queued, { type: "resumed", session_id: SID, cursor: 7 }).state;
  assert.deepEqual(S.flush(after).send, [{ action: "sendMessage", message: "later", client_message_id: "c9", session_id: SID }]);
});

test("replayed frames already seen are dropped; the interrupted reply continues once", () => {
  // Seen before the socket died: ack 1, chunk 2 (seq 0). The replay repeats 2, then brings 3 and 4.
  const { state } = connectedWith({ sessionId: SID, cursor: 2 });
  const fed = feed(state, [chunk(2, 0, "Hi"), chunk(3, 1, " there"), response(4), { type: "resumed", session_id: SID, cursor: 4 }]);
  assert.deepEqual(fed.shown.map((f) => f.cursor), [3, 4]);
  assert.equal(fed.state.cursor, 4);
  assert.equal(fed.state.resuming, false);
  // A live frame arriving again after the replay is a repeat too.
  assert.deepEqual(S.reduce(fed.state, response(4)).show, []);
});

test("during a replay a frame that skips ahead waits for the gap to fill", () => {
  const { state } = connectedWith({ sessionId: SID, cursor: 1 });
  const fed = feed(state, [response(4), chunk(2, 0, "Hi"), chunk(3, 1, " there")]);
  assert.deepEqual(fed.shown.map((f) => f.cursor), [2, 3, 4]);
});

test("resumed releases held frames whose gap is no longer kept", () => {
  const { state } = connectedWith({ sessionId: SID, cursor: 1 });
  const fed = feed(state, [response(5), { type: "resumed", session_id: SID, cursor: 5 }]);
  assert.deepEqual(fed.shown.map((f) => f.cursor), [5]);
  assert.equal(fed.state.cursor, 5);
});

test("resumed with a higher cursor than seen moves the cursor on", () => {
  const { state } = connectedWith({ sessionId: SID, cursor: 3 });
  assert.equal(S.reduce(state, { type: "resumed", session_id: SID, cursor: 9 }).state.cursor, 9);
});

test("outside a replay a frame after a gap waits for the frames before it (two writers of a session)", () => {
  const state = S.initial({ sessionId: SID, cursor: 2 });
  const fed = feed(state, [ack(4, "c2"), chunk(3, 0, "Hi")]);
  assert.deepEqual(fed.shown.map((f) => f.cursor), [3, 4]);
  assert.equal(fed.state.cursor, 4);
  assert.deepEqual(fed.state.held, []);
});

test("outside a replay a gap that stays open is given up after GAP_WAIT_MS, in cursor order", () => {
  const state = S.initial({ sessionId: SID, cursor: 2 });
  const fed = feed(state, [response(6), chunk(5, 1, "!")]);
  assert.deepEqual(fed.shown, []);
  assert.ok(S.GAP_WAIT_MS > 0 && S.GAP_WAIT_MS <= 2000);
  const out = S.gapTimedOut(fed.state);
  assert.deepEqual(out.show.map((f) => f.cursor), [5, 6]);
  assert.equal(out.state.cursor, 6);
  assert.deepEqual(S.gapTimedOut(out.state).show, []);
});

test("invalid_session forgets the session, says so, and starts a new one with the unanswered message", () => {
  let { state } = connectedWith({ sessionId: "gone", cursor: 12 });
  state = S.queue(state, { action: "sendMessage", message: "still there?", client_message_id: "c1" });
  const out = S.reduce(state, { type: "error", code: "invalid_session", message: "unknown session" });
  assert.equal(out.note, S.EXPIRED_NOTE);
  assert.deepEqual(S.saved(out.state), { sessionId: null, cursor: 0 });
  const sent = S.flush(out.state);
  assert.deepEqual(sent.send, [{ action: "sendMessage", message: "still there?", client_message_id: "c1" }]);
  const fed = feed(sent.state, [ack(1, "c1", "s-new")]);
  assert.deepEqual(S.saved(fed.state), { sessionId: "s-new", cursor: 1 });
  assert.deepEqual(fed.shown.map((f) => f.type), ["ack"]);
});

test("invalid_session for a message sent with an expired session sends it again without one", () => {
  let state = S.reduce(connectedWith({ sessionId: "gone", cursor: 3 }).state, { type: "resumed", session_id: "gone", cursor: 3 }).state;
  state = S.queue(state, { action: "sendMessage", message: "a", client_message_id: "c1" });
  state = S.queue(state, { action: "sendMessage", message: "b", client_message_id: "c2" });
  state = S.flush(state).state;
  const fed = feed(state, [
    { type: "error", code: "invalid_session", message: "x" },
    { type: "error", code: "invalid_session", message: "x" },
  ]);
  assert.deepEqual(fed.notes, [S.EXPIRED_NOTE]); // said once
  const out = S.flush(fed.state);
  assert.deepEqual(out.send, [{ action: "sendMessage", message: "a", client_message_id: "c1" }]);
  const next = S.flush(S.reduce(out.state, ack(1, "c1", "s-new")).state);
  assert.deepEqual(next.send, [{ action: "sendMessage", message: "b", client_message_id: "c2", session_id: "s-new" }]);
});

test("a message sent before the socket died and never acknowledged goes out again after resumed", () => {
  let state = S.initial({ sessionId: SID, cursor: 3 });
  state = S.flush(S.queue(state, { action: "sendMessage", message: "lost?", client_message_id: "c5" })).state;
  state = S.opened(state).state;
  assert.deepEqual(S.flush(state).send, []);
  state = S.reduce(state, { type: "resumed", session_id: SID, cursor: 3 }).state;
  assert.deepEqual(S.flush(state).send.map((f) => f.client_message_id), ["c5"]);
});

test("a message whose ack the replay brings is not sent again", () => {
  let state = S.initial({ sessionId: SID, cursor: 3 });
  state = S.flush(S.queue(state, { action: "sendMessage", message: "hi", client_message_id: "c5" })).state;
  state = S.opened(state).state;
  state = feed(state, [ack(4, "c5"), { type: "resumed", session_id: SID, cursor: 4 }]).state;
  assert.deepEqual(S.flush(state).send, []);
  assert.deepEqual(state.unacked, []);
});

test("an older server: no cursor, unknown_action for resume; frames are shown as they come", () => {
  let { state } = connectedWith({ sessionId: SID, cursor: 0 });
  const out = S.reduce(state, { type: "error", code: "unknown_action", message: "unknown action resume" });
  assert.deepEqual(out.show, []);
  assert.equal(out.state.resuming, false);
  state = S.queue(out.state, { action: "sendMessage", message: "hi", client_message_id: "c1" });
  state = S.flush(state).state;
  const legacy = [
    { type: "ack", message_id: "m1", client_message_id: "c1", session_id: SID, status: "queued" },
    { type: "chunk", message_id: "m1", seq: 0, delta: "Hi" },
    { type: "chunk", message_id: "m1", seq: 0, delta: "Hi" },
    { type: "response", message_id: "m1", session_id: SID, content: "Hi", products: [] },
  ];
  const fed = feed(state, legacy);
  assert.equal(fed.shown.length, 4); // shown as today; the page's seq check drops the repeated chunk
  assert.deepEqual(S.opened(fed.state).send, []); // and no more resumes to that server
});

test("an old server's first ack without a cursor still names the session", () => {
  let state = S.flush(S.queue(S.initial(null), { action: "sendMessage", message: "hi", client_message_id: "c1" })).state;
  state = S.reduce(state, { type: "ack", message_id: "m1", client_message_id: "c1", session_id: "old-1", status: "queued" }).state;
  assert.equal(state.sessionId, "old-1");
  assert.equal(state.awaitingSession, false);
});

test("errors that name no message carry no cursor and are shown; one refuses the oldest message", () => {
  let state = S.flush(S.queue(S.initial(null), { action: "sendMessage", message: "hi", client_message_id: "c1" })).state;
  const out = S.reduce(state, { type: "error", code: "invalid_message", message: "message is empty" });
  assert.equal(out.show.length, 1);
  assert.deepEqual(out.state.unacked, []);
  assert.deepEqual(out.failed.map((f) => f.client_message_id), ["c1"]); // the page offers Resend
  assert.equal(out.state.awaitingSession, false);
});

test("a resume that gets no answer stops holding messages", () => {
  let { state } = connectedWith({ sessionId: SID, cursor: 2 });
  state = S.queue(state, { action: "sendMessage", message: "hi", client_message_id: "c1" });
  state = S.resumeTimedOut(state).state;
  assert.equal(S.flush(state).send.length, 1);
});

test("the stored state is checked: junk in localStorage starts a new conversation", () => {
  assert.deepEqual(S.saved(S.initial({ sessionId: "", cursor: 4 })), { sessionId: null, cursor: 0 });
  assert.deepEqual(S.saved(S.initial({ sessionId: SID, cursor: NaN })), { sessionId: SID, cursor: 0 });
  assert.deepEqual(S.saved(S.initial({ sessionId: SID, cursor: -3 })), { sessionId: SID, cursor: 0 });
});

// --- the vectors shared with scripts/chat.py's Session (tests/unit/test_chat_client.py) ---------

const VECTORS = require(path.join(__dirname, "client_vectors.json")).vectors;
const label = (frame) => (Number.isInteger(frame.cursor) ? `${frame.type}:${frame.cursor}` : frame.type);

// One vector: each step does one thing to the state, then its expectations (where given) are checked.
function runVector(vector) {
  const stored = vector.stored && { sessionId: vector.stored.session_id, cursor: vector.stored.cursor };
  let state = S.initial(stored);
  for (const [index, step] of vector.steps.entries()) {
    const where = `${vector.name}, step ${index}`;
    let out = {};
    if (step.open) out = S.opened(state);
    else if (step.queue) out = { state: S.queue(state, step.queue) };
    else if (step.flush) out = S.flush(state);
    else if (step.stop) out = S.stop(state);
    else if (step.receive) out = S.reduce(state, step.receive);
    else if (step.gap_timeout) out = S.gapTimedOut(state);
    else if (step.retry_due) out = S.retryDue(state);
    else if (step.reset) out = S.reset(state);
    else assert.fail(`${where}: no action`);
    state = out.state;
    if ("send" in step) assert.deepEqual(out.send, step.send, where);
    if ("show" in step) assert.deepEqual(out.show.map(label), step.show, where);
    if ("note" in step) assert.equal(out.note, step.note, where);
    if ("cursor" in step) assert.equal(state.cursor, step.cursor, where);
    if ("session" in step) assert.equal(state.sessionId, step.session, where);
    if ("held" in step) assert.deepEqual(state.held.map((f) => f.cursor).sort((a, b) => a - b), step.held, where);
    if ("unacked" in step) assert.deepEqual(state.unacked.map((e) => e.frame.client_message_id), step.unacked, where);
    if ("retry" in step) assert.deepEqual(out.retry || null, step.retry, where);
    if ("failed" in step) assert.deepEqual((out.failed || []).map((f) => f.client_message_id), step.failed, where);
  }
}

for (const vector of VECTORS) test(`shared vector: ${vector.name}`, () => runVector(vector));

test("stop can name the message to stop (a page's button on one reply)", () => {
  const state = feed(S.initial({ sessionId: SID, cursor: 0 }), [
    { ...ack(1, "c1"), message_id: "m1" },
    { ...ack(2, "c2"), message_id: "m2" },
  ]).state;
  assert.deepEqual(S.stop(state, "m2").send, [{ action: "stop", session_id: SID, message_id: "m2" }]);
  assert.deepEqual(S.stop(state).send, [{ action: "stop", session_id: SID, message_id: "m1" }]);
});

test("the ack's message (the text acked) reaches the page with the ack", () => {
  const frame = { ...ack(1, "c-other"), message: "running shoes under 100" };
  const out = S.reduce(S.initial({ sessionId: SID, cursor: 0 }), frame);
  assert.deepEqual(out.show, [frame]);
});
