// The chat page's session logic (wire protocol: docs/protocol.md), kept pure
// so it can be tested without a browser (`node --test`, chalice_app/tests/web/): no DOM, no socket.
// Every function takes a state and returns a new one plus what to send or show; app.js does the I/O.
//
// - The session id comes from the server's ack; the highest `cursor` seen is kept with it (the page
//   stores both in localStorage, so a reload resumes).
// - After every (re)connect with a known session: `resume` with `after` = that cursor, and no
//   message goes out until the server answers (`resumed`, `invalid_session`, or `unknown_action` from
//   a server without resume).
// - A frame whose cursor is <= the last seen is a repeat and is dropped. A frame that skips ahead
//   waits until the gap is filled: during a replay, until `resumed` (the replay brought every frame
//   up to its cursor; a gap there is no longer kept); otherwise, and above `resumed.cursor` (those
//   frames come live), for GAP_WAIT_MS (two writers of a session, the gateway acking a message
//   while chat_processor streams the previous one, can post their frames out of cursor order), then
//   `gapTimedOut` shows what is held, in order.
// - `skipped` stands at a cursor whose frame was never stored in time: the cursor moves past it
//   like any frame, and nothing is shown (it is never a message's frame; one of another session is
//   ignored).
// - `stop` asks the server to stop the reply in progress: the oldest acked message whose terminal
//   frame has not come (the server runs a session's turns in acked order), or a message named. It
//   ends with a `response` carrying `"stopped": true`; `not_running` (the message had ended) is
//   shown nothing and forgets that message.
// - `invalid_session`: the stored session is forgotten, a note is shown, and the messages sent with
//   it go out again on a fresh session.
// - Frames without a cursor (an older server, or errors that belong to no message) are shown as
//   they come.
// - A frame refused for now (`rate_limited`, `busy`) goes again by itself: the outcome's `retry`
//   says after how long (the server's `retry_after_ms` / `retry_after_seconds` when given, else
//   1, 2, 4, 8 s, at most RETRY_CAP_MS; the page adds jitter and shows the countdown), and
//   `retryDue` lets it go. A refused `resume` is tried again for as long as it takes; a message
//   MAX_SEND_TRIES times, then it is `failed` (the page offers Resend), as is a message refused
//   for good (an error naming no message: `service_unavailable`, `internal_error` before the ack).
//   Messages typed after a refused one wait for it, so they still go in the order typed.
// - `reset` starts a new conversation: the next message goes without a session (the server issues
//   a new one), the replies in progress of the old one are stopped, and its frames are ignored.
// - A replay from cursor 0 (a reload) that does not begin at cursor 1 lost the start of the
//   conversation to the resume window: the note says so (the cart is kept on the server).
// - One message goes out at a time, the next once the previous is acked: without a session, so
//   its ack's session is the one every later message continues; with one, so the turns run in
//   the order they were typed (the server runs them in acked order).
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.ChatSession = factory();
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const EXPIRED_NOTE = "Your earlier conversation has expired; starting a new one";
  const STOP_UNSUPPORTED_NOTE = "This server cannot stop a reply";
  const HISTORY_NOTE = "Earlier messages are no longer shown. Your cart is kept.";
  const RETRY_CODES = ["rate_limited", "busy"]; // refused for now: the same frame goes again later
  const MAX_SEND_TRIES = 5; // a message refused this many times is given back to the shopper
  const RETRY_CAP_MS = 10000; // the longest wait before trying again (the rate-limit window)
  const TERMINAL = ["response", "error"]; // the frames that end one message
  const GAP_WAIT_MS = 1500; // outside a replay, how long a frame after a gap waits for the gap

  function initial(stored) {
    const sessionId = stored && typeof stored.sessionId === "string" && stored.sessionId ? stored.sessionId : null;
    const cursor = sessionId && Number.isInteger(stored.cursor) && stored.cursor > 0 ? stored.cursor : 0;
    return {
      sessionId,
      cursor,            // the highest cursor seen in this session (0: none yet)
      resuming: false,   // a `resume` is on its way: messages wait, frames that skip ahead are held
      canResume: true,   // false once a server answered `resume` with unknown_action
      held: [],          // frames that arrived ahead of a gap
      outbox: [],        // sendMessage frames (without session_id) not sent yet
      unacked: [],       // [{frame, sentWith}] sent, no ack seen yet
      awaitingSession: false, // a message went out without a session: the rest wait for its ack
      answering: [],     // message ids acked in this session whose terminal frame has not come, in acked order
      stopping: [],      // message ids a `stop` was sent for, whose end has not come yet
      limited: [],       // [{kind: "message", frame} | {kind: "stop", messageId}] refused for now, to go again
      tries: {},         // client_message_id -> how many times the server refused it for now
      resumeTries: 0,    // how many times the `resume` in progress was refused for now
      resumeLimited: false, // the `resume` was refused for now: it goes again at retryDue
      replayFrom: null,  // the `after` of the resume in progress
      forgotten: [],     // session ids left by `reset`: their frames are ignored
      failedNow: [],     // messages refused for good by the frame being reduced (moved to the outcome)
    };
  }

  function hasCursor(frame) {
    return Number.isInteger(frame.cursor) && frame.cursor > 0;
  }

  // --- the connection --------------------------------------------------------

  // The socket is open: resume the known session, or start again with the messages whose fate is unknown.
  function opened(state) {
    const again = state.limited.filter((entry) => entry.kind === "message").map((entry) => entry.frame);
    const s = {
      ...state, held: [], resuming: false, awaitingSession: false, limited: [], resumeLimited: false, resumeTries: 0,
      outbox: [...again, ...state.outbox],
    };
    if (s.sessionId && s.canResume) {
      s.resuming = true;
      s.replayFrom = s.cursor;
      return { state: s, send: [{ action: "resume", session_id: s.sessionId, after: s.cursor }] };
    }
    if (!s.sessionId) return { state: requeue(s, () => true), send: [] }; // nothing to resume from: send again
    return { state: s, send: [] };
  }

  // The resume got no answer in time: stop waiting for it.
  function resumeTimedOut(state) {
    if (!state.resuming) return { state, show: [], note: null };
    return endReplay(state, state.cursor);
  }

  // A frame has waited GAP_WAIT_MS for a gap (outside a replay): show what is held, in order.
  function gapTimedOut(state) {
    if (state.resuming || !state.held.length) return { state, show: [], note: null };
    return drain(state, [], Infinity);
  }

  // --- messages going out ----------------------------------------------------

  function queue(state, frame) {
    return { ...state, outbox: [...state.outbox, frame] };
  }

  // The message that may go out now on an open socket, stamped with the session: one at a time,
  // the next once the previous is acked. The server may handle two frames of a connection at
  // once and ack them in either order, and it runs a session's turns in acked order: so the
  // turns run in the order they were typed.
  function flush(state) {
    const waiting = state.limited.some((entry) => entry.kind === "message"); // a refused one goes first
    if (state.resuming || !state.outbox.length || state.unacked.length || waiting) return { state, send: [] };
    const [first, ...rest] = state.outbox;
    const frame = state.sessionId ? { ...first, session_id: state.sessionId } : first;
    const unacked = [{ frame: first, sentWith: state.sessionId }];
    return { state: { ...state, outbox: rest, unacked, awaitingSession: !state.sessionId }, send: [frame] };
  }

  // Put the unacked messages chosen by `which` back at the front of the outbox, in their order.
  function requeue(state, which) {
    const again = state.unacked.filter(which).map((entry) => entry.frame);
    return { ...state, unacked: state.unacked.filter((entry) => !which(entry)), outbox: [...again, ...state.outbox] };
  }

  // The `stop` frame for `messageId`, else for the reply in progress (the oldest acked message not
  // ended: the server runs a session's turns in acked order, so it is the one being answered, or
  // next). Nothing to send without a session or a message in progress.
  function stop(state, messageId) {
    const target = messageId || state.answering[0];
    if (!state.sessionId || !target) return { state, send: [] };
    return {
      state: { ...state, stopping: [...state.stopping, target] },
      send: [{ action: "stop", session_id: state.sessionId, message_id: target }],
    };
  }

  // A refused frame's wait is over: refused messages go back to the front of the outbox (flush
  // sends them, in order), a refused stop or resume is sent again.
  function retryDue(state) {
    const messages = state.limited.filter((entry) => entry.kind === "message").map((entry) => entry.frame);
    const send = state.limited.filter((entry) => entry.kind === "stop" && state.sessionId)
      .map((entry) => ({ action: "stop", session_id: state.sessionId, message_id: entry.messageId }));
    let s = { ...state, limited: [], outbox: [...messages, ...state.outbox] };
    if (s.resumeLimited && s.resuming && s.sessionId) {
      send.unshift({ action: "resume", session_id: s.sessionId, after: s.cursor });
      s = { ...s, resumeLimited: false };
    }
    return { state: s, send };
  }

  // A new conversation: the next message goes without a session and the server issues a new one;
  // the replies in progress of this one are stopped, and its frames are ignored from now on.
  function reset(state) {
    const send = state.sessionId
      ? state.answering.map((id) => ({ action: "stop", session_id: state.sessionId, message_id: id }))
      : [];
    const forgotten = state.sessionId ? [...state.forgotten, state.sessionId] : state.forgotten;
    return { state: { ...initial(null), canResume: state.canResume, forgotten }, send };
  }

  // How long to wait before trying a refused frame again: the server's hint, else doubling from 1 s.
  function retryDelay(frame, tries) {
    if (Number.isInteger(frame.retry_after_ms) && frame.retry_after_ms > 0) return frame.retry_after_ms;
    if (typeof frame.retry_after_seconds === "number" && frame.retry_after_seconds > 0) {
      return Math.round(frame.retry_after_seconds * 1000);
    }
    return Math.min(RETRY_CAP_MS, 1000 * 2 ** (tries - 1));
  }

  // `rate_limited` or `busy` naming no message: the frame it refused (a resume in progress, else
  // the message sent, else a stop) goes again after retry.after_ms; a message refused
  // MAX_SEND_TRIES times is given back (`failed`). Anything else refused is just shown.
  function refusedForNow(state, frame) {
    if (state.resuming) {
      const tries = state.resumeTries + 1;
      const s = { ...state, resumeTries: tries, resumeLimited: true };
      return { state: s, show: [], note: null, retry: { kind: "resume", after_ms: retryDelay(frame, tries) } };
    }
    if (state.unacked.length) {
      const [entry, ...unacked] = state.unacked;
      const id = entry.frame.client_message_id;
      const tries = (state.tries[id] || 0) + 1;
      const s = { ...state, unacked, awaitingSession: false, tries: { ...state.tries, [id]: tries } };
      if (tries >= MAX_SEND_TRIES) {
        return { state: forgetTries(s, id), show: [frame], note: null, failed: [entry.frame] };
      }
      const limited = [...s.limited, { kind: "message", frame: entry.frame }];
      const retry = { kind: "message", after_ms: retryDelay(frame, tries), client_message_id: id };
      return { state: { ...s, limited }, show: [], note: null, retry };
    }
    if (state.stopping.length) {
      const limited = [...state.limited, { kind: "stop", messageId: state.stopping[0] }];
      return { state: { ...state, limited }, show: [], note: null, retry: { kind: "stop", after_ms: retryDelay(frame, 1) } };
    }
    return { state, show: [frame], note: null };
  }

  function forgetTries(state, id) {
    const tries = { ...state.tries };
    delete tries[id];
    return { ...state, tries };
  }

  // --- frames coming in ------------------------------------------------------

  // (state, frame) -> {state, show: frames to render in order, note: text to show or null,
  //   retry: {kind, after_ms, client_message_id?} when a refused frame goes again later,
  //   failed: the sendMessage frames given back to the shopper (not sent)}
  function reduce(state, frame) {
    const out = reduceFrame(state, frame);
    const failed = [...(out.failed || []), ...out.state.failedNow];
    return { ...out, state: { ...out.state, failedNow: [] }, failed };
  }

  function reduceFrame(state, frame) {
    if (!frame || typeof frame !== "object") return { state, show: [], note: null };
    if (frame.session_id && state.forgotten.includes(frame.session_id)) return { state, show: [], note: null };
    if (frame.type === "resumed") {
      if (!state.resuming || frame.session_id !== state.sessionId) return { state, show: [], note: null };
      return endReplay(state, Number.isInteger(frame.cursor) ? frame.cursor : state.cursor);
    }
    if (frame.type === "error" && frame.code === "invalid_session") return expired(state);
    if (frame.type === "error" && frame.code === "unknown_action" && state.resuming && !frame.message_id) {
      // A server without resume: carry on as before it existed.
      const s = { ...state, resuming: false, canResume: false };
      return { state: s, show: s.held, note: null };
    }
    if (frame.type === "error" && frame.code === "unknown_action" && !frame.message_id && state.stopping.length) {
      // A server without stop (a sendMessage is never answered unknown_action): no message was refused.
      return { state: { ...state, stopping: state.stopping.slice(1) }, show: [], note: STOP_UNSUPPORTED_NOTE };
    }
    if (frame.type === "error" && frame.code === "not_running" && !frame.message_id) {
      // A stop found its message ended (its terminal frame never came here): forget it, say nothing.
      const [gone, ...stopping] = state.stopping;
      const answering = state.answering.filter((id) => id !== gone);
      return { state: { ...state, stopping, answering }, show: [], note: null };
    }
    if (frame.type === "skipped" && (!hasCursor(frame) || frame.session_id !== state.sessionId)) {
      return { state, show: [], note: null }; // it fills a gap of a session, never names one
    }
    if (frame.type === "error" && RETRY_CODES.includes(frame.code) && !frame.message_id) {
      return refusedForNow(state, frame);
    }
    if (!hasCursor(frame)) return { state: account(state, frame), show: [frame], note: null };

    let s = state;
    if (frame.session_id && frame.session_id !== s.sessionId) {
      const ours = frame.type === "ack" && s.unacked.some((e) => e.frame.client_message_id === frame.client_message_id);
      if (!ours && s.sessionId) return { state: s, show: [frame], note: null }; // another session's frame
      s = { ...s, sessionId: frame.session_id, cursor: frame.cursor - 1, held: [], answering: [], stopping: [] };
    }
    if (frame.cursor <= s.cursor) return { state: s, show: [], note: null }; // a repeat
    if (frame.cursor > s.cursor + 1) {
      return { state: { ...s, held: [...s.held, frame] }, show: [], note: null };
    }
    const show = [];
    s = take(s, frame, show);
    return drain(s, show);
  }

  // The frame at the next cursor: the cursor moves on, and it is shown unless it is a `skipped`.
  function take(state, frame, show) {
    if (frame.type !== "skipped") show.push(frame);
    return account({ ...state, cursor: frame.cursor }, frame);
  }

  // Apply the held frames that now follow on, and those up to `upto` across their gaps (given up
  // on), in cursor order.
  function drain(state, show, upto = 0) {
    let s = state;
    const held = [...s.held].sort((a, b) => a.cursor - b.cursor);
    const rest = [];
    for (const frame of held) {
      if (frame.cursor <= s.cursor) continue;
      if (frame.cursor === s.cursor + 1 || frame.cursor <= upto) {
        s = take(s, frame, show);
      } else {
        rest.push(frame);
      }
    }
    return { state: { ...s, held: rest }, show, note: null };
  }

  // The replay is over: what is held up to `last` follows (the frames in its gaps are no longer
  // kept); a frame above it came live, so one after a gap waits for it (GAP_WAIT_MS); and the
  // messages sent with this session that the server never acknowledged go out again.
  function endReplay(state, last) {
    // From cursor 0 and frame 1 never came: the start of the conversation is past the resume window.
    const trimmed = state.replayFrom === 0 && state.cursor === 0 && last > 0;
    const base = { ...state, resuming: false, resumeLimited: false, resumeTries: 0, replayFrom: null };
    const replayed = drain(base, [], last);
    const at = { ...replayed.state, cursor: Math.max(replayed.state.cursor, last) };
    const { state: s, show } = drain(at, replayed.show);
    const note = trimmed ? HISTORY_NOTE : null;
    return { state: requeue(s, (entry) => entry.sentWith === s.sessionId), show, note };
  }

  function expired(state) {
    if (!state.sessionId && !state.resuming) return { state, show: [], note: null }; // already started again
    const forgotten = { sessionId: null, cursor: 0, resuming: false, held: [], awaitingSession: false };
    const nothingToStop = { answering: [], stopping: [] }; // the forgotten session's messages
    const s = requeue({ ...state, ...forgotten, ...nothingToStop }, (entry) => entry.sentWith !== null);
    return { state: s, show: [], note: EXPIRED_NOTE };
  }

  // What a frame tells about the messages: an ack settles one (and names the session) and starts
  // its answer; a terminal frame ends it; an error that names no message refused one (the server
  // answers each message in turn), and so did an `internal_error` outside the session (no cursor:
  // the handler failed before the ack).
  function account(state, frame) {
    if (frame.type === "ack") {
      const unacked = state.unacked.filter((entry) => entry.frame.client_message_id !== frame.client_message_id);
      const sessionId = frame.session_id || state.sessionId;
      const id = frame.message_id;
      const starts = typeof id === "string" && id && !state.answering.includes(id);
      const answering = starts ? [...state.answering, id] : state.answering;
      return { ...forgetTries(state, frame.client_message_id), unacked, sessionId, awaitingSession: false, answering };
    }
    let s = state;
    if (TERMINAL.includes(frame.type) && frame.message_id) {
      const other = (id) => id !== frame.message_id;
      s = { ...s, answering: s.answering.filter(other), stopping: s.stopping.filter(other) };
    }
    const refused = !frame.message_id || (frame.code === "internal_error" && !hasCursor(frame));
    if (frame.type === "error" && refused && s.unacked.length) {
      // Refused for good (the frame is shown): given back to the shopper to send again.
      const [entry, ...unacked] = s.unacked;
      const gone = forgetTries(s, entry.frame.client_message_id);
      return { ...gone, unacked, awaitingSession: false, failedNow: [...s.failedNow, entry.frame] };
    }
    return s;
  }

  // What the page keeps in localStorage.
  function saved(state) {
    return { sessionId: state.sessionId, cursor: state.cursor };
  }

  return {
    EXPIRED_NOTE, STOP_UNSUPPORTED_NOTE, HISTORY_NOTE, GAP_WAIT_MS, MAX_SEND_TRIES, RETRY_CAP_MS,
    initial, opened, resumeTimedOut, gapTimedOut, queue, flush, stop, retryDue, reset, reduce, saved,
  };
});
