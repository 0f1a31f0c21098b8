"""Log lines of the four functions, read into one timeline per chat message.

Pure: no I/O. ``trace.py`` (the local files or CloudWatch Logs), the local console page
and the log filters all read lines through ``parse_line`` and ``build``.

A line is read tolerantly, whatever wrote it:

- the local runtime's files: ``{"timestamp": ms, "level", "type": START|END|REPORT|ERROR|LOG,
  "message": "<the app's JSON>", ...}`` (``localcloud/logfiles.py``);
- Powertools Logger's JSON (``timestamp`` an ISO string, ``timestamp_ms`` epoch ms, ``level``,
  ``message``, ``service``, ``function_request_id``, plus the appended keys such as ``event``,
  ``message_id``, ``session_id`` and ``attempt``: ``chalicelib/logs.py`` lists them);
- what CloudWatch Logs holds for a Lambda function: ``START RequestId: …``, ``REPORT RequestId: …
  Duration: 12.34 ms …`` (the Lambda runtime's platform lines), and the Python runtime's
  ``[LEVEL]\\t<time>\\t<request id>\\t<message>`` around the app's own JSON.

A message's marks (epoch ms), each from the first source that has it:

- ``acked``: an ``acked`` event; else a ``received_at_ms`` field; else ``picked_up`` minus its
  ``queue_wait_ms``; else the ``queued`` event (logged just after the ack and the enqueue);
- ``queued``: the ``queued`` event (websocket_message);
- ``picked_up``: a ``picked_up`` event (of a retried message: the attempt that answered, so its
  queue wait includes the failed attempts and SQS's visibility timeout); else ``answered``
  minus its ``elapsed_ms`` (the reply's start); else the message's first chat_processor line;
- ``first_chunk``: a ``first_chunk`` event;
- ``response``: the ``answered`` event.

Phases: queue wait (acked to picked up), processing (picked up to the first chunk, or to
the response when no chunk is logged), delivery (first chunk to response). They add up to
acked-to-response.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

__all__ = [
    "ERROR_EVENTS",
    "Entry",
    "Invocation",
    "Timeline",
    "parse_line",
    "parse_timestamp",
    "function_of",
    "build",
    "invocations",
    "Metric",
    "metrics",
    "format_ms",
    "format_timeline",
]

# Events that are errors whatever their level says.
ERROR_EVENTS = frozenset(
    {
        "processing_failed",
        "processing_failed_untold",
        "failure_untold",
        "post_failed",
        "enqueue_failed",
        "internal_error",
        "internal_error_unanswered",
    }
)

# Lambda's platform lines; the local files put the kind in "type" and the rest in "message".
_PLATFORM = re.compile(r"^(?:(?P<kind>START|END|REPORT|INIT_START|INIT_REPORT) )?RequestId: (?P<id>[0-9a-zA-Z-]+)")
_DURATION = re.compile(r"\bDuration: (?P<ms>[0-9.]+) ms")
# The Python runtime's text format: [LEVEL]\t2024-01-01T00:00:00.000Z\t<request id>\t<message>
_RUNTIME_LINE = re.compile(r"^\[(?P<level>[A-Z]+)\]\t(?P<time>\S+)\t(?P<id>[0-9a-fA-F-]*)\t(?P<message>.*)$", re.S)
_ISO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2})(?:[.,](?P<fraction>\d+))?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?$"
)


@dataclass(frozen=True)
class Entry:
    """One log line, read."""

    function: str
    timestamp_ms: int
    kind: str  # START, END, REPORT, ERROR or LOG
    level: str
    event: Optional[str]
    fields: Mapping[str, Any]
    request_id: Optional[str] = None
    duration_ms: Optional[float] = None  # REPORT lines
    error: bool = False

    @property
    def message_id(self) -> Optional[str]:
        value = self.fields.get("message_id")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Invocation:
    function: str
    request_id: Optional[str]
    started_ms: int
    duration_ms: float
    error: bool

    def to_dict(self) -> Dict[str, Any]:
        return {
            "function": self.function,
            "request_id": self.request_id,
            "started_ms": self.started_ms,
            "duration_ms": self.duration_ms,
            "error": self.error,
        }


@dataclass
class Timeline:
    message_id: str
    connection_id: Optional[str] = None
    session_id: Optional[str] = None
    marks: Dict[str, int] = field(default_factory=dict)
    attempt: int = 0  # the highest attempt logged (SQS ApproximateReceiveCount); 0: none logged
    drops: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    functions: List[str] = field(default_factory=list)
    first_ms: int = 0
    last_ms: int = 0

    @property
    def start_ms(self) -> int:
        return self.marks.get("acked", self.first_ms)

    def phases(self) -> Dict[str, Optional[int]]:
        """Queue wait, processing and delivery in ms (None where a mark is missing)."""
        marks = self.marks
        acked, picked, chunk, response = (marks.get(name) for name in ("acked", "picked_up", "first_chunk", "response"))
        processing_end = chunk if chunk is not None else response
        return {
            "queue_wait": _span(acked, picked),
            "processing": _span(picked, processing_end),
            "delivery": _span(chunk, response),
            "total": _span(acked, response),
        }

    @property
    def outcome(self) -> str:
        if "response" in self.marks:
            return "answered"
        if self.drops:
            return "dropped"
        if self.errors:
            return "failed"
        return "in progress"

    def to_dict(self) -> Dict[str, Any]:
        return {
            "message_id": self.message_id,
            "connection_id": self.connection_id,
            "session_id": self.session_id,
            "marks": dict(self.marks),
            "phases": self.phases(),
            "attempt": self.attempt,
            "drops": list(self.drops),
            "errors": list(self.errors),
            "functions": list(self.functions),
            "outcome": self.outcome,
            "start_ms": self.start_ms,
            "last_ms": self.last_ms,
        }


def _span(start: Optional[int], end: Optional[int]) -> Optional[int]:
    return None if start is None or end is None else end - start


# --- reading one line ---------------------------------------------------------


def parse_timestamp(value: Any) -> Optional[int]:
    """Epoch ms from epoch ms or s (a number) or an ISO 8601 string, as Powertools writes it
    (``2026-12-01 10:00:00,123+0000`` or ``2026-12-01T10:00:00.123Z``); None if neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value if value > 1e11 else value * 1000)
    if not isinstance(value, str):
        return None
    match = _ISO.match(value.strip())
    if not match:
        return None
    fraction = (match.group("fraction") or "0")[:6].ljust(6, "0")
    zone = match.group("zone") or "Z"
    zone = "+00:00" if zone == "Z" else zone[:3] + ":" + zone[-2:]
    stamp = datetime.fromisoformat(f"{match.group('date')}T{match.group('time')}.{fraction}{zone}")
    return int(stamp.astimezone(UTC).timestamp() * 1000)


def _json_object(text: str) -> Optional[Dict[str, Any]]:
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parse_line(function: str, line: Union[str, Mapping[str, Any]], timestamp_ms: Optional[int] = None) -> Entry:
    """One line of ``function``'s log; ``timestamp_ms`` is the log event's own time (CloudWatch's
    ``timestamp``), used when the line carries none."""
    outer = dict(line) if isinstance(line, Mapping) else (_json_object(line) if isinstance(line, str) else None)
    fields: Dict[str, Any] = {}
    kind, level, request_id, text = "LOG", "INFO", None, ""
    stamp = timestamp_ms
    if outer is None:
        text = str(line).strip()
        runtime = _RUNTIME_LINE.match(text)
        if runtime:
            level, request_id, text = runtime.group("level"), runtime.group("id") or None, runtime.group("message")
            stamp = parse_timestamp(runtime.group("time")) or stamp
            fields = _json_object(text) or {}
    else:
        fields = outer
        text = outer.get("message") if isinstance(outer.get("message"), str) else ""
        inner = outer.get("message") if isinstance(outer.get("message"), Mapping) else _json_object(text)
        if inner:
            fields = {**{k: v for k, v in outer.items() if k != "message"}, **inner}
        kind = str(outer.get("type") or "LOG").upper()
        level = str(fields.get("level") or outer.get("level") or level).upper()
        stamp = (
            parse_timestamp(fields.get("timestamp_ms"))
            or parse_timestamp(outer.get("timestamp"))
            or parse_timestamp(fields.get("timestamp"))
            or stamp
        )
        request_id = fields.get("function_request_id") or fields.get("request_id") or None
    platform = _PLATFORM.match(text)
    duration_ms = None
    if platform and (platform.group("kind") or kind != "LOG"):
        kind, request_id = platform.group("kind") or kind, platform.group("id")
        duration = fields.get("duration_ms")
        if duration is None and _DURATION.search(text):
            duration = float(_DURATION.search(text).group("ms"))
        duration_ms = float(duration) if duration is not None else None
    event = fields.get("event") if isinstance(fields.get("event"), str) else None
    error = (
        level in ("ERROR", "CRITICAL")
        or kind == "ERROR"
        or event in ERROR_EVENTS
        or bool(fields.get("error") is True and kind == "REPORT")
        or "errorType" in fields
        or "Status: error" in text
    )
    return Entry(
        function=function,
        timestamp_ms=int(stamp or 0),
        kind=kind,
        level=level,
        event=event,
        fields=fields,
        request_id=request_id if isinstance(request_id, str) else None,
        duration_ms=duration_ms,
        error=error,
    )


def function_of(name: str) -> str:
    """The function a log group or local log file belongs to:
    ``/aws/lambda/<app>-<stage>-chat_processor`` or ``aws-lambda-…-chat_processor.jsonl``
    gives ``chat_processor`` (function names have no ``-``; app and stage may)."""
    base = name.rstrip("/").rsplit("/", 1)[-1]
    if base.endswith(".jsonl"):
        base = base[: -len(".jsonl")]
    return base.rsplit("-", 1)[-1]


# --- timelines ------------------------------------------------------------------


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _describe_error(entry: Entry) -> str:
    what = entry.event or entry.kind.lower()
    detail = entry.fields.get("error") or entry.fields.get("reason") or entry.fields.get("errorMessage")
    attempt = entry.fields.get("attempt")
    text = f"{entry.function}: {what}"
    if attempt is not None:
        text += f" (attempt {attempt})"
    return f"{text}: {detail}" if detail and detail is not True else text


def build(entries: Iterable[Entry]) -> Dict[str, Timeline]:
    """A timeline per message id, in order of each message's first line."""
    by_message: Dict[str, List[Entry]] = {}
    for entry in sorted(entries, key=lambda e: e.timestamp_ms):
        if entry.message_id:
            by_message.setdefault(entry.message_id, []).append(entry)
    return {message_id: _timeline(message_id, lines) for message_id, lines in by_message.items()}


def _first(lines: List[Entry], event: str) -> Optional[Entry]:
    return next((line for line in lines if line.event == event), None)


def _timeline(message_id: str, lines: List[Entry]) -> Timeline:
    timeline = Timeline(message_id, first_ms=lines[0].timestamp_ms, last_ms=lines[-1].timestamp_ms)
    for line in lines:
        timeline.connection_id = timeline.connection_id or _text(line.fields.get("connection_id"))
        timeline.session_id = timeline.session_id or _text(line.fields.get("session_id"))
        if line.function not in timeline.functions:
            timeline.functions.append(line.function)
        attempt = _number(line.fields.get("attempt"))
        if attempt is not None:
            timeline.attempt = max(timeline.attempt, int(attempt))
        if line.event == "drop":
            timeline.drops.append(str(line.fields.get("reason") or "dropped"))
        elif line.error:
            timeline.errors.append(_describe_error(line))
    marks = timeline.marks
    answered = _first(lines, "answered")
    queued = _first(lines, "queued")
    # The pickup of the attempt that answered: the last one logged before the answer.
    pickups = [line for line in lines if line.event == "picked_up"]
    if answered is not None:
        pickups = [line for line in pickups if line.timestamp_ms <= answered.timestamp_ms] or pickups
    picked = pickups[-1] if pickups else None
    if picked is not None:
        marks["picked_up"] = picked.timestamp_ms
    elif answered is not None and _number(answered.fields.get("elapsed_ms")) is not None:
        marks["picked_up"] = answered.timestamp_ms - int(_number(answered.fields["elapsed_ms"]))
    else:
        processor = next((line for line in lines if line.function == "chat_processor"), None)
        if processor is not None:
            marks["picked_up"] = processor.timestamp_ms
    acked = _first(lines, "acked")
    received = next((line for line in lines if _number(line.fields.get("received_at_ms")) is not None), None)
    first_pickup = pickups[0] if pickups else None
    if acked is not None:
        marks["acked"] = acked.timestamp_ms
    elif received is not None:
        marks["acked"] = int(_number(received.fields["received_at_ms"]))
    elif first_pickup is not None and _number(first_pickup.fields.get("queue_wait_ms")) is not None:
        marks["acked"] = first_pickup.timestamp_ms - int(_number(first_pickup.fields["queue_wait_ms"]))
    elif queued is not None:
        marks["acked"] = queued.timestamp_ms
    if queued is not None:
        marks["queued"] = queued.timestamp_ms
    chunk = _first(lines, "first_chunk")
    if chunk is not None:
        marks["first_chunk"] = chunk.timestamp_ms
    if answered is not None:
        marks["response"] = answered.timestamp_ms
    return timeline


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def invocations(entries: Iterable[Entry]) -> List[Invocation]:
    """One per REPORT line (Lambda writes one at the end of every invocation), oldest first."""
    found = []
    for entry in entries:
        if entry.kind == "REPORT" and entry.duration_ms is not None:
            started = entry.timestamp_ms - int(entry.duration_ms)
            found.append(Invocation(entry.function, entry.request_id, started, entry.duration_ms, entry.error))
    return sorted(found, key=lambda invocation: invocation.started_ms)


@dataclass(frozen=True)
class Metric:
    function: str
    timestamp_ms: int
    name: str
    unit: str
    value: float


def metrics(entries: Iterable[Entry]) -> List[Metric]:
    """The values of CloudWatch embedded metric format lines (what Powertools Metrics prints):
    ``{"_aws": {"Timestamp": ms, "CloudWatchMetrics": [{"Metrics": [{"Name", "Unit"}]}]},
    "<Name>": value or [values], ...}``."""
    found = []
    for entry in entries:
        envelope = entry.fields.get("_aws")
        if not isinstance(envelope, Mapping):
            continue
        stamp = parse_timestamp(envelope.get("Timestamp")) or entry.timestamp_ms
        for directive in envelope.get("CloudWatchMetrics") or []:
            for definition in directive.get("Metrics") or [] if isinstance(directive, Mapping) else []:
                name = definition.get("Name") if isinstance(definition, Mapping) else None
                values = entry.fields.get(name)
                for value in values if isinstance(values, list) else [values]:
                    number = _number(value)
                    if name and number is not None:
                        found.append(Metric(entry.function, stamp, name, str(definition.get("Unit", "None")), number))
    return found


# --- printing ---------------------------------------------------------------------


def format_ms(ms: Optional[float]) -> str:
    """``412 ms`` under a second, ``1.9 s`` from there."""
    if ms is None:
        return "?"
    return f"{ms:.0f} ms" if abs(ms) < 1000 else f"{ms / 1000:.1f} s"


_STEPS = (
    ("acked", "acked", ""),
    ("queued", "queued", None),
    ("picked_up", "picked up", " (queue wait)"),
    ("first_chunk", "first chunk", ""),
    ("response", "response", ""),
)


def format_timeline(timeline: Timeline) -> List[str]:
    """``acked +0 ms -> queued -> picked up +412 ms (queue wait) -> first chunk +1.9 s ->
    response +37.2 s``, then the ids, attempt, phases, drops and errors."""
    start = timeline.start_ms
    steps = []
    for mark, label, note in _STEPS:
        if mark not in timeline.marks:
            continue
        steps.append(label if note is None else f"{label} +{format_ms(timeline.marks[mark] - start)}{note}")
    if timeline.drops:
        steps.append("dropped")
    elif timeline.errors and "response" not in timeline.marks:
        steps.append("failed")
    stamp = datetime.fromtimestamp(start / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    lines = [f"message {timeline.message_id} at {stamp}"]
    named = (("session", timeline.session_id), ("connection", timeline.connection_id))
    ids = [f"{name} {value}" for name, value in named if value]
    if ids:
        lines.append("  " + ", ".join(ids))
    lines.append("  " + " -> ".join(steps))
    phases = timeline.phases()
    parts = [
        f"{name.replace('_', ' ')} {format_ms(phases[name])}"
        for name in ("queue_wait", "processing", "delivery")
        if phases[name] is not None
    ]
    if parts:
        total = f" (total {format_ms(phases['total'])})" if phases["total"] is not None else ""
        lines.append("  " + ", ".join(parts) + total)
    lines.append(f"  attempt {timeline.attempt or 1}, {timeline.outcome}")
    lines += [f"  drop: {reason}" for reason in timeline.drops]
    lines += [f"  error: {error}" for error in timeline.errors]
    return lines
