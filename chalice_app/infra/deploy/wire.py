"""Wire: the processor's WebSocket endpoint (function and config.json), ManageConnections scoped to the
deployed API (roles and policy files), and the processor's SQS event source mapping."""

import json
import time
from typing import Any, Callable, Dict, List, Optional

from botocore.exceptions import ClientError

from infra import policy
from infra.deploy.base import BATCH_ITEM_FAILURES, CHANGED, OK, Context, Step, error, find_mapping, role_policies
from infra.stage import FUNCTIONS, PROCESSOR, StageConfig


class Wire(Step):
    title = "Wire the processor"

    def run(self, ctx: Context) -> None:
        endpoint = ctx.websocket_endpoint()
        processor = ctx.resource(PROCESSOR)
        self._environment(ctx, processor["lambda_arn"], endpoint)
        self._config_file(ctx, endpoint)
        self._connections_policy(ctx, endpoint)
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
        where = f"stages.{ctx.stage.stage}.lambda_functions.{PROCESSOR} of {ctx.stage.config_path.name}"
        if ctx.target.emulated:  # the working copy's (infra.deploy.workcopy): nothing to commit
            ctx.check("config.json endpoint", CHANGED, f"wrote them into {where} of the emulator's working copy")
            return
        ctx.check(
            "config.json endpoint",
            CHANGED,
            f"wrote them into {where}",
            "commit .chalice/config.json so the next chalice deploy keeps them",
        )

    @staticmethod
    def _connections_policy(ctx: Context, endpoint: Dict[str, str]) -> None:
        """Chalice puts each policy file on its role as written (any API of the stage); narrow the
        ManageConnections statements to this API, on the roles and in the files (so the next chalice
        deploy keeps them)."""

        def resource_for(method: str) -> str:
            return policy.connections_arn(
                ctx.partition, ctx.target.region, ctx.account, endpoint["api_id"], endpoint["stage"], method
            )

        files = scope_policy_files(ctx.stage, resource_for)
        iam, roles = ctx.client("iam"), []
        for function in FUNCTIONS:
            role, documents = role_policies(ctx, function)
            for name, document in documents.items():
                scoped = policy.scope_connections(document, resource_for)
                if scoped != document:
                    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(scoped))
                    roles.append(role)
        posting = [function for function in FUNCTIONS if policy.connection_methods(function)]
        detail = f"{', '.join(posting)} may ManageConnections on {endpoint['api_id']}/{endpoint['stage']} only"
        if not files and not roles:
            ctx.check("connections policy", OK, detail)
            return
        changed = ", ".join([*files, *(f"role {role}" for role in roles)])
        fix = "commit the .chalice/policy-*.json files so the next chalice deploy keeps the scope" if files else ""
        if ctx.target.emulated and files:  # the working copy's (infra.deploy.workcopy): nothing to commit
            changed, fix = changed + " of the emulator's working copy", ""
        ctx.check("connections policy", CHANGED, f"{detail} (set in {changed})", fix)

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


def scope_policy_files(stage: StageConfig, resource_for: Callable[[str], Any]) -> List[str]:
    """Rewrite the ManageConnections resources of the stage's policy files; the names of those it changed."""
    changed = []
    for path in dict.fromkeys(stage.policy_path(function) for function in FUNCTIONS):
        document = json.loads(path.read_text())
        scoped = policy.scope_connections(document, resource_for)
        if scoped != document:
            path.write_text(json.dumps(scoped, indent=2) + "\n")
            changed.append(path.name)
    return changed
