"""Seeded schedules of one chat session's frame traffic, run in simulated time, and their oracle.

A schedule (``make_plan``) is what the clients and the backend do to one session: messages
sent (the gateway's ack, possibly while another message streams), their answers (status,
heartbeats, chunks, one response or error; crashed and retried, or delivered twice), clients
that attach (``?session_id=``), resume with some ``after``, stop a message, and leave (their
connection answers 410 from then on; ``$disconnect`` detaches it, or a writer's 410 does).

``Sim`` runs it: every actor (a gateway invocation, a processor delivery, a client's step) is a
thread, but only one runs at a time, and it gives the turn back at each DynamoDB call (a
botocore hook calls ``Runner.before_call``), each post to a connection and each sleep. The next actor
is the one whose simulated clock comes first; every DynamoDB call and post takes a few
simulated milliseconds, a slowed store up to ``SLOW_STORE_MAX`` simulated seconds. The modules
under test get ``SimClock`` as their ``time``, so their waits (``STORE_WAIT_SECONDS``, ack lease,
catch-up reads) are simulated too: no real second is spent, and a seed fixes the whole run
(plan, latencies and interleaving), so a failing seed replays exactly.

``check`` is the oracle, on what the frames table holds and what each connection got:

1. the stored cursors are 1..N with no hole (a ``skipped`` frame occupies its cursor);
2. a connection attached at cursor L that resumed with ``after`` got every frame with cursor
   in (after, N] (without a resume: (L, N]) exactly once, each as stored at that cursor (the
   frame, or the ``skipped`` frame a resume stored there, whose frame then came at a later
   cursor); a connection that left got no duplicate and nothing outside that range;
3. every acked message has one ack and exactly one terminal frame (``response`` or ``error``),
   its last; no frame of it is stored twice, and every heartbeat an answer sent is stored (once:
   a heartbeat whose cursor a resume skipped came at another cursor).
"""

import collections
import json
import random
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from chalicelib.errors import ConnectionGoneError
from chalicelib.management import ManagementApi

REAL_TIME, REAL_MONOTONIC, REAL_SLEEP = time.time, time.monotonic, time.sleep
SLOW_STORE_MAX = 3.0  # simulated seconds a slowed frame store may take
MAX_RECEIVE_COUNT = 3  # SQS deliveries of one message (the tests set MAX_RECEIVE_COUNT to this)
TERMINAL = ("response", "error")
FIRST_STATUS = ("status", 0)  # every delivery that runs the answer for an attended client sends it


class CrashError(RuntimeError):
    """A scripted crash of a processor delivery between two frames."""


class SimAborted(BaseException):
    """Raised in actors still parked when a schedule is abandoned (deadlock, hang)."""


class ScheduleError(AssertionError):
    pass


# --- the scheduler ------------------------------------------------------------------------


class Actor:
    def __init__(self, name: str, fn: Callable[[], Any]):
        self.name, self.fn = name, fn
        self.go = threading.Event()
        self.wake: Optional[float] = 0.0
        self.until: Optional[Callable[[], bool]] = None
        self.tie = 0.0
        self.what = "start"
        self.done = False
        self.error: Optional[BaseException] = None
        self.traceback = ""
        self.params: Any = None  # the DynamoDB call it is making (for the after-call hook)


class Sim:
    """One runs at a time; the next is the earliest by simulated time (ties: random, seeded)."""

    def __init__(self, rng: random.Random, hang_seconds: float = 60.0):
        self.rng = rng
        self.now = 0.0
        self.epoch = float(int(REAL_TIME()))
        self.actors: List[Actor] = []
        self.steps = 0
        self.trace: collections.deque = collections.deque(maxlen=600)
        self.aborted = False
        self._local = threading.local()
        self._parked = threading.Event()
        self._hang_seconds = hang_seconds

    # the clock the modules under test see
    def time(self) -> float:
        return self.epoch + self.now

    def monotonic(self) -> float:
        return 1000.0 + self.now

    def current(self) -> Optional[Actor]:
        return getattr(self._local, "actor", None)

    def spawn(self, name: str, fn: Callable[[], Any], delay: float = 0.0) -> Actor:
        actor = Actor(name, fn)
        actor.wake, actor.tie = self.now + max(0.0, delay), self.rng.random()
        self.actors.append(actor)
        threading.Thread(target=self._body, args=(actor,), name=f"sim-{name}", daemon=True).start()
        return actor

    def _body(self, actor: Actor) -> None:
        self._local.actor = actor
        actor.go.wait()
        actor.go.clear()
        try:
            if self.aborted:
                raise SimAborted()
            actor.fn()
        except BaseException as exc:  # noqa: BLE001 (reported by the oracle)
            actor.error, actor.traceback = exc, traceback.format_exc()
        finally:
            actor.done = True
            self._parked.set()

    def park(self, wake: Optional[float] = None, until: Optional[Callable[[], bool]] = None, what: str = "") -> None:
        """Give the turn back until ``wake`` (simulated) or ``until()`` holds."""
        actor = self.current()
        if actor is None:
            return
        if self.aborted:
            raise SimAborted()
        actor.wake, actor.until, actor.what, actor.tie = wake, until, what, self.rng.random()
        self._parked.set()
        actor.go.wait()
        actor.go.clear()
        if self.aborted:
            raise SimAborted()

    def sleep(self, seconds: float, what: str = "sleep") -> None:
        self.park(wake=self.now + max(0.0, seconds), what=what)

    def wait_until(self, predicate: Callable[[], bool], timeout: Optional[float] = None, what: str = "wait") -> bool:
        if not predicate():
            self.park(wake=None if timeout is None else self.now + timeout, until=predicate, what=what)
        return predicate()

    def run(self) -> None:
        while True:
            live = [actor for actor in self.actors if not actor.done]
            if not live:
                return
            best: Optional[Tuple[Tuple[float, float], Actor]] = None
            for actor in live:
                if actor.until is not None and actor.until():
                    at = self.now
                elif actor.wake is not None:
                    at = max(actor.wake, self.now)
                else:
                    continue
                if best is None or (at, actor.tie) < best[0]:
                    best = ((at, actor.tie), actor)
            if best is None:
                self.abort()
                raise ScheduleError("deadlock: " + ", ".join(f"{a.name} waits ({a.what})" for a in live))
            (self.now, _), actor = best
            actor.wake, actor.until = None, None
            self.steps += 1
            self.trace.append(f"{self.now:8.4f} {actor.name}: {actor.what}")
            self._parked.clear()
            actor.go.set()
            if not self._parked.wait(self._hang_seconds):
                self.abort()
                raise ScheduleError(f"hang: {actor.name} never gave the turn back after {actor.what}")

    def abort(self) -> None:
        self.aborted = True
        for actor in self.actors:
            actor.go.set()


class SimClock:
    """Stands in for the ``time`` module of a module under test (monkeypatch its ``time``)."""

    def __init__(self) -> None:
        self.sim: Optional[Sim] = None

    def time(self) -> float:
        return self.sim.time() if self.sim else REAL_TIME()

    def monotonic(self) -> float:
        return self.sim.monotonic() if self.sim else REAL_MONOTONIC()

    def sleep(self, seconds: float) -> None:
        if self.sim is not None and self.sim.current() is not None:
            self.sim.sleep(seconds, what=f"sleep {seconds:.3f}")
        else:
            REAL_SLEEP(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


# --- the Management API -------------------------------------------------------------------


class FakeApi(ManagementApi):
    """The @connections API: records each connection's frames; a connection that left answers
    410 (``post`` raises ConnectionGoneError, the inherited ``try_post`` is False)."""

    endpoint = "https://fake.execute-api.us-east-1.amazonaws.com/dev"

    def __init__(self, sim: Sim):  # no boto3 client: ``post`` is the simulation's
        self.sim = sim
        self.received: Dict[str, List[str]] = collections.defaultdict(list)
        self.gone: set = set()

    def post(self, connection_id: str, text: str) -> None:
        self.sim.park(
            wake=self.sim.now + self.sim.rng.uniform(0.0005, 0.005), what=f"post {connection_id} {label(text)}"
        )
        if connection_id in self.gone:
            raise ConnectionGoneError(connection_id)
        self.received[connection_id].append(text)

    def is_connected(self, connection_id: str) -> bool:
        self.sim.park(wake=self.sim.now + self.sim.rng.uniform(0.0005, 0.005), what=f"get_connection {connection_id}")
        return connection_id not in self.gone

    def leave(self, connection_id: str) -> None:
        self.gone.add(connection_id)


def label(text: str) -> str:
    try:
        frame = json.loads(text)
    except ValueError:
        return "?"
    return f"{frame.get('type')}@{frame.get('cursor', '-')}"


# --- the plan -----------------------------------------------------------------------------


@dataclass
class ConnPlan:
    name: str
    client: int
    start: float
    join: str  # create | send | attach | resume | attach_resume
    after_mode: str = "random"  # resume: random (0..the last cursor stored) | last (the client's last connection's)
    resume_delay: float = 0.0  # attach_resume: between the attach at connect and the resume
    leave_at: Optional[float] = None
    detach: bool = True  # on leaving: $disconnect detaches it (else only a writer's 410 does)
    prev: Optional[str] = None  # the same client's connection before this one


@dataclass
class MsgPlan:
    index: int
    conn: str
    at: float
    steps: List[str]  # hb | chunk: what the assistant does between the first status and the response
    pace: float  # the most simulated seconds between two frames of the answer
    queue_delay: float
    enqueue_fails: bool = False
    crash_steps: List[Optional[int]] = field(default_factory=list)  # per delivery: crash after that many steps
    visibility: float = 1.0  # SQS visibility timeout (simulated seconds)
    duplicate: Optional[float] = None  # a second copy, delivered this long after the first (< 0: before it)


@dataclass
class StopPlan:
    at: float
    conn: str
    message: int


@dataclass
class Plan:
    seed: int
    store_wait: float
    p_slow: float
    fifo: bool
    conns: List[ConnPlan]
    msgs: List[MsgPlan]
    stops: List[StopPlan]

    def describe(self) -> str:
        lines = [
            f"seed={self.seed} store_wait={self.store_wait} p_slow={self.p_slow} fifo={self.fifo}",
        ]
        for c in self.conns:
            lines.append(
                f"  conn {c.name} client={c.client} start={c.start:.3f} join={c.join} after={c.after_mode}"
                f" leave_at={None if c.leave_at is None else round(c.leave_at, 3)} detach={c.detach} prev={c.prev}"
            )
        for m in self.msgs:
            lines.append(
                f"  msg {m.index} from {m.conn} at={m.at:.3f} steps={m.steps}"
                f" enqueue_fails={m.enqueue_fails} crash={m.crash_steps} duplicate={m.duplicate}"
                f" visibility={m.visibility:.2f} pace={m.pace}"
            )
        for s in self.stops:
            lines.append(f"  stop msg {s.message} from {s.conn} at={s.at:.3f}")
        return "\n".join(lines)


def make_plan(rng: random.Random, seed: int, stops: bool = True) -> Plan:
    store_wait = rng.choice([0.05, 0.15, 0.15, 0.4, 0.4, 1.0, 2.0])
    p_slow = rng.choice([0.0, 0.15, 0.3, 0.5])
    fifo = rng.random() < 0.7
    conns: List[ConnPlan] = []
    n_clients = rng.choice([1, 2, 2, 3])
    for client in range(n_clients):
        start = 0.0 if client == 0 else rng.uniform(0.0, 2.0)
        join = "create" if client == 0 else rng.choice(["attach", "resume", "resume", "attach_resume"])
        prev: Optional[str] = None
        for hop in range(3):
            name = f"c{client}{'abc'[hop]}"
            plan = ConnPlan(name, client, start, join, prev=prev)
            plan.after_mode = rng.choice(["random", "last"]) if prev else "random"
            plan.resume_delay = rng.uniform(0.0, 0.5)
            if rng.random() < 0.55:
                plan.leave_at = start + rng.uniform(0.05, 3.0)
                plan.detach = rng.random() < 0.75
            conns.append(plan)
            if plan.leave_at is None or rng.random() < 0.2:
                break
            prev, start = name, plan.leave_at + rng.uniform(0.0, 0.6)
            join = rng.choice(["resume", "resume", "attach_resume", "attach"])
    msgs: List[MsgPlan] = []
    for index in range(rng.choice([1, 2, 2, 3])):
        if index == 0:
            conn, at = "c0a", 0.0
        elif rng.random() < 0.3:  # a fresh connection whose first frame is a sendMessage
            conn, at = f"s{index}", rng.uniform(0.0, 3.0)
            conns.append(ConnPlan(conn, 10 + index, at, "send"))
            if rng.random() < 0.3:
                conns[-1].leave_at, conns[-1].detach = at + rng.uniform(0.0, 2.0), rng.random() < 0.75
        else:
            live = [c for c in conns if c.join != "send"]
            chosen = rng.choice(live)
            end = chosen.leave_at if chosen.leave_at is not None else chosen.start + 3.0
            conn, at = chosen.name, rng.uniform(chosen.start + 0.001, max(end, chosen.start + 0.002))
        steps = [rng.choice(["hb", "chunk", "chunk"]) for _ in range(rng.randint(0, 2))]
        msg = MsgPlan(
            index=index,
            conn=conn,
            at=at,
            steps=steps,
            pace=rng.choice([0.05, 0.3, 1.0]),
            queue_delay=rng.uniform(0.0, 0.3),
            enqueue_fails=rng.random() < 0.06,
        )
        if rng.random() < 0.25:
            msg.duplicate = rng.uniform(-0.3, 3.0)
            msg.visibility = rng.uniform(0.2, 1.5)
        else:
            p_crash = rng.choice([0.0, 0.0, 0.0, 0.0, 0.6])
            msg.crash_steps = [
                rng.randint(0, len(steps)) if rng.random() < p_crash else None for _ in range(MAX_RECEIVE_COUNT)
            ]
            msg.visibility = rng.uniform(0.3, 2.0)
        msgs.append(msg)
    stop_plans: List[StopPlan] = []
    if stops and rng.random() < 0.35:
        stop_plans.append(StopPlan(rng.uniform(0.0, 4.0), rng.choice(conns).name, rng.randrange(len(msgs))))
    return Plan(seed, store_wait, p_slow, fifo, conns, msgs, stop_plans)


# --- what happened ------------------------------------------------------------------------


@dataclass
class ConnState:
    plan: ConnPlan
    joined: bool = False  # its first step (attach, resume, send) is done
    resumed_after: Optional[int] = None
    attached_at: Optional[int] = None  # L: the head's cursor when it attached (the design tells, if it can)
    left: bool = False

    @property
    def name(self) -> str:
        return self.plan.name


@dataclass
class MsgState:
    plan: MsgPlan
    id: str
    gateway_done: bool = False
    gateway_error: Optional[BaseException] = None
    acked: bool = False
    enqueued: bool = False
    envelope: Any = None
    chain_done: bool = False
    runs: int = 0  # how many deliveries got to run the answer
    completed: List[Tuple] = field(default_factory=list)  # the heartbeats the answers sent, as frame keys


class World:
    def __init__(self, plan: Plan, session_id: str):
        self.plan, self.session_id = plan, session_id
        self.conns = {c.name: ConnState(c) for c in plan.conns}
        self.msgs = [MsgState(m, f"m{m.index}-{session_id[-10:]}") for m in plan.msgs]
        self.by_id = {m.id: m for m in self.msgs}
        self.session_created = False
        self.max_stored = 0
        self.enqueued: List[int] = []
        self.problems: List[str] = []
        self.counts: Dict[str, int] = collections.Counter()


class Design:
    """What the schedule runs against; the test module gives one."""

    frames_table = ""
    sessions_table = ""
    expected_failures: Tuple[type, ...] = (CrashError,)

    def begin(self, runner: "Runner") -> None: ...
    def send(self, conn: ConnState, msg: MsgState) -> None: ...
    def attach(self, conn: ConnState) -> None: ...
    def resume(self, conn: ConnState, after: int) -> None: ...
    def stop(self, conn: ConnState, msg: MsgState) -> None: ...
    def detach(self, conn: ConnState) -> None: ...
    def deliver(self, msg: MsgState, attempt: int) -> None: ...
    def observe(self, operation: str, params: Dict[str, Any], parsed: Dict[str, Any]) -> None: ...
    def stored(self) -> Dict[int, str]: ...
    def head_cursor(self) -> Optional[int]: ...


# --- running a schedule -------------------------------------------------------------------


class Runner:
    """Runs one plan against a design and checks it."""

    def __init__(self, design: Design, plan: Plan, rng: random.Random, session_id: str):
        self.design, self.plan, self.rng = design, plan, rng
        self.sim = Sim(rng)
        self.api = FakeApi(self.sim)
        self.world = World(plan, session_id)
        self.stored: Dict[int, str] = {}

    # the botocore hooks (registered once on the shared client; they act only inside actors)
    def before_call(self, operation: str, params: Dict[str, Any]) -> None:
        actor = self.sim.current()
        if actor is None:
            return
        actor.params = params
        table = params.get("TableName", "")
        self.world.counts["requests"] += 1
        what = f"{operation} {table.rsplit('-', 1)[-1]}"
        if table == self.design.frames_table and operation == "PutItem":
            cursor = params["Item"]["cursor"]["N"]
            what += f" @{cursor} {label(params['Item']['frame']['S'])}"
            if self.rng.random() < self.plan.p_slow:
                delay = self.rng.uniform(0.0, SLOW_STORE_MAX)
                self.world.counts["slow_stores"] += 1
                self.sim.park(wake=self.sim.now + delay, what=what + f" (slow {delay:.2f}s)")
                return
        slow = self.rng.random() < 0.03  # now and then any call is slowish
        delay = self.rng.uniform(0.05, 0.5) if slow else self.rng.uniform(0.001, 0.02)
        self.sim.park(wake=self.sim.now + delay, what=what)

    def after_call(self, operation: str, parsed: Dict[str, Any]) -> None:
        actor = self.sim.current()
        if actor is None or actor.params is None:
            return
        params, actor.params = actor.params, None
        if "Error" in parsed:
            return
        table = params.get("TableName")
        if operation == "PutItem" and table == self.design.frames_table:
            self.world.max_stored = max(self.world.max_stored, int(params["Item"]["cursor"]["N"]))
        if operation == "PutItem" and table == self.design.sessions_table and "conns" in params.get("Item", {}):
            self.world.session_created = True
        self.design.observe(operation, params, parsed)

    # actors
    def _send(self, msg: MsgState) -> None:
        if msg.plan.index > 0:
            first = self.world.msgs[0]
            self.sim.wait_until(lambda: self.world.session_created or first.gateway_done, what="session")
        conn = self.world.conns[msg.plan.conn]
        try:
            self.design.send(conn, msg)
            msg.acked = True
        except BaseException as exc:
            msg.gateway_error = exc
            raise
        finally:
            msg.gateway_done = True
            conn.joined = conn.joined or conn.plan.join == "send"

    def _connect(self, conn: ConnState) -> None:
        join = conn.plan.join
        if join == "create":
            conn.joined = True
        if join in ("create", "send"):
            return
        first = self.world.msgs[0]
        self.sim.wait_until(lambda: self.world.session_created or first.gateway_done, what="session")
        seen = self.world.max_stored  # before the attach: at most its cursor L
        if join in ("attach", "attach_resume"):
            self.design.attach(conn)
            self.world.counts["attaches"] += 1
        if join == "attach_resume":
            self.sim.sleep(conn.plan.resume_delay)
            after = self.rng.randint(0, seen)
        elif join == "resume":
            after = self._after(conn)
        else:
            conn.joined = True
            return
        conn.resumed_after = after
        self.world.counts["resumes"] += 1
        try:
            self.design.resume(conn, after)
        finally:
            conn.joined = True

    def _after(self, conn: ConnState) -> int:
        prev = self.world.conns.get(conn.plan.prev or "")
        if conn.plan.after_mode == "last" and prev is not None:
            return last_contiguous(prev, self.api.received.get(prev.name, []), self.world.max_stored)
        return self.rng.randint(0, self.world.max_stored)

    def _leave(self, conn: ConnState) -> None:
        self.api.leave(conn.name)
        conn.left = True
        self.world.counts["leaves"] += 1
        if conn.plan.detach:
            self.design.detach(conn)

    def _stop(self, stop: StopPlan) -> None:
        msg, conn = self.world.msgs[stop.message], self.world.conns[stop.conn]
        # the client knows the message from its ack, and stops on a connection it has set up
        self.sim.wait_until(lambda: msg.gateway_done and conn.joined, what="ack to stop")
        if msg.acked:
            self.world.counts["stops"] += 1
            self.design.stop(conn, msg)

    def _chain(self, msg: MsgState) -> None:
        """The FIFO queue's deliveries of one message."""
        self.sim.wait_until(lambda: msg.enqueued or msg.gateway_done, what="enqueue")
        if not msg.enqueued:
            msg.chain_done = True
            return
        if self.plan.fifo:
            mine = self.world.enqueued.index(msg.plan.index)
            earlier = [self.world.msgs[i] for i in self.world.enqueued[:mine]]
            self.sim.wait_until(lambda: all(m.chain_done for m in earlier), what="fifo turn")
        self.sim.sleep(msg.plan.queue_delay, what="queue")
        if msg.plan.duplicate is None:
            for attempt in range(1, MAX_RECEIVE_COUNT + 1):
                started = self.sim.now
                if self._deliver(msg, attempt):
                    break
                if attempt < MAX_RECEIVE_COUNT:
                    self.sim.park(wake=started + msg.plan.visibility, what="visibility")
            msg.chain_done = True
            return
        self.world.counts["duplicates"] += 1
        offset = msg.plan.duplicate
        self.sim.spawn(f"dup{msg.plan.index}", lambda: self._copy(msg, done_marks=False), delay=max(0.0, offset))
        self.sim.sleep(max(0.0, -offset), what="copy")
        self._copy(msg, done_marks=True)

    def _copy(self, msg: MsgState, done_marks: bool) -> None:
        for attempt in (1, 2):  # never the last receive: a copy does not crash
            started = self.sim.now
            if self._deliver(msg, attempt):
                break
            self.sim.park(wake=started + msg.plan.visibility, what="visibility")
        if done_marks:
            msg.chain_done = True

    def _deliver(self, msg: MsgState, attempt: int) -> bool:
        self.world.counts["deliveries"] += 1
        try:
            self.design.deliver(msg, attempt)
            return True
        except self.design.expected_failures as exc:
            self.world.counts[type(exc).__name__] += 1
            return False
        except SimAborted:
            raise
        except Exception as exc:  # noqa: BLE001
            self.world.problems.append(f"delivery {attempt} of msg {msg.plan.index} raised {exc!r}")
            self.world.counts["unexpected"] += 1
            return False

    def run(self) -> List[str]:
        self.design.begin(self)
        sim, world = self.sim, self.world
        for msg in world.msgs:
            sim.spawn(f"send{msg.plan.index}", lambda m=msg: self._send(m), delay=msg.plan.at)
            sim.spawn(f"proc{msg.plan.index}", lambda m=msg: self._chain(m))
        for conn in world.conns.values():
            sim.spawn(f"join-{conn.name}", lambda c=conn: self._connect(c), delay=conn.plan.start)
            if conn.plan.leave_at is not None:
                sim.spawn(f"leave-{conn.name}", lambda c=conn: self._leave(c), delay=conn.plan.leave_at)
        for index, stop in enumerate(self.plan.stops):
            sim.spawn(f"stop{index}", lambda s=stop: self._stop(s), delay=stop.at)
        try:
            sim.run()
        except ScheduleError as exc:
            return [str(exc)]
        for actor in sim.actors:
            if actor.error is not None and not isinstance(actor.error, SimAborted):
                world.problems.append(f"actor {actor.name} raised {actor.error!r}\n{actor.traceback}")
        self.stored = self.design.stored()
        return world.problems + check(world, self.stored, self.design.head_cursor(), self.api.received)


def last_contiguous(conn: ConnState, texts: List[str], ceiling: int) -> int:
    """The last cursor a client saw on ``conn`` with nothing missing before it (what it resumes after)."""
    seen = {cursor for cursor, _ in log_frames(texts)}
    start = conn.resumed_after if conn.resumed_after is not None else conn.attached_at
    if start is None:
        start = min(seen, default=1) - 1
    while start + 1 in seen:
        start += 1
    return min(start, ceiling)


# --- the oracle ---------------------------------------------------------------------------


def log_frames(texts: List[str]) -> List[Tuple[int, str]]:
    """(cursor, text) of the session's frames among what a connection got (not ``resumed``, not refusals)."""
    out = []
    for text in texts:
        frame = json.loads(text)
        if "cursor" in frame and frame.get("type") != "resumed":
            out.append((int(frame["cursor"]), text))
    return out


def frame_key(frame: Dict[str, Any]) -> Tuple:
    kind = frame["type"]
    if kind == "status" and frame.get("status") == "retrying":
        return ("retrying", frame["attempt"])
    if kind == "status":
        return ("status", frame["elapsed_ms"])
    if kind == "chunk":
        return ("chunk", frame["delta"])
    if kind == "response":
        return ("response", bool(frame.get("stopped")))
    if kind == "error":
        return ("error", frame.get("code"))
    return (kind,)


def check(
    world: World, stored: Dict[int, str], head_cursor: Optional[int], received: Dict[str, List[str]]
) -> List[str]:
    problems: List[str] = []
    top = max(stored, default=0)
    # (1) contiguous cursors
    holes = sorted(set(range(1, top + 1)) - set(stored))
    if holes:
        problems.append(f"(1) stored cursors 1..{top} have holes at {holes}")
    if head_cursor is not None and head_cursor != top:
        problems.append(f"(1) the head's cursor is {head_cursor} but the last stored frame is at {top}")
    for cursor, text in stored.items():
        if json.loads(text).get("cursor") != cursor:
            problems.append(f"(1) the frame stored at {cursor} says cursor {json.loads(text).get('cursor')}")
    # (2) every connection: every frame since it attached (or resumed after), exactly once
    for conn in world.conns.values():
        texts = received.get(conn.name, [])
        got = log_frames(texts)
        start = conn.resumed_after if conn.resumed_after is not None else conn.attached_at
        if start is None:  # the design cannot tell where it attached: from the first frame it got
            start = min((cursor for cursor, _ in got), default=top + 1) - 1
        counts = collections.Counter(cursor for cursor, _ in got)
        where = (
            f"conn {conn.name} (join={conn.plan.join} L={conn.attached_at} after={conn.resumed_after}"
            f" left={conn.left}) got {[c for c, _ in got]}"
        )
        dups = sorted(cursor for cursor, n in counts.items() if n > 1)
        if dups:
            problems.append(f"(2) duplicates {dups}: {where}")
        early = sorted(cursor for cursor in counts if cursor <= start)
        if early:
            problems.append(f"(2) frames at or before {start}: {early}: {where}")
        wrong = sorted({cursor for cursor, text in got if stored.get(cursor) != text})
        if wrong:
            problems.append(f"(2) frames unlike the stored ones at {wrong}: {where}")
        if not conn.left:
            missed = [cursor for cursor in range(start + 1, top + 1) if cursor not in counts]
            if missed:
                problems.append(f"(2) missed {missed} of ({start}, {top}]: {where}")
        for text in texts:
            frame = json.loads(text)
            if "cursor" not in frame and not (frame.get("type") == "error" and frame.get("code") == "not_running"):
                problems.append(f"(2) conn {conn.name} got an unexpected frame {text}")
    # (3) every acked message: one ack, exactly one terminal frame, its last; no frame twice
    frames_of: Dict[str, List[Tuple[int, Dict[str, Any]]]] = collections.defaultdict(list)
    for cursor in sorted(stored):
        frame = json.loads(stored[cursor])
        if frame.get("type") != "skipped":
            frames_of[frame.get("message_id")].append((cursor, frame))
    for msg in world.msgs:
        if msg.gateway_error is not None:
            problems.append(f"(3) msg {msg.plan.index}: the gateway raised {msg.gateway_error!r}")
            continue
        mine = frames_of.get(msg.id, [])
        kinds = [frame["type"] for _, frame in mine]
        acks = kinds.count("ack")
        terminals = [cursor for cursor, frame in mine if frame["type"] in TERMINAL]
        where = f"msg {msg.plan.index} ({msg.id}) frames {[(c, frame_key(f)) for c, f in mine]}"
        if acks != 1:
            problems.append(f"(3) {acks} acks: {where}")
        if len(terminals) != 1:
            problems.append(f"(3) {len(terminals)} terminal frames: {where}")
        elif terminals[0] != mine[-1][0]:
            problems.append(f"(3) frames after the terminal one: {where}")
        keys = collections.Counter(frame_key(frame) for _, frame in mine)
        twice = [key for key, n in keys.items() if n > 1 and key[0] not in TERMINAL and key != FIRST_STATUS]
        if twice:
            problems.append(f"(3) stored twice: {twice}: {where}")
        lost = [key for key in msg.completed if key not in keys]
        if lost:
            problems.append(f"(3) sent but not stored: {lost}: {where}")
    unknown = sorted(set(frames_of) - {m.id for m in world.msgs})
    if unknown:
        problems.append(f"(3) frames of unknown messages {unknown}")
    return problems


def stats(world: World, stored: Dict[int, str]) -> Dict[str, int]:
    counts = collections.Counter(world.counts)
    counts["frames"] += len(stored)
    counts["skipped"] += sum(json.loads(text).get("type") == "skipped" for text in stored.values())
    return counts
