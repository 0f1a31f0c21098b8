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
//   waits until the gap is filled: during a replay, or until `resumed` ends it; otherwise for
//   GAP_WAIT_MS (two writers of a session, the gateway acking a message while chat_processor
//   streams the previous one, can post their frames out of cursor order), then `gapTimedOut`
//   shows what is held, in order.
// - `invalid_session`: the stored session is forgotten, a note is shown, and the messages sent with
//   it go out again on a fresh session.
// - Frames without a cursor (an older server, or errors that belong to no message) are shown as
//   they come.
// - One message goes out at a time, the next once the previous is acked: without a session, so
//   its ack's session is the one every later message continues; with one, so the turns run in
//   the order they were typed (the server runs them in acked order).
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.ChatSession = factory();
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const EXPIRED_NOTE = "Your earlier conversation has expired; starting a new one";
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
    };
  }

  function hasCursor(frame) {
    return Number.isInteger(frame.cursor) && frame.cursor > 0;
  }

  // --- the connection --------------------------------------------------------

  // The socket is open: resume the known session, or start again with the messages whose fate is unknown.
  function opened(state) {
    const s = { ...state, held: [], resuming: false, awaitingSession: false };
    if (s.sessionId && s.canResume) {
      s.resuming = true;
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
    return drain(state, [], true);
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
    if (state.resuming || !state.outbox.length || state.unacked.length) return { state, send: [] };
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

  // --- frames coming in ------------------------------------------------------

  // (state, frame) -> {state, show: frames to render in order, note: text to show or null}
  function reduce(state, frame) {
    if (!frame || typeof frame !== "object") return { state, show: [], note: null };
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
    if (!hasCursor(frame)) return { state: account(state, frame), show: [frame], note: null };

    let s = state;
    if (frame.session_id && frame.session_id !== s.sessionId) {
      const ours = frame.type === "ack" && s.unacked.some((e) => e.frame.client_message_id === frame.client_message_id);
      if (!ours && s.sessionId) return { state: s, show: [frame], note: null }; // another session's frame
      s = { ...s, sessionId: frame.session_id, cursor: frame.cursor - 1, held: [] };
    }
    if (frame.cursor <= s.cursor) return { state: s, show: [], note: null }; // a repeat
    if (frame.cursor > s.cursor + 1) {
      return { state: { ...s, held: [...s.held, frame] }, show: [], note: null };
    }
    const show = [frame];
    s = account({ ...s, cursor: frame.cursor }, frame);
    return drain(s, show);
  }

  // Apply the held frames that now follow on (`all`: every one, across its gaps), in cursor order.
  function drain(state, show, all = false) {
    let s = state;
    const held = [...s.held].sort((a, b) => a.cursor - b.cursor);
    const rest = [];
    for (const frame of held) {
      if (frame.cursor <= s.cursor) continue;
      if (frame.cursor === s.cursor + 1 || all) {
        show.push(frame);
        s = account({ ...s, cursor: frame.cursor }, frame);
      } else {
        rest.push(frame);
      }
    }
    return { state: { ...s, held: rest }, show, note: null };
  }

  // The replay is over: what is still held follows (the frames in its gap are no longer kept), and
  // the messages sent with this session that the server never acknowledged go out again.
  function endReplay(state, last) {
    const { state: s, show } = drain({ ...state, resuming: false }, [], true);
    const resumed = { ...s, cursor: Math.max(s.cursor, last) };
    return { state: requeue(resumed, (entry) => entry.sentWith === resumed.sessionId), show, note: null };
  }

  function expired(state) {
    if (!state.sessionId && !state.resuming) return { state, show: [], note: null }; // already started again
    const s = requeue(
      { ...state, sessionId: null, cursor: 0, resuming: false, held: [], awaitingSession: false },
      (entry) => entry.sentWith !== null,
    );
    return { state: s, show: [], note: EXPIRED_NOTE };
  }

  // What a frame tells about the messages sent: an ack settles one (and names the session); an
  // error that names no message refused one (the server answers each message in turn), and so
  // did an `internal_error` outside the session (no cursor: the handler failed before the ack).
  function account(state, frame) {
    if (frame.type === "ack") {
      const unacked = state.unacked.filter((entry) => entry.frame.client_message_id !== frame.client_message_id);
      const sessionId = frame.session_id || state.sessionId;
      return { ...state, unacked, sessionId, awaitingSession: false };
    }
    const refused = !frame.message_id || (frame.code === "internal_error" && !hasCursor(frame));
    if (frame.type === "error" && refused && state.unacked.length) {
      return { ...state, unacked: state.unacked.slice(1), awaitingSession: false };
    }
    return state;
  }

  // What the page keeps in localStorage.
  function saved(state) {
    return { sessionId: state.sessionId, cursor: state.cursor };
  }

  return { EXPIRED_NOTE, GAP_WAIT_MS, initial, opened, resumeTimedOut, gapTimedOut, queue, flush, reduce, saved };
});
