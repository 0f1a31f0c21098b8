"""Seeded random schedules of one session's frames against a real moto server: exactly once.

Each schedule (``tests/reliability/schedules.py``) mixes, as concurrent actors on one session:
the gateway acking messages (``_accept_chat_message``, under the ack lease, while another
message streams; a failed enqueue told as an error), chat_processor answering them
(``processor._handle_record`` as it is: start, the Powertools idempotency claim in DynamoDB,
``_answer``'s ``Outbox`` sending status, then the scripted turn's heartbeats and chunks in place
of ``stoppable.run``, then the response; crashed deliveries retried by the queue, the last one
told as ``processing_failed``; copies of a message delivered twice), clients attaching at connect
(``gateway._attach_at_connect``), resuming with some ``after`` (``gateway._resume``), stopping a
message (``gateway._stop``) and leaving (410 from then on; ``FrameLog.detach`` as $disconnect).
A frame's store may be slowed by up to 3 simulated seconds between the writer taking its
cursor and storing it, while everything else goes on, and ``framelog.STORE_WAIT_SECONDS`` is
set per schedule (0.05 to 2 simulated seconds), so resumes wait for it or skip it.

No real second is waited: the actors run one at a time in simulated time (``schedules.Sim``),
and a seed fixes the plan and the interleaving. The oracle (``schedules.check``) is checked on
every schedule: cursors 1..N with no hole; every connection got every frame since it attached
(or since its resume's ``after``) exactly once, as stored; every acked message has exactly
one terminal frame. A failing schedule prints its seed; replay one with
``FRAME_SCHEDULE_SEED=<seed>`` (comma-separated for several), or run another number of them with
``FRAME_SCHEDULES=<n>``.
"""

import collections
import logging
import os
import random
import time
import types
import uuid
from typing import Any, Dict, Optional

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from chalicelib import (
    aws,
    chat_queue,
    framelog,
    framestore,
    gateway,
    management,
    outbox,
    processor,
    protocol,
    retry,
    stoppable,
)
from chalicelib.assistant.base import Delta, Reply
from chalicelib.config import settings
from chalicelib.errors import ReplyStoppedError
from chalicelib.framelog import NO_OWNER, FrameLog
from infra import bootstrap
from tests.app_fixtures import unset_app_env
from tests.conftest import REGION, clear_caches
from tests.reliability import schedules
from tests.support import threaded_moto_server

pytestmark = [
    pytest.mark.timeout(600),
    # the scripted answers run without a Lambda context (no in-progress expiry: a crash deletes the claim)
    pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left"),
]

TABLES = {
    "sessions_table": "schedules-sessions",
    "frames_table": "schedules-frames",
    "idempotency_table": "schedules-idempotency",
}
SEED_ENV, COUNT_ENV = "FRAME_SCHEDULE_SEED", "FRAME_SCHEDULES"
DEFAULT_SCHEDULES = 300


def chosen_seeds():
    if os.environ.get(SEED_ENV):
        return [int(seed) for seed in os.environ[SEED_ENV].split(",") if seed.strip()]
    return list(range(1, int(os.environ.get(COUNT_ENV, DEFAULT_SCHEDULES)) + 1))


@pytest.fixture(scope="module")
def moto_url():
    """One moto server and the sessions, frames and idempotency tables for the module."""
    quiet = logging.getLogger("werkzeug")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # one request line per call otherwise
    try:
        with threaded_moto_server() as url:
            client = boto3.client(
                "dynamodb",
                endpoint_url=url,
                region_name=REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            for spec in bootstrap.table_specs(types.SimpleNamespace(connections_table="-", **TABLES)):
                if spec["name"] in TABLES.values():
                    schema, attributes = bootstrap.key_schema(spec)
                    client.create_table(
                        TableName=spec["name"],
                        KeySchema=schema,
                        AttributeDefinitions=attributes,
                        BillingMode="PAY_PER_REQUEST",
                    )
            yield url
    finally:
        quiet.setLevel(level)


@pytest.fixture
def app_env(monkeypatch, moto_url):
    unset_app_env(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", moto_url)
    monkeypatch.setenv("MAX_RECEIVE_COUNT", str(schedules.MAX_RECEIVE_COUNT))
    monkeypatch.setenv("CHUNK_FLUSH_MS", "0")  # every delta its own chunk (the coalescer reads the real clock)
    for key, name in TABLES.items():
        monkeypatch.setenv(key.upper(), name)
    forget_app_caches()
    yield moto_url
    forget_app_caches()


def forget_app_caches() -> None:
    """conftest's clear_caches, and processor's SessionStore (a stop records the partial reply
    through it): cached with this module's table name, it would follow later tests."""
    clear_caches()
    processor._session_store.cache_clear()


class FrameLogDesign(schedules.Design):
    """The schedule's steps on the frame log design (framelog, outbox, gateway, processor)."""

    frames_table = TABLES["frames_table"]
    sessions_table = TABLES["sessions_table"]
    expected_failures = (schedules.CrashError, IdempotencyAlreadyInProgressError)

    def __init__(self, monkeypatch):
        self.clock = schedules.SimClock()
        self.runner: Optional[schedules.Runner] = None
        for module in (framelog, framestore, outbox):
            monkeypatch.setattr(module, "time", self.clock)
        monkeypatch.setattr(management, "for_endpoint", lambda domain, stage: self.runner.api)
        monkeypatch.setattr(chat_queue, "enqueue", self._enqueue)
        self.client = aws.client("dynamodb")
        self.client.meta.events.register("before-parameter-build.dynamodb", self._before)
        self.client.meta.events.register("after-call.dynamodb", self._after)
        monkeypatch.setattr(stoppable, "run", self._turn)
        self.monkeypatch = monkeypatch
        self.frames = FrameLog.from_settings(settings())

    # --- wiring -----------------------------------------------------------------------------

    def begin(self, runner: schedules.Runner) -> None:
        self.runner = runner
        self.clock.sim = runner.sim
        self.monkeypatch.setattr(framelog, "STORE_WAIT_SECONDS", runner.plan.store_wait)

    def _before(self, params, model, **_):
        if self.runner is not None:
            self.runner.before_call(model.name, params)

    def _after(self, parsed, model, **_):
        if self.runner is not None:
            self.runner.after_call(model.name, parsed)

    def observe(self, operation: str, params: Dict[str, Any], parsed: Dict[str, Any]) -> None:
        """Note each connection's L (the cursor its attach recorded) from the head's writes."""
        if params.get("TableName") != self.sessions_table:
            return
        if operation == "UpdateItem":
            attached = parsed.get("Attributes", {}).get("conns", {}).get("M", {})
        elif operation == "PutItem":
            attached = params["Item"].get("conns", {}).get("M", {})
        else:
            return
        for name, value in attached.items():
            conn = self.runner.world.conns.get(name)
            if conn is not None and conn.attached_at is None:
                conn.attached_at = int(value["N"])

    @property
    def session_id(self) -> str:
        return self.runner.world.session_id

    def _request(self, conn: schedules.ConnState, query=None) -> gateway.RequestContext:
        return gateway.RequestContext(connection_id=conn.name, domain="fake", stage="dev", query=query)

    # --- the steps --------------------------------------------------------------------------

    def send(self, conn: schedules.ConnState, msg: schedules.MsgState) -> None:
        index = msg.plan.index
        action = protocol.SendMessage(f"question {index}", None if index == 0 else self.session_id, f"cm{index}")
        gateway._accept_chat_message(self.runner.api, self._request(conn), action, msg.id, NO_OWNER, self.session_id)

    def _enqueue(self, envelope) -> None:
        sim, world = self.runner.sim, self.runner.world
        msg = world.by_id[envelope.message_id]
        sim.sleep(sim.rng.uniform(0.002, 0.02), what=f"SQS SendMessage msg {msg.plan.index}")
        if msg.plan.enqueue_fails:
            world.counts["enqueue_failed"] += 1
            raise RuntimeError("scripted: the queue is unavailable")
        msg.envelope, msg.enqueued = envelope, True
        world.enqueued.append(msg.plan.index)

    def attach(self, conn: schedules.ConnState) -> None:
        attached = gateway._attach_at_connect(self._request(conn, {"session_id": self.session_id}), None)
        assert attached == self.session_id, f"{conn.name} could not attach at connect"

    def resume(self, conn: schedules.ConnState, after: int) -> None:
        gateway._resume(self.runner.api, self._request(conn), protocol.Resume(self.session_id, after), NO_OWNER)

    def stop(self, conn: schedules.ConnState, msg: schedules.MsgState) -> None:
        gateway._stop(self.runner.api, self._request(conn), protocol.Stop(self.session_id, msg.id), NO_OWNER)

    def detach(self, conn: schedules.ConnState) -> None:
        self.frames.detach(self.session_id, [conn.name])  # what $disconnect does with the session

    def deliver(self, msg: schedules.MsgState, attempt: int) -> None:
        # No queue behind the simulated deliveries: a lease with no receipt changes nothing.
        processor._handle_record(msg.envelope, attempt, protocol.now_ms(), retry.Lease(None, None, None))

    def _turn(self, box: outbox.Outbox, events, heartbeat_seconds, on_event, *args, **kwargs) -> Reply:
        """stoppable.run, scripted: the watcher's heartbeats and the assistant's deltas (through
        processor's ``on_event``) one at a time, the stop seen at a boundary (the last frame's head,
        or a poll of it), a crash between two frames; then the reply processor._answer responds with."""
        sim, world = self.runner.sim, self.runner.world
        msg = world.by_id[box.message_id]
        plan, run = msg.plan, msg.runs
        msg.runs += 1
        crash = plan.crash_steps[run] if run < len(plan.crash_steps) else None
        for step, kind in enumerate(plan.steps + ["reply"]):
            if box.stop_asked or (sim.rng.random() < 0.15 and box.poll_stop(0.0)):
                world.counts["stopped_running"] += 1
                raise ReplyStoppedError()
            if crash == step:
                raise schedules.CrashError(f"msg {plan.index} run {run} after {step} steps")
            sim.sleep(sim.rng.uniform(0.0, plan.pace), what="assistant")
            if kind == "hb":
                box.status(run * 1000 + step + 1)
                msg.completed.append(("status", run * 1000 + step + 1))
            elif kind == "chunk":  # how deltas become chunks is the coalescer's: not checked one by one
                on_event(Delta(f"r{run}.{step} "))
        return Reply(content="".join(box.streamed), products=[])

    # --- what the tables hold ----------------------------------------------------------------

    def stored(self) -> Dict[int, str]:
        frames, start = {}, None
        while True:
            page = self.client.query(
                TableName=self.frames_table,
                KeyConditionExpression="session_id = :s",
                ExpressionAttributeValues={":s": {"S": self.session_id}},
                ConsistentRead=True,
                **({"ExclusiveStartKey": start} if start else {}),
            )
            frames.update({int(item["cursor"]["N"]): item["frame"]["S"] for item in page["Items"]})
            start = page.get("LastEvaluatedKey")
            if not start:
                return frames

    def forget(self, cursors) -> None:
        """Delete a checked schedule's frames: moto's Query reads every item of the table."""
        keys = [{"session_id": {"S": self.session_id}, "cursor": {"N": str(cursor)}} for cursor in cursors]
        for start in range(0, len(keys), 25):
            batch = [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]
            self.client.batch_write_item(RequestItems={self.frames_table: batch})

    def head_cursor(self) -> Optional[int]:
        head = self.frames.read(self.session_id)
        return head.cursor if head else None


def run_seed(design: schedules.Design, seed: int):
    rng = random.Random(seed)
    plan = schedules.make_plan(rng, seed)
    runner = schedules.Runner(design, plan, rng, f"sched{seed}-{uuid.uuid4().hex[:12]}")
    problems = runner.run()
    design.forget(runner.stored)
    return runner, problems


def failure_report(seed: int, runner: schedules.Runner, problems) -> str:
    trace = "\n".join(list(runner.sim.trace)[-150:])
    return (
        f"schedule seed {seed} failed (replay: {SEED_ENV}={seed}):\n"
        + "\n".join(f"  - {problem}" for problem in problems)
        + f"\nplan:\n{runner.plan.describe()}\nlast steps (simulated seconds):\n{trace}"
    )


def test_frame_schedules_deliver_every_frame_exactly_once(app_env, monkeypatch, capsys):
    design = FrameLogDesign(monkeypatch)
    seeds = chosen_seeds()
    totals: collections.Counter = collections.Counter()
    failed_seeds = []
    started, cpu = time.perf_counter(), time.process_time()
    for seed in seeds:
        runner, problems = run_seed(design, seed)
        totals.update(schedules.stats(runner.world, runner.stored))
        totals["steps"] += runner.sim.steps
        if problems:
            failed_seeds.append(seed)
            with capsys.disabled():
                print(f"\n{failure_report(seed, runner, problems)}")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    with capsys.disabled():
        print(
            f"\nframe schedules: {len(seeds)} in {elapsed:.1f}s (CPU {cpu:.1f}s; {len(failed_seeds)} failed);"
            f" {', '.join(f'{key}={value}' for key, value in sorted(totals.items()))}"
        )
    assert not failed_seeds, f"{len(failed_seeds)} of {len(seeds)} schedules failed, seeds {failed_seeds}"
