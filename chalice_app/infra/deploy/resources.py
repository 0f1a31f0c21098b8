"""EnsureResources and DeleteResources: what chalice does not manage (the queue, its DLQ, the tables)."""

import json
from typing import Any, Dict, List

from botocore.exceptions import BotoCoreError, ClientError

from infra import bootstrap, policy
from infra.deploy.base import CHANGED, OK, SKIP, Context, Step, error
from infra.deploy.wire import edit_processor_env, scope_policy_files


class EnsureResources(Step):
    title = "Queue, DLQ and tables"

    def run(self, ctx: Context) -> None:
        before = self._snapshot(ctx)
        try:
            ctx.resources = bootstrap.ensure_all(ctx.client, ctx.settings, ctx.stage.visibility_timeout)
        except (ClientError, BotoCoreError) as exc:
            raise ctx.fail(
                "queue and tables",
                f"could not create or update them: {error(exc)}",
                "the deploying identity needs sqs:CreateQueue/SetQueueAttributes and dynamodb:CreateTable/"
                "UpdateTimeToLive",
            )
        after = self._snapshot(ctx)
        s = ctx.settings
        tables = [spec["name"] for spec in bootstrap.table_specs(s)]
        queue_detail = (
            f"{s.queue_name}: visibility {ctx.stage.visibility_timeout} s, retention "
            f"{bootstrap.RETENTION_SECONDS // 86400} d, to {bootstrap.dlq_name(s.queue_name)} after "
            f"{s.max_receive_count} receives"
        )
        self._report(ctx, "queue + DLQ", queue_detail, ["queue", "dlq"], before, after)
        self._report(ctx, "tables", "with TTL: " + ", ".join(tables), tables, before, after)

    @staticmethod
    def _report(ctx: Context, name: str, detail: str, keys: List[str], before: Dict, after: Dict) -> None:
        changed = [
            f"{key} {'created' if before[key] is None else 'updated'}" for key in keys if before[key] != after[key]
        ]
        if changed:
            ctx.check(name, CHANGED, f"{detail} ({', '.join(changed)})")
        else:
            ctx.check(name, OK, detail)

    @staticmethod
    def _snapshot(ctx: Context) -> Dict[str, Any]:
        sqs, dynamodb = ctx.client("sqs"), ctx.client("dynamodb")
        state: Dict[str, Any] = {}
        for key, name in (("queue", ctx.settings.queue_name), ("dlq", bootstrap.dlq_name(ctx.settings.queue_name))):
            try:
                url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            except ClientError:
                state[key] = None
                continue
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
            state[key] = (
                attributes.get("VisibilityTimeout"),
                attributes.get("MessageRetentionPeriod"),
                attributes.get("ReceiveMessageWaitTimeSeconds"),
                redrive.get("deadLetterTargetArn"),
                str(redrive.get("maxReceiveCount")),
            )
        for spec in bootstrap.table_specs(ctx.settings):
            try:
                ttl = dynamodb.describe_time_to_live(TableName=spec["name"])["TimeToLiveDescription"]
            except ClientError:
                state[spec["name"]] = None
                continue
            state[spec["name"]] = (ttl.get("TimeToLiveStatus"), ttl.get("AttributeName"))
        return state


class DeleteResources(Step):
    title = "Delete queue, DLQ and tables"

    def run(self, ctx: Context) -> None:
        if edit_processor_env(ctx.stage, {"WEBSOCKET_DOMAIN": None, "WEBSOCKET_STAGE": None}):
            ctx.check("config.json endpoint", CHANGED, "removed the deleted API's WEBSOCKET_DOMAIN/STAGE")
        stage = ctx.stage.api_gateway_stage
        files = scope_policy_files(
            ctx.stage, lambda method: policy.connections_arn(ctx.partition, "*", "*", "*", stage, method)
        )
        if files:
            ctx.check("connections policy", CHANGED, f"{', '.join(files)}: any API of stage {stage} again")
        if ctx.options.keep_data:
            ctx.check("queue and tables", SKIP, "kept (--keep-data)")
            return
        sqs, dynamodb = ctx.client("sqs"), ctx.client("dynamodb")
        gone = []
        for name in (ctx.settings.queue_name, bootstrap.dlq_name(ctx.settings.queue_name)):
            try:
                sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
                gone.append(name)
            except ClientError as exc:
                if "NonExistentQueue" not in exc.response["Error"]["Code"]:
                    raise ctx.fail("queue and tables", f"{name}: {error(exc)}")
        for spec in bootstrap.table_specs(ctx.settings):
            try:
                dynamodb.delete_table(TableName=spec["name"])
                gone.append(spec["name"])
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise ctx.fail("queue and tables", f"{spec['name']}: {error(exc)}")
        ctx.check("queue and tables", CHANGED if gone else OK, f"deleted {', '.join(gone)}" if gone else "already gone")
