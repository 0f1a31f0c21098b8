"""Rate limits shared by every Lambda instance: fixed-window counters in DynamoDB.

What is counted, per ``RATE_LIMIT_WINDOW_SECONDS`` window (0 turns a limit off):

==================  ===============================  ====================================
scope               limit                            counted on
==================  ===============================  ====================================
connection          ``RATE_LIMIT_MESSAGES`` (5)      the connection's record
token subject       ``RATE_LIMIT_SUBJECT_MESSAGES``  item ``rl#subject#<subject>``
                    (default: the per-connection)
source IP           ``RATE_LIMIT_IP_MESSAGES``       item ``rl#ip#<address>``
                    (default 0: off)
pings, connection   ``PING_RATE_LIMIT`` (20)         the connection's record
resumes, connection ``RESUME_RATE_LIMIT`` (10)       the connection's record
==================  ===============================  ====================================

The per-IP limit is off by default: API Gateway has none, and one address is the normal
case for shoppers (an office, a mobile carrier's NAT: hundreds or thousands of clients),
so any fixed default would refuse honest traffic somewhere. Abuse from one client stays
bounded by the per-connection and per-subject limits; a flood spread over many
connections is what a WAF rate-based rule in front of the API is for. An operator who
turns it on sizes it as (shoppers behind the largest shared address at the peak) x
(messages one sends per window: about 1 per 10 s) x 2 for bursts and resends, e.g.
500 shoppers behind one carrier address with a 10 s window: 1000.

Resumes have their own budget per connection and no per-subject or per-IP one: a resume
follows a reconnect, so a storm of reconnects behind one address (a Wi-Fi drop in an
office) is one resume per new connection and is never refused; the budget only bounds
one connection replaying the same session over and over. Stops count as messages.

All items live in the connections table, whose ``ttl`` attribute lets DynamoDB
delete them. A sendMessage is checked per connection first (that update also
returns the token subject stored at $connect, so it runs whenever a per-subject
limit is on), then per subject, then per IP; the
first refusal stops the checks. The connection's update also records the session the
frame names (``session_id``), so $disconnect can detach the connection from it without
another write.

Each count is atomic: an ``UpdateItem`` that adds 1 and returns the new value
(DynamoDB applies updates to one item one at a time, so none is lost). A window
is a pair of attributes, its number and its count, changed by one of two
conditional updates whose conditions are each other's negation, so exactly one
of them holds for any stored state:

- the stored window is this one (or a later one, on a clock that runs ahead):
  ``ADD count 1``;
- there is none, or an earlier one: ``SET window = this, count = 1``.

A request that loses the race to open a window finds the other condition true on
its next try (windows only move forward), so concurrent requests are all counted,
in at most three calls. Nothing is read first, so nothing is decided on a stale
value.
"""

import math
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import Settings, settings

__all__ = ["Verdict", "SCOPES", "allow", "allow_ping", "allow_resume", "counter_key"]

# scope -> how a refusal names it to the client
SCOPES = {
    "connection": "connection",
    "subject": "user",
    "ip": "network address",
    "ping": "connection",
    "resume": "connection",
}
# What a scope counts, in the hint a refusal carries (messages when not named here).
_COUNTED = {"ping": "pings", "resume": "resumes"}
# Counter items for a subject or IP outlive their window by this much (a clock a bit behind still finds them).
_COUNTER_TTL_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    scope: Optional[str] = None  # the limit that refused (a key of SCOPES), when not allowed
    limit: int = 0
    window_seconds: int = 0
    # The token subject stored at $connect, as the connection's counter update returned it
    # (None: no subject, or that update did not run because both message limits are off).
    subject: Optional[str] = None
    subject_known: bool = False
    # When the refusing window ends (the frame's ``retry_after_ms``): sent then, it is counted afresh.
    retry_after_ms: int = 0

    def hint(self) -> str:
        """What the client is told with ``rate_limited``."""
        what = _COUNTED.get(self.scope or "", "messages")
        return (
            f"at most {self.limit} {what} per {self.window_seconds} s per {SCOPES.get(self.scope, 'connection')}; "
            "wait a moment"
        )


def counter_key(scope: str, key: str) -> str:
    """The connections-table key of a subject's or an address's counter item."""
    return f"rl#{scope}#{key}"


def allow(
    connection_id: str, source_ip: Optional[str] = None, now: Optional[float] = None, session_id: Optional[str] = None
) -> Verdict:
    """Count one sendMessage against every limit that applies; the first refusal wins."""
    config = settings()
    moment = time.time() if now is None else now
    subject: Optional[str] = None
    known = False
    if config.rate_limit_messages > 0 or config.rate_limit_subject_messages > 0:
        count, item = _hit_connection(config, connection_id, "msg", moment, session_id)
        if 0 < config.rate_limit_messages < count:
            return _refused(config, "connection", config.rate_limit_messages, moment)
        subject, known = (item.get("subject") or {}).get("S"), True
    for scope, key, limit in (
        ("subject", subject, config.rate_limit_subject_messages),
        ("ip", source_ip, config.rate_limit_ip_messages),
    ):
        if key and limit > 0 and _hit_counter(config, counter_key(scope, key), moment) > limit:
            return _refused(config, scope, limit, moment)
    return Verdict(True, subject=subject, subject_known=known)


def allow_ping(connection_id: str, now: Optional[float] = None) -> Verdict:
    """Count one ping against ``PING_RATE_LIMIT`` (each costs an invocation and a post)."""
    config = settings()
    if config.ping_rate_limit <= 0:
        return Verdict(True)
    moment = time.time() if now is None else now
    count, _ = _hit_connection(config, connection_id, "ping", moment)
    if count > config.ping_rate_limit:
        return _refused(config, "ping", config.ping_rate_limit, moment)
    return Verdict(True)


def allow_resume(connection_id: str, session_id: str, now: Optional[float] = None) -> Verdict:
    """Count one resume against ``RESUME_RATE_LIMIT`` (its own budget, never a message's).

    The update runs even with the limit off: it records the session on the connection (for
    $disconnect) and returns the token subject, as a sendMessage's does."""
    config = settings()
    moment = time.time() if now is None else now
    count, item = _hit_connection(config, connection_id, "resume", moment, session_id)
    if 0 < config.resume_rate_limit < count:
        return _refused(config, "resume", config.resume_rate_limit, moment)
    return Verdict(True, subject=(item.get("subject") or {}).get("S"), subject_known=True)


def _refused(config: Settings, scope: str, limit: int, moment: float) -> Verdict:
    window = config.rate_limit_window_seconds
    next_window_at = (_window_of(moment, window) + 1) * window
    return Verdict(False, scope, limit, window, retry_after_ms=max(1, math.ceil((next_window_at - moment) * 1000)))


def _window_of(moment: float, window_seconds: int) -> int:
    """Fixed windows: every ``window_seconds`` since the epoch starts a new one."""
    return int(moment // window_seconds)


def _hit_connection(
    config: Settings, connection_id: str, counter: str, moment: float, session_id: Optional[str] = None
) -> Tuple[int, Dict[str, Any]]:
    # A message can arrive for a record $connect never wrote (or $disconnect removed):
    # the update creates it, with the connection TTL, and leaves an existing ttl alone.
    ttl = int(moment) + config.connection_ttl_seconds
    window = _window_of(moment, config.rate_limit_window_seconds)
    return _hit(config, connection_id, counter, window, ttl, keep_ttl=True, session_id=session_id)


def _hit_counter(config: Settings, key: str, moment: float) -> int:
    window = _window_of(moment, config.rate_limit_window_seconds)
    ttl = (window + 1) * config.rate_limit_window_seconds + _COUNTER_TTL_MARGIN_SECONDS
    return _hit(config, key, "msg", window, ttl, keep_ttl=False)[0]


def _counter_updates(
    table: str, key: str, names: Dict[str, str], window: int, ttl: int, keep_ttl: bool, session_id: Optional[str]
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The two UpdateItem requests of ``_hit``: count in the item's window, or start a new one."""
    common = {"TableName": table, "Key": {"connection_id": {"S": key}}, "ReturnValues": "ALL_NEW"}
    # The session the frame names rides along (see the module doc).
    set_session, session_names, session_values = "", {}, {}
    if session_id:
        set_session, session_names, session_values = (
            ", #sid = :sid",
            {"#sid": "session_id"},
            {":sid": {"S": session_id}},
        )
    in_window = dict(
        common,
        UpdateExpression=(f"SET {set_session[2:]} " if session_id else "") + "ADD #count :one",
        ConditionExpression="#window >= :window",
        ExpressionAttributeNames={"#window": names["#window"], "#count": names["#count"], **session_names},
        ExpressionAttributeValues={":one": {"N": "1"}, ":window": {"N": str(window)}, **session_values},
    )
    set_ttl = "#ttl = if_not_exists(#ttl, :ttl)" if keep_ttl else "#ttl = :ttl"
    values = {":one": {"N": "1"}, ":window": {"N": str(window)}, ":ttl": {"N": str(ttl)}, **session_values}
    new_window = dict(
        common,
        UpdateExpression=f"SET #window = :window, #count = :one, {set_ttl}{set_session}",
        ConditionExpression="attribute_not_exists(#window) OR #window < :window",
        ExpressionAttributeNames={**names, **session_names},
        ExpressionAttributeValues=values,
    )
    return in_window, new_window


def _hit(
    config: Settings,
    key: str,
    counter: str,
    window: int,
    ttl: int,
    keep_ttl: bool,
    session_id: Optional[str] = None,
) -> Tuple[int, Dict[str, Any]]:
    """Add 1 to ``counter`` of item ``key`` in ``window``; the new count and the whole item."""
    dynamodb = aws.client("dynamodb")
    names = {"#window": f"{counter}_window", "#count": f"{counter}_count", "#ttl": "ttl"}
    in_window, new_window = _counter_updates(config.connections_table, key, names, window, ttl, keep_ttl, session_id)
    # in_window, new_window, in_window: the third always holds if the second lost (see the module doc).
    for request in (in_window, new_window, in_window):
        try:
            item = dynamodb.update_item(**request)["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            continue
        return int(item[names["#count"]]["N"]), item
    raise RuntimeError(f"rate limit counter {key!r} did not settle")  # unreachable while windows only grow
