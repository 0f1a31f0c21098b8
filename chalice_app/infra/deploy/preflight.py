"""Step 1, Preflight: stage config, region, credentials, chalice, settings, timeouts, policy file."""

import json
import subprocess

from botocore.exceptions import BotoCoreError, ClientError

from infra import bootstrap, policy
from infra.deploy import imports, limits
from infra.deploy.base import (
    MAX_VISIBILITY_TIMEOUT,
    MIN_PROCESSOR_TIMEOUT,
    OK,
    WARN,
    Context,
    Step,
    chalice_cli,
    error,
)
from infra.stage import FUNCTIONS, PROCESSOR, StageError, Target, load_stage

PACKAGE_REGION = "us-east-1"


class Preflight(Step):
    title = "Preflight"

    def run(self, ctx: Context) -> None:
        options = ctx.options
        try:
            ctx.stage = load_stage(options.stage, options.project_dir)
        except StageError as exc:
            raise ctx.fail("stage config", str(exc)) from None
        ctx.check("stage config", OK, f"{ctx.stage.config_path} [{options.stage}]")
        if options.mode == "delete" and options.stage == "prod" and not options.yes:
            raise ctx.fail("confirmation", "refusing to delete stage prod", "add --yes if you mean it")
        if options.mode == "package":
            self._package_target(ctx)
        else:
            self._region_and_credentials(ctx)
        if options.mode != "validate":
            self._chalice(ctx)
        self._settings(ctx)
        if options.mode != "delete":
            self._aws_limits(ctx)
            self._imports(ctx)
            self._timeouts(ctx)
            self._policy_file(ctx)

    def _package_target(self, ctx: Context) -> None:
        """A template needs no account: it names ${AWS::Region} and ${AWS::AccountId}; chalice package
        only wants some region to start."""
        options = ctx.options
        try:
            ctx.target = Target(options.region, options.profile)
        except BotoCoreError as exc:  # ProfileNotFound
            raise ctx.fail("region", error(exc), "use a profile from ~/.aws/config, or leave --profile out")
        ctx.target.region = ctx.target.region or PACKAGE_REGION
        ctx.report.region = ctx.target.region
        ctx.check(
            "region", OK, f"any: the template names ${{AWS::Region}} (chalice package runs in {ctx.target.region})"
        )

    def _region_and_credentials(self, ctx: Context) -> None:
        options = ctx.options
        try:
            ctx.target = Target(options.region, options.profile, options.endpoint_url)
        except BotoCoreError as exc:  # ProfileNotFound
            raise ctx.fail("credentials", error(exc), "use a profile from ~/.aws/config, or leave --profile out")
        if not ctx.target.region:
            raise ctx.fail(
                "region", "no AWS region", "pass --region, or set AWS_DEFAULT_REGION, or a region in the profile"
            )
        ctx.report.region = ctx.target.region
        ctx.check(
            "region",
            OK,
            ctx.target.region + (f" (emulated AWS at {options.endpoint_url})" if options.endpoint_url else ""),
        )
        if ctx.target.session.get_credentials() is None:
            raise ctx.fail(
                "credentials",
                "no AWS credentials found",
                "pass --profile NAME, or run `aws configure` / `aws sso login`, or set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY",
            )
        try:
            identity = ctx.client("sts").get_caller_identity()
        except (ClientError, BotoCoreError) as exc:
            raise ctx.fail(
                "credentials",
                f"STS GetCallerIdentity failed: {error(exc)}",
                "refresh the credentials (e.g. `aws sso login --profile NAME`) or check --endpoint-url",
            )
        ctx.account = ctx.report.account = identity["Account"]
        ctx.partition = identity["Arn"].split(":")[1]
        ctx.check("credentials", OK, f"account {ctx.account} as {identity['Arn']}")

    def _chalice(self, ctx: Context) -> None:
        cli = chalice_cli()
        if cli is None:
            raise ctx.fail(
                "chalice", "the chalice CLI is not installed", "make install (or pip install -r requirements.txt)"
            )
        version = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=60)
        if version.returncode != 0:
            raise ctx.fail("chalice", f"{cli} --version failed: {version.stderr.strip()}", "make install")
        ctx.check("chalice", OK, f"{version.stdout.strip()} ({cli})")

    def _settings(self, ctx: Context) -> None:
        from chalicelib.assistant import BACKENDS
        from chalicelib.config import REQUIRED_IN_LAMBDA, ConfigError

        where = f'stages."{ctx.stage.stage}".environment_variables in {ctx.stage.config_path}'
        try:
            ctx.settings = ctx.stage.settings(ctx.target.region)
        except ConfigError as exc:
            raise ctx.fail("settings", str(exc), f"fix it in {where}")
        for function in FUNCTIONS:
            absent = [name for name in REQUIRED_IN_LAMBDA if not ctx.stage.environment(function).get(name)]
            if absent:
                raise ctx.fail(
                    "settings", f"{function} would start without {', '.join(absent)}", f"add them to {where}"
                )
        s = ctx.settings
        if s.assistant_backend not in BACKENDS and ":" not in s.assistant_backend:
            raise ctx.fail(
                "settings",
                f"ASSISTANT_BACKEND={s.assistant_backend!r} is not a backend this code has",
                f"use one of {', '.join(BACKENDS)} (or package.module:Factory) in {where}",
            )
        backend = s.assistant_backend + (f" ({s.bedrock_model_id})" if s.assistant_backend == "bedrock" else "")
        ctx.check(
            "settings",
            OK,
            f"queue {s.queue_name}, tables {', '.join(spec['name'] for spec in bootstrap.table_specs(s))}; "
            f"backend {backend}",
        )
        least = bootstrap.RECOMMENDED_MAX_RECEIVE_COUNT
        if s.max_receive_count < least:
            ctx.check(
                "max receive count",
                WARN,
                f"MAX_RECEIVE_COUNT={s.max_receive_count}: AWS recommends at least {least} for a queue that feeds "
                "Lambda; fewer sends messages to the DLQ after brief throttling",
                f"set MAX_RECEIVE_COUNT to {least} or more in {ctx.stage.config_path}",
            )
        if not (s.auth_api_keys or s.auth_token_secret):
            ctx.check(
                "auth",
                WARN,
                "no AUTH_TOKEN_SECRET or AUTH_API_KEYS: $connect accepts anyone who has the URL",
                f"set one for this stage ({where}); keep the value itself out of git",
            )

    def _aws_limits(self, ctx: Context) -> None:
        """What AWS would refuse (Lambda's limits) or silently degrade (a standard queue, another stage's
        queue or table), from config.json, before anything is created."""
        found = limits.stage_config_rules(ctx.stage, ctx.settings)
        if found:
            raise ctx.fail("aws limits", "; ".join(p for p, _ in found), "; ".join(dict.fromkeys(f for _, f in found)))
        ctx.check(
            "aws limits",
            OK,
            "timeouts and memory within Lambda's limits; a FIFO queue and tables of this stage only, for every "
            "function",
        )

    def _imports(self, ctx: Context) -> None:
        """Every module the bundle's code imports (lazy imports too) is in the package chalice builds."""
        missing = imports.missing_requirements(ctx.stage.project_dir)
        if missing:
            raise ctx.fail(
                "imports",
                "the deployment package would lack "
                + "; ".join(f"{item.module} ({item.describe()})" for item in missing),
                imports.fix_for(missing),
            )
        ctx.check("imports", OK, "every module app.py and chalicelib import is in the package or the runtime")

    def _timeouts(self, ctx: Context) -> None:
        timeout, visibility = ctx.stage.processor_timeout, ctx.stage.visibility_timeout
        detail = f"{PROCESSOR} lambda_timeout {timeout} s -> queue visibility timeout {visibility} s"
        where = f'lambda_functions."{PROCESSOR}".lambda_timeout in {ctx.stage.config_path}'
        if visibility > MAX_VISIBILITY_TIMEOUT:
            raise ctx.fail("timeouts", detail + f" (SQS allows {MAX_VISIBILITY_TIMEOUT} s)", f"lower {where}")
        if timeout < MIN_PROCESSOR_TIMEOUT:
            ctx.check(
                "timeouts", WARN, detail + ": short for an LLM reply", f"raise {where} to {MIN_PROCESSOR_TIMEOUT}+"
            )
        else:
            ctx.check("timeouts", OK, detail)

    def _policy_file(self, ctx: Context) -> None:
        # Before the first deploy the API id is unknown: an example id stands in for it.
        deployed = (ctx.stage.deployed() or {}).get("resources", [])
        scope = ctx.scope(next((r["websocket_api_id"] for r in deployed if r["name"] == "websocket_api"), None))
        problems, files = [], set()
        for function in FUNCTIONS:
            config = ctx.stage.function(function)
            path = ctx.stage.policy_path(function)
            files.add(path.name)
            if config.autogen_policy:
                raise ctx.fail(
                    "policy file",
                    f"autogen_policy is on for {function}: chalice would replace the least-privilege policy",
                    f'set "autogen_policy": false in {ctx.stage.config_path}',
                )
            try:
                document = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise ctx.fail("policy file", f"cannot read {path}: {exc}", f"create {path} (see docs/deploy.md)")
            # Judge the file as it will be deployed: step 4 (or --package) narrows its ManageConnections
            # statements to the stage's API, whichever API id an earlier deploy wrote into it.
            document = policy.scope_connections(document, scope.connections)
            problems += [
                f"{path.name} does not allow {need.describe()}"
                for need in policy.missing(document, policy.needs_for(scope, [function]))
            ]
            problems += [
                f"{path.name} allows {need.describe()}"
                for need in policy.excess(document, policy.forbidden_for(scope, function))
            ]
        if problems:
            raise ctx.fail(
                "policy file",
                "; ".join(dict.fromkeys(problems)),
                "give each function's file an Allow statement for what it calls, with a matching Resource, and "
                "nothing it does not call (see docs/deploy.md#iam-policy)",
            )
        ctx.check(
            "policy file",
            OK,
            f"{', '.join(sorted(files))}: each allows what its function's code calls, and nothing else",
        )
