"""Wire: the processor's WebSocket endpoint (function and config.json) and its SQS event source mapping."""

import json
import time
from typing import Dict, Optional

from botocore.exceptions import ClientError

from infra.deploy.base import BATCH_ITEM_FAILURES, CHANGED, OK, Context, Step, error, find_mapping
from infra.stage import PROCESSOR, StageConfig


class Wire(Step):
    title = "Wire the processor"

    def run(self, ctx: Context) -> None:
        endpoint = ctx.websocket_endpoint()
        processor = ctx.resource(PROCESSOR)
        self._environment(ctx, processor["lambda_arn"], endpoint)
        self._config_file(ctx, endpoint)
        self._mapping(ctx, processor["lambda_arn"])

    @staticmethod
    def _environment(ctx: Context, function_arn: str, endpoint: Dict[str, str]) -> None:
        lam = ctx.client("lambda")
        variables = (
            lam.get_function_configuration(FunctionName=function_arn).get("Environment", {}).get("Variables", {})
        )
        wanted = {"WEBSOCKET_DOMAIN": endpoint["domain"], "WEBSOCKET_STAGE": endpoint["stage"]}
        detail = f"WEBSOCKET_DOMAIN={endpoint['domain']} WEBSOCKET_STAGE={endpoint['stage']}"
        if all(variables.get(key) == value for key, value in wanted.items()):
            ctx.check("processor endpoint", OK, detail)
            return
        lam.update_function_configuration(FunctionName=function_arn, Environment={"Variables": {**variables, **wanted}})
        lam.get_waiter("function_updated_v2").wait(
            FunctionName=function_arn, WaiterConfig={"Delay": 2, "MaxAttempts": 60}
        )
        ctx.check("processor endpoint", CHANGED, detail + " set on the function")

    @staticmethod
    def _config_file(ctx: Context, endpoint: Dict[str, str]) -> None:
        wanted = {"WEBSOCKET_DOMAIN": endpoint["domain"], "WEBSOCKET_STAGE": endpoint["stage"]}
        current = ctx.stage.environment(PROCESSOR)
        if all(current.get(key) == value for key, value in wanted.items()):
            ctx.check("config.json endpoint", OK, f"stage {ctx.stage.stage} already names the endpoint")
            return
        edit_processor_env(ctx.stage, wanted)
        ctx.check(
            "config.json endpoint",
            CHANGED,
            f"wrote them into stages.{ctx.stage.stage}.lambda_functions.{PROCESSOR} of {ctx.stage.config_path.name}",
            "commit .chalice/config.json so the next chalice deploy keeps them",
        )

    @staticmethod
    def _mapping(ctx: Context, function_arn: str) -> None:
        lam = ctx.client("lambda")
        queue_arn = ctx.resources.queue_arn
        mapping = find_mapping(lam, queue_arn, function_arn)
        if mapping is None:
            subscribed = ctx.resource(f"{PROCESSOR}-sqs-event-source").get("queue_arn")
            raise ctx.fail(
                "sqs mapping",
                f"no event source mapping from {queue_arn} to {PROCESSOR} (chalice subscribed {subscribed})",
                "check CHAT_QUEUE_NAME for this stage in config.json, then rerun deploy.py",
            )
        detail = f"{mapping['UUID']}: {BATCH_ITEM_FAILURES}, Enabled"
        if BATCH_ITEM_FAILURES in (mapping.get("FunctionResponseTypes") or []) and mapping.get("State") == "Enabled":
            ctx.check("sqs mapping", OK, detail)
            return
        for attempt in range(30):
            try:
                lam.update_event_source_mapping(
                    UUID=mapping["UUID"], FunctionResponseTypes=[BATCH_ITEM_FAILURES], Enabled=True
                )
                break
            except ClientError as exc:  # still Creating/Updating right after chalice
                if exc.response["Error"]["Code"] != "ResourceInUseException" or attempt == 29:
                    raise ctx.fail("sqs mapping", f"cannot update {mapping['UUID']}: {error(exc)}")
                time.sleep(2)
        ctx.check(
            "sqs mapping", CHANGED, detail + f" (was {mapping.get('State')}, {mapping.get('FunctionResponseTypes')})"
        )


def edit_processor_env(stage: StageConfig, values: Dict[str, Optional[str]]) -> bool:
    """Set (or, for None, remove) processor variables of the stage in config.json; True if it changed."""
    raw = stage.raw_config()
    stage_config = raw["stages"][stage.stage]
    env = (
        stage_config.setdefault("lambda_functions", {})
        .setdefault(PROCESSOR, {})
        .setdefault("environment_variables", {})
    )
    before = dict(env)
    for key, value in values.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    if env == before:
        return False
    if not env:
        del stage_config["lambda_functions"][PROCESSOR]["environment_variables"]
        if not stage_config["lambda_functions"][PROCESSOR]:
            del stage_config["lambda_functions"][PROCESSOR]
        if not stage_config["lambda_functions"]:
            del stage_config["lambda_functions"]
    stage.config_path.write_text(json.dumps(raw, indent=2) + "\n")
    return True
