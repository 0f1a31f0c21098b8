"""The Lambda service: execution environments per function, reused warm, capped, reaped.

``invoke(config, event)`` takes a warm environment of the function's current
``version`` (the most recently used first, as Lambda tends to), or starts one (a cold
start, logged with ``Init Duration``); at most ``concurrency`` environments per
function exist at once, and an invocation beyond that waits for one to be free. An
environment serves one invocation at a time. ``max_environments`` caps them all
together, as an account's concurrency limit does (and as this machine's memory needs:
each environment is a Python process of about 50 MB): a cold start beyond it first stops
the least recently used idle environment of any function, or waits for one. Warm environments idle for
``idle_seconds`` are stopped, as Lambda reaps idle ones. Each invocation writes
START / END / REPORT to the function's log, as Lambda does.
"""

import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from localcloud.lambdaservice.config import EndpointRoutes, FunctionConfig
from localcloud.lambdaservice.environment import ExecutionEnvironment
from localcloud.lambdaservice.errors import InvocationError
from localcloud.lambdaservice.runtime import runtime_dir
from localcloud.logfiles import FunctionLogs

__all__ = ["LambdaService", "short_name", "CAP_PATIENCE_SECONDS"]

# At max_environments, how long a function with environments of its own waits for one of them
# before it stops another function's idle environment to start a new one.
CAP_PATIENCE_SECONDS = 1.0


def short_name(function_name: str) -> str:
    """``shopping-assistant-api-local-chat_processor`` -> ``chat_processor`` (console lines)."""
    return function_name.rsplit("-", 1)[-1]


@dataclass
class _Pool:
    """One function's environments: ``slots`` caps how many exist; ``idle`` are warm and free."""

    slots: threading.BoundedSemaphore
    idle: List[ExecutionEnvironment] = field(default_factory=list)
    busy: List[ExecutionEnvironment] = field(default_factory=list)
    generation: int = 0


class LambdaService:
    def __init__(
        self,
        logs: FunctionLogs,
        routes: EndpointRoutes,
        credentials_for: Callable[[FunctionConfig], Dict[str, str]],
        concurrency: int = 10,
        idle_seconds: float = 300.0,
        max_environments: Optional[int] = None,
    ):
        self.logs = logs
        self.routes = routes
        self.credentials_for = credentials_for
        self.concurrency = concurrency
        self.idle_seconds = idle_seconds
        self.runtime_dir = runtime_dir()
        self.cold_starts = 0
        self.max_environments = max_environments
        self._slots = threading.BoundedSemaphore(max_environments) if max_environments else None
        self._holding: set = set()  # environments that hold one of those slots
        self._changed = threading.Condition()  # an environment became free or was stopped
        self._pools: Dict[str, _Pool] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._reaper = threading.Thread(target=self._reap_loop, daemon=True, name="lambda-reaper")
        self._reaper.start()

    # --- invoking --------------------------------------------------------

    def invoke(self, config: FunctionConfig, event: Dict[str, Any]) -> Any:
        """Run one invocation (blocking, thread-safe); raises InvocationError and its subclasses."""
        pool = self._pool(config.name)
        pool.slots.acquire()
        try:
            return self._invoke_in(pool, config, event)
        finally:
            pool.slots.release()

    def _invoke_in(self, pool: _Pool, config: FunctionConfig, event: Dict[str, Any]) -> Any:
        log = self.logs.for_function(config.name)
        request_id = str(uuid.uuid4())
        environment = self._environment_for(pool, config, log)
        started = time.perf_counter()
        log.write("START", f"RequestId: {request_id} Version: $LATEST")
        failed = True
        reusable = False
        init_ms: Optional[float] = None
        try:
            if environment.process is None:
                environment.start()  # raises InitError: the environment is never reused
                started = time.perf_counter()
            init_ms, environment.init_ms = environment.init_ms, None
            result = environment.invoke(event, request_id)
            failed = False
            reusable = True
            return result
        except InvocationError as exc:
            reusable = environment.alive and type(exc) is InvocationError  # the handler raised: still warm
            raise
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            self._give_back(pool, environment, reusable)
            log.write("END", f"RequestId: {request_id}")
            report = (
                f"RequestId: {request_id} Duration: {duration_ms:.2f} ms Billed Duration: {math.ceil(duration_ms)} ms "
                f"Memory Size: {config.memory_mb} MB Max Memory Used: {environment.memory_kb() // 1024} MB"
            )
            fields: Dict[str, Any] = {"duration_ms": round(duration_ms, 2), "error": failed, "pid": environment.pid}
            if init_ms is not None:
                report += f" Init Duration: {init_ms:.2f} ms"
                fields["init_duration_ms"] = round(init_ms, 2)
            log.write("REPORT", report, **fields)
            self.logs.summary(short_name(config.name), duration_ms, failed)

    def prewarm(self, config: FunctionConfig) -> None:
        """Start one environment and keep it warm (as provisioned concurrency does); its
        ``Init Duration`` is reported with its first invocation. An init failure is left
        for that invocation to report."""
        pool = self._pool(config.name)
        environment = self._new_environment(config, self.logs.for_function(config.name))
        environment.generation = pool.generation
        try:
            environment.start()
        except InvocationError:
            self._stop(environment)
            return
        self.cold_starts += 1
        self._give_back(pool, environment, reusable=True)

    def _environment_for(self, pool: _Pool, config: FunctionConfig, log) -> ExecutionEnvironment:
        """A warm environment of the function, else a new one (not started yet) within
        ``max_environments``. At the cap, a function that has environments waits for one of its
        own first (up to ``CAP_PATIENCE_SECONDS``): stopping another function's idle one for a
        cold start (~300 ms of CPU) would only move the shortage around."""
        waited_since = time.monotonic()
        while True:
            environment = self._take_warm(pool, config)
            if environment is not None:
                return environment
            if self._slots is None or self._slots.acquire(blocking=False):
                environment = self._create(config, log)
                environment.generation = pool.generation
                self.cold_starts += 1
                with self._lock:
                    pool.busy.append(environment)
                return environment
            with self._lock:
                has_own = bool(pool.busy)
            if not has_own or time.monotonic() - waited_since > CAP_PATIENCE_SECONDS:
                victim = self._least_recently_used_idle()
                if victim is not None:
                    self._stop(victim)
                    continue
            with self._changed:
                self._changed.wait(0.05)

    def _new_environment(self, config: FunctionConfig, log) -> ExecutionEnvironment:
        """A not yet started environment, within ``max_environments`` (making room if need be)."""
        if self._slots is not None:
            while not self._slots.acquire(timeout=0.05):
                victim = self._least_recently_used_idle()
                if victim is not None:
                    self._stop(victim)
        return self._create(config, log)

    def _create(self, config: FunctionConfig, log) -> ExecutionEnvironment:
        """An environment for a slot already acquired (when there is a cap)."""
        environment = ExecutionEnvironment(config, self.routes, self.credentials_for(config), self.runtime_dir, log)
        if self._slots is not None:
            with self._lock:
                self._holding.add(environment)
        return environment

    def _least_recently_used_idle(self) -> Optional[ExecutionEnvironment]:
        with self._lock:
            idle = [(env.last_used, name, env) for name, pool in self._pools.items() for env in pool.idle]
            if not idle:
                return None
            _, name, victim = min(idle, key=lambda item: item[0])
            self._pools[name].idle.remove(victim)
            return victim

    def _stop(self, environment: ExecutionEnvironment) -> None:
        environment.kill()
        with self._lock:
            held = environment in self._holding
            self._holding.discard(environment)
        if held:
            self._slots.release()
        self._notify()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _take_warm(self, pool: _Pool, config: FunctionConfig) -> Optional[ExecutionEnvironment]:
        stale = []
        found = None
        with self._lock:
            while pool.idle:
                candidate = pool.idle.pop()  # the most recently used
                # Same version and (for callers that forget to bump it) the same configuration.
                current = candidate.config.version == config.version and candidate.config == config
                if candidate.alive and current and candidate.generation == pool.generation:
                    found = candidate
                    pool.busy.append(candidate)
                    break
                stale.append(candidate)
        for environment in stale:
            self._stop(environment)
        return found

    def _give_back(self, pool: _Pool, environment: ExecutionEnvironment, reusable: bool) -> None:
        with self._lock:
            if environment in pool.busy:
                pool.busy.remove(environment)
            keep = reusable and environment.generation == pool.generation and not self._closed.is_set()
            if keep:
                pool.idle.append(environment)
        if keep:
            self._notify()
        else:
            self._stop(environment)

    def _pool(self, name: str) -> _Pool:
        with self._lock:
            pool = self._pools.get(name)
            if pool is None:
                pool = self._pools[name] = _Pool(threading.BoundedSemaphore(self.concurrency))
            return pool

    # --- lifecycle -------------------------------------------------------

    def retire(self, name: Optional[str] = None) -> None:
        """Drop warm environments (of one function, or all): the next invocations start fresh ones."""
        with self._lock:
            pools = (
                [self._pools[name]]
                if name is not None and name in self._pools
                else ([] if name is not None else list(self._pools.values()))
            )
            retired = []
            for pool in pools:
                pool.generation += 1
                retired += pool.idle
                pool.idle = []
        for environment in retired:
            self._stop(environment)

    def environments(self) -> Dict[str, Dict[str, List[int]]]:
        """``{function: {"idle": [pid...], "busy": [pid...]}}`` (tests and the benchmark)."""
        with self._lock:
            return {
                name: {"idle": [env.pid for env in pool.idle], "busy": [env.pid for env in pool.busy]}
                for name, pool in self._pools.items()
            }

    def reap(self, now: Optional[float] = None) -> int:
        """Stop environments idle longer than ``idle_seconds``; how many were stopped."""
        now = time.monotonic() if now is None else now
        with self._lock:
            expired = []
            for pool in self._pools.values():
                keep = [env for env in pool.idle if now - env.last_used < self.idle_seconds]
                expired += [env for env in pool.idle if env not in keep]
                pool.idle = keep
        for environment in expired:
            self._stop(environment)
        return len(expired)

    def _reap_loop(self) -> None:
        interval = max(0.05, min(self.idle_seconds / 4, 10.0))
        while not self._closed.wait(interval):
            self.reap()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            everything = [env for pool in self._pools.values() for env in pool.idle + pool.busy]
            for pool in self._pools.values():
                pool.idle = []
        for environment in everything:
            self._stop(environment)
