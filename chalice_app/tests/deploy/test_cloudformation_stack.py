"""The packaged template deploys as is: ``deploy.py --package``, then ``aws cloudformation deploy`` of it into
``make cloud``, then Validate's checks, its smoke test and phase 3 against the stack it created.

One emulated region (``scripts/local.py --cloud``) for the module. The AWS CLI is the one ``make install``
puts in the virtualenv (v1). The template is the plain CloudFormation copy (``cloudformation.json``): SAM's
transform runs only in AWS.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.deploy.conftest import PROJECT_DIR, REGION, TEST_STAGE, run_phase_3, run_script, tool_env
from tests.deploy.test_package import offline_env

AWS_CLI = Path(sys.executable).parent / "aws"
STACK = "shopping-assistant-chalice-test"
BUCKET = "shopping-assistant-code"
TIMES = {}

pytestmark = pytest.mark.skipif(not AWS_CLI.exists(), reason="make install puts the AWS CLI in the virtualenv")


def aws(region, *args, timeout=300):
    done = subprocess.run(
        [str(AWS_CLI), "--endpoint-url", region.endpoint, *args],
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def package(project, tmp_path_factory):
    out = tmp_path_factory.mktemp("cfn-package")
    started = time.monotonic()
    done = run_script(
        "deploy.py", "--stage", TEST_STAGE, "--package", str(out), "--project-dir", str(project),
        env=offline_env(out), timeout=400,
    )  # fmt: skip
    TIMES["package"] = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.fixture(scope="module")
def stack(region, package, project):
    started = time.monotonic()
    aws(region, "s3", "mb", f"s3://{BUCKET}")
    aws(region, "s3", "cp", str(package / "deployment.zip"), f"s3://{BUCKET}/deployment.zip", "--quiet")
    aws(
        region, "cloudformation", "deploy", "--template-file", str(package / "cloudformation.json"),
        "--stack-name", STACK, "--capabilities", "CAPABILITY_IAM",
        "--parameter-overrides", f"CodeBucket={BUCKET}", "CodeKey=deployment.zip",
    )  # fmt: skip
    TIMES["cloudformation deploy"] = time.monotonic() - started
    done = _fromstack(region, project)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(aws(region, "cloudformation", "describe-stacks", "--stack-name", STACK))["Stacks"][0]


def _fromstack(region, project):
    return subprocess.run(
        [
            sys.executable, "-m", "infra.deploy.fromstack", "--stack", STACK, "--stage", TEST_STAGE,
            "--project-dir", str(project), "--endpoint-url", region.endpoint, "--region", REGION,
        ],
        env=tool_env(), capture_output=True, text=True, timeout=120, cwd=PROJECT_DIR,
    )  # fmt: skip


def validate(region, project):
    """``deploy.py --validate-only`` on the stack: (exit code, JSON report, progress)."""
    done = run_script(
        "deploy.py", "--stage", TEST_STAGE, "--region", REGION, "--endpoint-url", region.endpoint,
        "--project-dir", str(project), "--validate-only", "--json", timeout=300,
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout), done.stderr


def test_the_stack_is_created_with_every_resource_of_the_stage(stack, region):
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    resources = json.loads(aws(region, "cloudformation", "describe-stack-resources", "--stack-name", STACK))
    kinds = sorted(r["ResourceType"] for r in resources["StackResources"])
    for kind, count in {
        "AWS::SQS::Queue": 2,
        "AWS::DynamoDB::Table": 4,
        "AWS::Lambda::Function": 4,
        "AWS::Lambda::EventSourceMapping": 1,
        "AWS::ApiGatewayV2::Route": 3,
        "AWS::ApiGatewayV2::Stage": 1,
    }.items():
        assert kinds.count(kind) == count, kinds


def test_validate_and_its_smoke_test_hold_on_the_stack(stack, region, project):
    started = time.monotonic()
    code, report, progress = validate(region, project)
    TIMES["validate"] = time.monotonic() - started
    assert code == 0, progress + region.output()
    statuses = {c["name"]: c["status"] for c in report["checks"] if c["step"] == "Validate"}
    assert set(statuses.values()) == {"ok"}, statuses
    smoke = next(c for c in report["checks"] if c["name"] == "smoke test")
    assert "chat message answered" in smoke["detail"] and report["websocket_url"].startswith("ws://127.0.0.1:")


def test_phase_3_runs_against_the_stack(stack, region, project):
    code, report, progress = validate(region, project)
    assert code == 0, progress
    run_phase_3(report["websocket_url"])
    print(f"measured: {', '.join(f'{name} {seconds:.1f} s' for name, seconds in TIMES.items())}")
