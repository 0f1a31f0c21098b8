"""The deploy pipeline behind ``scripts/deploy.py``.

Like chalice's own deployer (build a graph, plan, execute), a deploy here is a
fixed list of small steps run in order over one ``Context``. Each step records
``Check``s (name, status, detail, fix); the CLI prints them as they come and as
a table at the end. The steps::

    Preflight        the stage in config.json, region, credentials and account
                     (STS), chalice installed, the stage's settings parse, the
                     processor's timeout, and each function's policy file
                     allows what its code needs (infra.policy.NEEDS) and
                     nothing that only other functions need.
    EnsureResources  what chalice does not create: the queue with its DLQ and the
                     tables with TTL, through infra.bootstrap.ensure_all (the
                     same code as the local runtime), the queue's visibility
                     timeout at 6x the processor's lambda_timeout.
    ChaliceDeploy    the real ``chalice deploy --stage S`` as a subprocess, its
                     output streamed, with the stage's environment exported so
                     app.py imports with the stage's queue name; then the
                     deployment package is checked for every requirement.
    Wire             reads .chalice/deployed/<stage>.json; puts WEBSOCKET_DOMAIN
                     and WEBSOCKET_STAGE in the processor's configuration (the
                     live function, and config.json so the next chalice deploy
                     keeps them); narrows ManageConnections to the deployed API
                     (region, account, API id, stage) on the roles and in the
                     policy files; turns on ReportBatchItemFailures (and
                     Enabled) on the SQS event source mapping, which chalice
                     cannot (chalice issue #2029).
    Validate         read-only: the functions, the WebSocket API and its routes,
                     the wiring, the mapping, queue and DLQ (attributes, depth),
                     the tables, the role policies (each function's calls and
                     nothing else, this API only), and a connect + ping/pong
                     smoke test when the WebSocket URL is reachable.

``--package DIR`` runs Preflight (no AWS account needed) and Package: the real
``chalice package`` into DIR, then the SAM template made as correct as Wire makes
a deployed stack (infra/deploy/package.py).

Into an emulated AWS (``--endpoint-url``) ``scripts/deploy.py`` points ``Options.project_dir``
at a git-ignored working copy of the project, one per endpoint and region
(infra/deploy/workcopy.py), so the steps write the emulator's ids there and never into
tracked files.

``--validate-only`` runs Preflight and Validate; ``--skip-validate`` leaves out
Validate; ``--delete`` runs Preflight, ChaliceDelete and DeleteResources.

Every step makes things right whatever it finds, so a rerun after a failure
starts from the top and walks through what is already done; on a healthy stack
every check says ``ok`` and nothing changes (chalice itself still uploads the
code and prints "Updating", with the same resources). A failing step stops the
pipeline, because the steps after it need what it makes; Validate runs all of
its checks and fails at the end.
"""

from typing import Callable, List

from botocore.exceptions import BotoCoreError, ClientError

from infra.deploy.base import (
    CHANGED,
    FAIL,
    OK,
    SKIP,
    WARN,
    Check,
    Context,
    DeployStoppedError,
    Options,
    Report,
    Step,
    error,
    find_mapping,
)
from infra.deploy.chalice_steps import ChaliceDelete, ChaliceDeploy
from infra.deploy.package import Package
from infra.deploy.preflight import Preflight
from infra.deploy.resources import DeleteResources, EnsureResources
from infra.deploy.validate import Validate
from infra.deploy.wire import Wire

__all__ = [
    "OK",
    "CHANGED",
    "WARN",
    "FAIL",
    "SKIP",
    "Check",
    "Context",
    "Options",
    "Report",
    "find_mapping",
    "run",
    "steps_for",
]


def steps_for(options: Options) -> List[Step]:
    if options.mode == "delete":
        return [Preflight(), ChaliceDelete(), DeleteResources()]
    if options.mode == "validate":
        return [Preflight(), Validate()]
    if options.mode == "package":
        return [Preflight(), Package()]
    steps = [Preflight(), EnsureResources(), ChaliceDeploy(), Wire()]
    return steps if options.skip_validate else [*steps, Validate()]


def run(
    options: Options,
    on_check: Callable[[Check], None] = lambda check: None,
    log: Callable[[str], None] = lambda line: None,
    on_step: Callable[[int, int, str], None] = lambda number, total, title: None,
) -> Report:
    """Run the steps for ``options``; the report says what each check found."""
    ctx = Context(options, on_check, log)
    steps = steps_for(options)
    for number, step in enumerate(steps, 1):
        ctx.step = step.title
        on_step(number, len(steps), step.title)
        try:
            step.run(ctx)
        except DeployStoppedError:
            break
        except (ClientError, BotoCoreError) as exc:
            ctx.check("error", FAIL, error(exc), "rerun when the cause is fixed: finished steps are skipped over")
            break
    return ctx.report
