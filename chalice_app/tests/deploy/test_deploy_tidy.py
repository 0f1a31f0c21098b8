"""Quiet and tidy: what a deploy into an emulator and ``make cloud`` leave behind, and what they print.

No deploy here (the deploy tests show the working copy in use): the working copy's
preparation, the "same resources" verdict, the project deploy.py deploys, the ports
``make cloud`` checks, the hint it prints and the temporary folders it removes.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from infra.deploy import OK
from infra.deploy.chalice_steps import resource_changes
from infra.deploy.workcopy import prepare, shown_as_project, working_copy_dir
from infra.stage import load_stage
from localcloud.motoserver import die_with_parent, free_port
from tests.deploy.conftest import PROJECT_DIR, SCRIPTS, TEST_STAGE, copy_project, run_script, tool_env

ENDPOINT = "http://127.0.0.1:4566"
REPO_DIR = PROJECT_DIR.parent
API_ID = "k3yq9zt1ab"


def deployed_state(region: str) -> dict:
    """What chalice records for the stage after a deploy into ``region`` (the fields Wire reads)."""
    arn = f"arn:aws:lambda:{region}:123456789012:function:shopping-assistant-api-{TEST_STAGE}-chat_processor"
    return {
        "resources": [
            {"name": "chat_processor", "resource_type": "lambda_function", "lambda_arn": arn},
            {
                "name": "websocket_api",
                "resource_type": "websocket_api",
                "websocket_api_id": API_ID,
                "websocket_api_url": f"wss://{API_ID}.execute-api.{region}.amazonaws.com/api/",
            },
        ]
    }


def tracked(project: Path) -> dict:
    return {path.name: path.read_text() for path in sorted((project / ".chalice").glob("*.json"))}


# --- the emulator's working copy ---------------------------------------------------


def test_the_working_copy_is_per_endpoint_and_region_under_the_ignored_folder(tmp_path):
    assert working_copy_dir(tmp_path, ENDPOINT, "ap-southeast-1") == (
        tmp_path / ".chalice" / "deployed" / "emulated-127.0.0.1-4566-ap-southeast-1"
    )
    assert working_copy_dir(tmp_path, "http://localhost:5000/", "us-east-1").name == "emulated-localhost-5000-us-east-1"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(working_copy_dir(PROJECT_DIR, ENDPOINT, "eu-west-1") / "app.py")],
        cwd=REPO_DIR,
    )
    assert ignored.returncode == 0  # git-ignored: nothing in it reaches a commit


def test_the_working_copy_is_wired_to_its_api_and_the_project_stays_as_committed(tmp_path):
    project = copy_project(tmp_path)
    before = tracked(project)
    copy = prepare(project, ENDPOINT, "ap-southeast-1", TEST_STAGE)
    assert (copy / "chalicelib" / "processor.py").read_text() == (project / "chalicelib" / "processor.py").read_text()
    assert (copy / ".chalice" / "deployments").resolve() == (project / ".chalice" / "deployments").resolve()
    assert tracked(copy) == before  # a first deploy: nothing to wire yet

    (copy / ".chalice" / "deployed").mkdir(exist_ok=True)
    (copy / ".chalice" / "deployed" / f"{TEST_STAGE}.json").write_text(json.dumps(deployed_state("ap-southeast-1")))
    (project / "chalicelib" / "processor.py").write_text("# edited\n")
    copy = prepare(project, ENDPOINT, "ap-southeast-1", TEST_STAGE)

    assert tracked(project) == before
    assert (copy / "chalicelib" / "processor.py").read_text() == "# edited\n"  # each run copies afresh
    stage = load_stage(TEST_STAGE, copy)
    assert (
        stage.environment("chat_processor")["WEBSOCKET_DOMAIN"] == f"{API_ID}.execute-api.ap-southeast-1.amazonaws.com"
    )
    scoped = json.dumps(json.loads(stage.policy_path("chat_processor").read_text()))
    assert f"arn:aws:execute-api:ap-southeast-1:123456789012:{API_ID}/api/POST/@connections/*" in scoped


def test_progress_lines_name_the_projects_files_not_the_copys(tmp_path):
    copy = working_copy_dir(tmp_path, ENDPOINT, "us-east-1")
    line = f"fix it in {copy}/.chalice/config.json; state in {copy}/.chalice/deployed/chalice-test.json"
    assert shown_as_project(line, copy, tmp_path) == (
        f"fix it in {tmp_path}/.chalice/config.json; state in {copy}/.chalice/deployed/chalice-test.json"
    )
    assert shown_as_project(line, None, tmp_path) == line


# --- "the same resources as before" only when true --------------------------------

RECORDS = st.dictionaries(
    st.sampled_from(["chat_processor", "websocket_connect", "websocket_api", "chat_processor-sqs-event-source"]),
    st.fixed_dictionaries({"resource_type": st.sampled_from(["lambda_function", "websocket_api"]), "id": st.uuids()}),
    min_size=1,
)


@settings(max_examples=60, deadline=None)
@given(before=RECORDS, renew=st.sets(st.integers(0, 3)), recreated=st.booleans())
def test_same_resources_is_said_only_when_no_resource_was_created_afresh(before, renew, recreated):
    after = {
        name: {**record, "id": f"new-{record['id']}"} if index in renew else dict(record)
        for index, (name, record) in enumerate(before.items())
    }
    lines = ["Creating deployment package.", "Updating lambda function: x"]
    lines += ["Creating lambda function: shopping-assistant-api-chalice-test-chat_processor"] if recreated else []
    status, detail = resource_changes(before, after, lines)
    fresh = recreated or any(index in renew for index in range(len(before)))
    assert (status == OK) == (not fresh)
    assert ("the same resources as before" in detail) == (not fresh)
    if recreated:
        assert "chalice created afresh: lambda function" in detail


# --- deploy.py: its help, and the project it deploys ---------------------------------


def test_project_dir_is_in_the_help():
    done = run_script("deploy.py", "--help")
    text = " ".join(done.stdout.split())  # argparse wraps the help to the terminal's width
    assert "--project-dir PROJECT_DIR" in text and "the chalice_app/ this script is in" in text


def test_deploy_py_deploys_the_project_it_is_run_from(tmp_path):
    """A copy of chalice_app/ whose config.json has a stage of its own: the copy's deploy.py finds it,
    whatever tree the virtualenv's editable install points at."""
    copy = copy_project(tmp_path)
    for name in ("infra", "scripts"):
        shutil.copytree(PROJECT_DIR / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    config = json.loads((copy / ".chalice" / "config.json").read_text())
    config["stages"]["only-in-copy"] = config["stages"][TEST_STAGE]
    (copy / ".chalice" / "config.json").write_text(json.dumps(config))
    done = subprocess.run(
        [sys.executable, str(copy / "scripts" / "deploy.py"), "--stage", "only-in-copy", "--validate-only",
         "--endpoint-url", f"http://127.0.0.1:{free_port()}", "--region", "us-east-1"],
        env=tool_env(), capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert 'stage "only-in-copy" is not in' not in done.stdout, done.stdout
    assert f"{copy.resolve()}/.chalice/config.json [only-in-copy]" in done.stdout, done.stdout


# --- make cloud: ports, hint, temporary folders --------------------------------------


def cloud_command(port: int, *extra: str) -> list:
    return [sys.executable, str(SCRIPTS / "local.py"), "--cloud", "--port", str(port), "--quiet", *extra]


def test_a_taken_gateway_port_is_named_before_anything_starts():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        gateway = taken.getsockname()[1]
        done = subprocess.run(
            cloud_command(free_port(), "--gateway-port", str(gateway)),
            env=tool_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"port {gateway} (--gateway-port) is already in use" in done.stderr
    assert "default --port + 1" in done.stderr and "AWS endpoint" not in done.stdout


def run_until_ready_then_stop(command: list, temp: Path) -> list:
    """Start ``command`` with TMPDIR=temp, wait for "Ready.", Ctrl-C it; its output lines."""
    process = subprocess.Popen(
        command,
        env=tool_env(TMPDIR=str(temp), PATH="/usr/bin:/bin"),
        cwd=REPO_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=die_with_parent,
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Ready."):
                break
        assert any(temp.iterdir()), "".join(lines)  # unpacked code (and logs) live there meanwhile
    finally:
        process.send_signal(signal.SIGINT)
        lines += process.communicate(timeout=60)[0].splitlines(keepends=True)
    assert process.returncode == 0, "".join(lines)
    return lines


def test_make_run_leaves_no_temporary_folder(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    command = [sys.executable, str(SCRIPTS / "local.py"), "--port", str(free_port()), "--quiet", "--no-prewarm"]
    run_until_ready_then_stop([*command, "--log-dir", str(tmp_path / "logs")], temp)
    assert list(temp.iterdir()) == []


def test_make_cloud_hints_a_deploy_command_that_works_and_leaves_no_temporary_folder(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    lines = run_until_ready_then_stop(cloud_command(free_port(), "--gateway-port", str(free_port())), temp)
    assert list(temp.iterdir()) == [], "".join(lines)

    hint = next(line for line in lines if line.startswith("Deploy into it: ")).removeprefix("Deploy into it: ")
    python, script = hint.split()[:2]
    assert os.path.samefile(os.path.join(REPO_DIR, python), sys.executable)
    done = subprocess.run(
        [python, script, "--help"], cwd=REPO_DIR, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True
    )
    assert done.returncode == 0 and "--endpoint-url" in done.stdout, done.stderr
