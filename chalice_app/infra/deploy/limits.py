"""What AWS would refuse or silently degrade, judged from config.json (Preflight) or describe calls (Validate).

Each rule returns a list of ``(problem, fix)``; an empty list means it holds.

- Lambda's limits: a timeout of 1 to 900 s, memory of 128 to 10,240 MB;
- the queue is FIFO with content-based deduplication off: ``chat_queue.enqueue``
  sends a ``MessageGroupId`` per session (the order of a session's messages) and
  the message id as ``MessageDeduplicationId``;
- every function names the stage's own queue and tables, not another stage's;
- the queue's visibility timeout is at least 6x the processor's timeout, and it
  redrives to its DLQ after ``MAX_RECEIVE_COUNT`` (at least 5) receives.
"""

import ast
import json
from pathlib import Path
from typing import Dict, FrozenSet, List, Mapping, Tuple

from infra.bootstrap import FIFO_SUFFIX, RECOMMENDED_MAX_RECEIVE_COUNT
from infra.stage import FUNCTIONS, PROCESSOR, VISIBILITY_TIMEOUT_FACTOR

__all__ = ["RESOURCE_KEYS", "function_limits", "other_stage_resources", "own_resources", "queue_rules"]

LAMBDA_MAX_TIMEOUT = 900
LAMBDA_MEMORY = (128, 10240)
# The environment variables that name a stage's resources -> the chalicelib.config.Settings field.
RESOURCE_KEYS = {
    "CHAT_QUEUE_NAME": "queue_name",
    "CONNECTIONS_TABLE": "connections_table",
    "IDEMPOTENCY_TABLE": "idempotency_table",
    "SESSIONS_TABLE": "sessions_table",
    "FRAMES_TABLE": "frames_table",
}

Finding = Tuple[str, str]


def function_limits(function: str, timeout: int, memory: int, where: str) -> List[Finding]:
    """Lambda refuses a timeout over 900 s and memory outside 128-10,240 MB."""
    found = []
    if not 1 <= int(timeout) <= LAMBDA_MAX_TIMEOUT:
        found.append(
            (
                f"{function} timeout {timeout} s is outside Lambda's 1-{LAMBDA_MAX_TIMEOUT} s",
                f'set lambda_functions."{function}".lambda_timeout to at most {LAMBDA_MAX_TIMEOUT} in {where}',
            )
        )
    low, high = LAMBDA_MEMORY
    if not low <= int(memory) <= high:
        found.append(
            (
                f"{function} memory {memory} MB is outside Lambda's {low}-{high} MB",
                f'set lambda_functions."{function}".lambda_memory_size to {low}-{high} in {where}',
            )
        )
    return found


def own_resources(function: str, variables: Mapping[str, str], settings, where: str) -> List[Finding]:
    """The function's queue and table variables name the stage's own (the processor's settings)."""
    found = []
    for key, attribute in RESOURCE_KEYS.items():
        expected, got = getattr(settings, attribute), variables.get(key)
        if got and got != expected:
            found.append(
                (
                    f"{function} has {key}={got}, the stage's is {expected}",
                    f'set {key} to "{expected}" for {function} in {where} (or remove the function-level value), '
                    "then redeploy",
                )
            )
    return found


def other_stage_resources(stage: str, settings, raw_config: Dict, where: str) -> List[Finding]:
    """A queue or table name this stage shares with another stage of config.json."""
    mine = {key: getattr(settings, attribute) for key, attribute in RESOURCE_KEYS.items()}
    found = []
    for other, block in (raw_config.get("stages") or {}).items():
        variables = block.get("environment_variables") or {}
        for key, value in mine.items():
            if other != stage and variables.get(key) == value:
                found.append(
                    (
                        f"{key}={value} is stage {other}'s too: the two stages would share it",
                        f"give stage {stage} its own {key} in {where}",
                    )
                )
    return found


def queue_name_rule(queue_name: str, where: str) -> List[Finding]:
    if queue_name.endswith(FIFO_SUFFIX):
        return []
    return [
        (
            f"CHAT_QUEUE_NAME={queue_name} names a standard queue: a session's messages would lose their order",
            f'set CHAT_QUEUE_NAME to "{queue_name}{FIFO_SUFFIX}" in {where} (the code needs a FIFO queue)',
        )
    ]


def queue_rules(name: str, attributes: Mapping[str, str], dlq_arn: str, timeout: int, receives: int) -> List[Finding]:
    """The live queue's attributes: FIFO, deduplication, visibility and redrive."""
    rerun = "rerun scripts/deploy.py (step 2 sets the queue attributes)"
    found = []
    if attributes.get("FifoQueue") != "true":
        found.append(
            (
                f"{name} is a standard queue: per-session ordering (MessageGroupId) is lost",
                f"delete {name} and rerun scripts/deploy.py: FifoQueue is fixed when a queue is created",
            )
        )
    elif attributes.get("ContentBasedDeduplication") != "false":
        found.append(
            (
                f"{name} has ContentBasedDeduplication on: the code deduplicates by message id",
                f"{rerun}, or set ContentBasedDeduplication=false",
            )
        )
    visibility = int(attributes.get("VisibilityTimeout", 0))
    if visibility < VISIBILITY_TIMEOUT_FACTOR * timeout:
        found.append((f"VisibilityTimeout {visibility} s < 6 x {PROCESSOR} timeout {timeout} s", rerun))
    found += _redrive_rules(json.loads(attributes.get("RedrivePolicy") or "{}"), dlq_arn, receives, rerun)
    return found


def _redrive_rules(redrive: Mapping, dlq_arn: str, receives: int, rerun: str) -> List[Finding]:
    if redrive.get("deadLetterTargetArn") != dlq_arn:
        return [(f"no redrive to {dlq_arn}", rerun)]
    count = int(redrive.get("maxReceiveCount") or 0)
    if count < RECOMMENDED_MAX_RECEIVE_COUNT:
        return [
            (
                f"redrive after {count} receives: fewer than the {RECOMMENDED_MAX_RECEIVE_COUNT} AWS recommends for a "
                "queue that feeds Lambda (brief throttling sends messages to the DLQ)",
                f"set MAX_RECEIVE_COUNT to {RECOMMENDED_MAX_RECEIVE_COUNT} or more in .chalice/config.json, then "
                f"{rerun}",
            )
        ]
    if count != int(receives):
        # processor.py posts processing_failed on attempt MAX_RECEIVE_COUNT: it must be the DLQ's count.
        return [(f"redrive after {count} receives, MAX_RECEIVE_COUNT is {receives}", rerun)]
    return []


def app_handlers(project_dir: Path) -> FrozenSet[str]:
    """``app.<name>`` for each top-level function of app.py: the handlers chalice can deploy."""
    tree = ast.parse((Path(project_dir) / "app.py").read_text())
    return frozenset(f"app.{node.name}" for node in tree.body if isinstance(node, ast.FunctionDef))


def handler_rule(function: str, handler: str, handlers: FrozenSet[str], rerun: str) -> List[Finding]:
    """A function whose handler names nothing app.py defines fails every invocation (Runtime.HandlerNotFound)."""
    if handler in handlers:
        return []
    return [
        (
            f"{function} handler {handler} is not a function of app.py ({', '.join(sorted(handlers))})",
            f"{rerun}: chalice sets each function's handler",
        )
    ]


def stage_config_rules(stage, settings) -> List[Finding]:
    """Every rule Preflight can judge from config.json alone."""
    where = str(stage.config_path)
    found = []
    for function in FUNCTIONS:
        config = stage.function(function)
        found += function_limits(function, config.lambda_timeout or 60, config.lambda_memory_size or 128, where)
        found += own_resources(function, stage.environment(function), settings, where)
    found += queue_name_rule(settings.queue_name, where)
    found += other_stage_resources(stage.stage, settings, stage.raw_config(), where)
    return found
