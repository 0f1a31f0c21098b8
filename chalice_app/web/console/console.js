// The local console: polls /console/api/state and renders it. Built with DOM calls only
// (the page's CSP allows no inline script or style; widths are set through CSSOM).
"use strict";

const POLL_MS = 500;
const PHASES = ["queue_wait", "processing", "delivery"];

function formatMs(ms) {
  if (ms === null || ms === undefined) return "–";
  return Math.abs(ms) < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function clock(epochMs) {
  if (!epochMs) return "–";
  const date = new Date(epochMs);
  return date.toLocaleTimeString([], { hour12: false }) + "." + String(date.getMilliseconds()).padStart(3, "0");
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function fill(tableId, rows, columns, makeRow) {
  const body = document.querySelector(`#${tableId} tbody`);
  const fresh = document.createDocumentFragment();
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = cell("none yet");
    td.colSpan = columns;
    tr.append(td);
    fresh.append(tr);
  }
  for (const row of rows) fresh.append(makeRow(row));
  body.replaceChildren(fresh);
}

function timelineBars(message, scaleMs) {
  const bars = document.createElement("div");
  bars.className = "bars";
  bars.setAttribute("role", "img");
  const described = [];
  for (const phase of PHASES) {
    const ms = message.phases[phase];
    if (ms === null || ms === undefined) continue;
    const segment = document.createElement("span");
    segment.className = `segment ${phase}`;
    segment.dataset.ms = String(ms);
    segment.style.width = `${scaleMs > 0 ? (100 * Math.max(ms, 0)) / scaleMs : 0}%`;
    segment.title = `${phase.replace("_", " ")} ${formatMs(ms)}`;
    described.push(segment.title);
    bars.append(segment);
  }
  bars.setAttribute("aria-label", described.join(", ") || "no phase logged yet");
  return bars;
}

function messageRow(message, scaleMs) {
  const tr = document.createElement("tr");
  tr.dataset.messageId = message.message_id;
  tr.className = message.outcome.replace(" ", "-");
  tr.append(cell(clock(message.start_ms)), cell(message.message_id, "id"), cell(message.session_id || "–", "id"),
            cell(message.outcome, "outcome"), cell(String(message.attempt || 1)));
  const td = document.createElement("td");
  td.className = "timeline";
  td.append(timelineBars(message, scaleMs));
  const problems = [...message.drops.map((reason) => `drop: ${reason}`), ...message.errors];
  if (problems.length) td.title = problems.join("\n");
  tr.append(td, cell(formatMs(message.phases.total)));
  return tr;
}

function render(state) {
  document.getElementById("connection-count").textContent = String(state.connections.length);
  const depths = state.queues.depths;
  const queue = depths[0], dlq = depths[1];
  document.getElementById("queue-visible").textContent = queue ? String(queue.visible) : "–";
  document.getElementById("queue-in-flight").textContent = queue ? String(queue.in_flight) : "–";
  document.getElementById("dlq-depth").textContent = dlq ? String(dlq.visible + dlq.in_flight) : "–";
  const queueError = document.getElementById("queue-error");
  queueError.hidden = !state.queues.error;
  queueError.textContent = state.queues.error ? `queue depth unavailable: ${state.queues.error}` : "";

  const totals = state.messages.map((m) => PHASES.reduce((sum, p) => sum + Math.max(m.phases[p] || 0, 0), 0));
  const scaleMs = Math.max(0, ...totals);
  fill("messages", state.messages, 7, (message) => messageRow(message, scaleMs));
  fill("functions", Object.entries(state.functions), 5, ([name, t]) => {
    const tr = document.createElement("tr");
    tr.append(cell(name), cell(String(t.invocations)), cell(String(t.errors), t.errors ? "error" : ""),
              cell(formatMs(t.average_ms)), cell(formatMs(t.max_ms)));
    return tr;
  });
  fill("invocations", state.invocations.slice(0, 30), 5, (invocation) => {
    const tr = document.createElement("tr");
    if (invocation.error) tr.className = "failed";
    tr.append(cell(clock(invocation.started_ms)), cell(invocation.function), cell(formatMs(invocation.duration_ms)),
              cell(invocation.error ? "error" : "ok"), cell(invocation.request_id || "–", "id"));
    return tr;
  });
  fill("connections", state.connections, 5, (connection) => {
    const tr = document.createElement("tr");
    tr.append(cell(connection.connection_id, "id"), cell(clock(connection.connected_at_ms)),
              cell(clock(connection.last_active_ms)), cell(String(connection.in_flight)),
              cell(`${connection.source_ip} ${connection.user_agent}`.trim()));
    return tr;
  });
  fill("metrics", state.metrics, 5, (metric) => {
    const tr = document.createElement("tr");
    tr.append(cell(metric.name), cell(metric.unit), cell(String(metric.count)), cell(String(metric.last)),
              cell(metric.count ? (metric.sum / metric.count).toFixed(1) : "–"));
    return tr;
  });
}

async function poll() {
  const status = document.getElementById("status");
  try {
    const response = await fetch("/console/api/state", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const state = await response.json();
    render(state);
    window.consoleState = state;
    status.dataset.state = "live";
    status.textContent = `Live, updated ${clock(state.now_ms)}`;
  } catch (error) {
    status.dataset.state = "error";
    status.textContent = `The local stack does not answer (${error.message}); retrying`;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
