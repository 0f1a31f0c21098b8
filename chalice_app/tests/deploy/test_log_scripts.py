"""scripts/tail_websocket_logs.sh and monitor_all_logs.sh: the local files, and the aws CLI calls."""

import contextlib
import json
import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

import boto3
import pytest

from tests.deploy.conftest import SCRIPTS
from tests.support import REPO_DIR, threaded_moto_server

APP = "shopping-assistant-api"


def log_file(directory, function, stage="local"):
    return directory / f"aws-lambda-{APP}-{stage}-{function}.jsonl"


def write(path, **fields):
    with open(path, "a") as handle:
        handle.write(json.dumps(fields) + "\n")


def run(script, *args, env=None, timeout=30):
    return subprocess.run(
        ["bash", str(SCRIPTS / script), *args], capture_output=True, text=True, timeout=timeout, env=env
    )


class Follower:
    """A script that runs until stopped, its output read line by line."""

    def __init__(self, *command):
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def read(self, count, timeout=10):
        found, deadline = [], time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                found.append(self.lines.get(timeout=0.2))
        return found

    def stop(self):
        """TERM to the script alone; it must stop its followers (tail, the loops) itself."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.1)
        os.killpg(self.process.pid, signal.SIGKILL)
        return False


def test_monitor_follows_every_local_function_file_with_prefixes(tmp_path):
    follower = Follower("bash", str(SCRIPTS / "monitor_all_logs.sh"), "--local", "--logs-dir", str(tmp_path))
    try:
        time.sleep(1)  # the followers are waiting for files that do not exist yet
        write(log_file(tmp_path, "websocket_connect"), timestamp=1, message="connected")
        write(log_file(tmp_path, "chat_processor"), timestamp=2, message="answered")
        lines = follower.read(2)
        write(log_file(tmp_path, "websocket_message"), timestamp=3, message="queued")
        lines += follower.read(1)
    finally:
        clean = follower.stop()
    assert sorted(lines) == sorted(
        [
            '[websocket_connect] {"timestamp": 1, "message": "connected"}',
            '[chat_processor] {"timestamp": 2, "message": "answered"}',
            '[websocket_message] {"timestamp": 3, "message": "queued"}',
        ]
    )
    assert clean, "tail or a reader loop outlived the script"


def test_tail_websocket_logs_since_keeps_recent_lines_of_the_websocket_functions(tmp_path):
    now_ms = int(time.time() * 1000)
    for function in ("websocket_connect", "websocket_disconnect", "chat_processor"):
        write(log_file(tmp_path, function), timestamp=now_ms - 3_600_000, message="an hour ago")
        write(log_file(tmp_path, function), timestamp=now_ms - 60_000, message="a minute ago")
    done = run("tail_websocket_logs.sh", "--local", "--logs-dir", str(tmp_path), "--since", "10m", "--no-follow")
    assert done.returncode == 0, done.stderr
    lines = sorted(done.stdout.splitlines())
    assert [line.split(" ", 1)[0] for line in lines] == ["[websocket_connect]", "[websocket_disconnect]"]
    assert all("a minute ago" in line for line in lines)


def test_local_files_of_another_stage(tmp_path):
    write(log_file(tmp_path, "websocket_message", stage="api"), timestamp=1, message="hi")
    done = run("tail_websocket_logs.sh", "--local", "--stage", "api", "--logs-dir", str(tmp_path), "--no-follow")
    assert done.stdout == '[websocket_message] {"timestamp": 1, "message": "hi"}\n'


def aws_cli(tmp_path, version):
    """An `aws` on PATH that prints its arguments, standing in for the AWS CLI."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = f'#!/bin/sh\nif [ "$1" = --version ]; then echo "aws-cli/{version} Python/3.11"; else echo "aws $*"; fi\n'
    (bin_dir / "aws").write_text(script)
    (bin_dir / "aws").chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


@pytest.fixture
def fake_aws(tmp_path):
    return aws_cli(tmp_path, "2.17.0")


def test_cloudwatch_tail_of_the_websocket_functions(fake_aws):
    done = run(
        "tail_websocket_logs.sh", "--stage", "dev", "--since", "5m", "--region", "eu-west-1", "--no-follow",
        env=fake_aws,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == [
        f"[{fn}] aws logs tail /aws/lambda/{APP}-dev-{fn} --format short --since 5m --region eu-west-1"
        for fn in ("websocket_connect", "websocket_disconnect", "websocket_message")
    ]


def test_monitor_all_follows_the_processor_too(fake_aws):
    done = run("monitor_all_logs.sh", "--stage", "prod", "--profile", "ops", env=fake_aws)
    assert done.returncode == 0, done.stderr
    lines = sorted(done.stdout.splitlines())
    assert len(lines) == 4
    assert (
        f"[chat_processor] aws logs tail /aws/lambda/{APP}-prod-chat_processor --format short --since 10m "
        "--profile ops --follow" in lines
    )


def test_usage_errors_say_what_to_pass(fake_aws):
    done = run("monitor_all_logs.sh", env=fake_aws)
    assert done.returncode == 2 and "--stage is required (or --local" in done.stderr
    done = run("monitor_all_logs.sh", "--stage", "dev", "--since", "ten", env=fake_aws)
    assert done.returncode == 2 and "--since takes a number" in done.stderr


def test_an_aws_on_path_that_is_not_the_aws_cli_is_named(tmp_path):
    done = run("monitor_all_logs.sh", "--stage", "dev", env=aws_cli(tmp_path, "0.1"))
    assert done.returncode == 2 and "not an AWS CLI" in done.stderr and "aws-cli/0.1" in done.stderr


VENV_AWS = Path(REPO_DIR) / ".venv" / "bin" / "aws"


@pytest.mark.skipif(not VENV_AWS.exists(), reason="make install puts the AWS CLI v1 in .venv/bin")
def test_the_installed_aws_cli_v1_reads_and_follows_cloudwatch_of_an_emulated_region():
    """No `aws` on PATH: the script takes the venv's (v1, no `logs tail`) and polls
    filter-log-events, with --endpoint-url; each event once, filters kept, new ones followed."""
    with threaded_moto_server() as endpoint:
        logs = boto3.client("logs", endpoint_url=endpoint, region_name="eu-west-1")
        now = int(time.time() * 1000)

        def put(function, *messages, at=now):
            group = f"/aws/lambda/{APP}-dev-{function}"
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_group(logGroupName=group)
                logs.create_log_stream(logGroupName=group, logStreamName="s")
            events = [{"timestamp": at + index, "message": text + "\n"} for index, text in enumerate(messages)]
            logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)

        put("chat_processor", "START m-1", "reply for m-1")
        put("websocket_message", "ack m-1", "ack m-2")
        env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing"}  # fmt: skip
        where = ("--stage", "dev", "--region", "eu-west-1", "--endpoint-url", endpoint)
        done = run("monitor_all_logs.sh", *where, "--no-follow", env=env)
        assert done.returncode == 0, done.stderr
        assert sorted(done.stdout.splitlines()) == sorted(
            ["[chat_processor] START m-1", "[chat_processor] reply for m-1", "[websocket_message] ack m-1",
             "[websocket_message] ack m-2"]
        )  # fmt: skip
        assert "aws-cli/1." in done.stderr
        done = run("tail_websocket_logs.sh", *where, "--no-follow", "--message", "m-2", env=env)
        assert done.stdout.splitlines() == ["[websocket_message] ack m-2"], done.stdout + done.stderr

        follower = Follower("env", "-i", *(f"{k}={v}" for k, v in env.items()), "bash",
                            str(SCRIPTS / "monitor_all_logs.sh"), *where, "--functions", "chat_processor")  # fmt: skip
        try:
            assert sorted(follower.read(2)) == ["[chat_processor] START m-1", "[chat_processor] reply for m-1"]
            put("chat_processor", "later line", at=now + 5000)
            assert follower.read(1) == ["[chat_processor] later line"]
            assert follower.read(1, timeout=3) == []  # nothing twice
        finally:
            assert follower.stop()


def app_line(path, timestamp, **event):
    """A line as the local runtime writes it: the app's JSON as the "message" string."""
    write(path, timestamp=timestamp, level="INFO", type="LOG", message=json.dumps(event))


def test_message_and_session_filters_keep_the_lines_that_carry_the_ids(tmp_path):
    message, other = "9e39cf13-2ffa-4e01-9dea-39997de8006e", "11111111-2ffa-4e01-9dea-39997de8006e"
    app_line(log_file(tmp_path, "websocket_message"), 1, event="queued", message_id=message, session_id="s1")
    app_line(log_file(tmp_path, "websocket_message"), 2, event="queued", message_id=other, session_id="s1")
    # A Powertools line: the ids are top-level keys.
    write(log_file(tmp_path, "chat_processor"), timestamp="2026-12-01 10:00:00,123+0000", event="answered",
          message_id=message, session_id="s10")  # fmt: skip
    app_line(log_file(tmp_path, "chat_processor"), 4, event="answered", message_id=message + "0")
    write(log_file(tmp_path, "chat_processor"), timestamp=5, type="REPORT", message="RequestId: 1 Duration: 3 ms")

    def shown(*args):
        done = run("monitor_all_logs.sh", "--local", "--logs-dir", str(tmp_path), "--no-follow", *args)
        assert done.returncode == 0, done.stderr
        return sorted(line.split(" ", 1)[0] + " " + str(json.loads(line.split(" ", 1)[1])["timestamp"])
                      for line in done.stdout.splitlines())  # fmt: skip

    assert shown("--message", message) == ["[chat_processor] 2026-12-01 10:00:00,123+0000", "[websocket_message] 1"]
    assert shown("--session", "s1") == ["[websocket_message] 1", "[websocket_message] 2"]
    assert shown("--session", "s1", "--message", other) == ["[websocket_message] 2"]
    assert len(shown()) == 5


def test_cloudwatch_filters_become_a_filter_pattern(fake_aws):
    done = run(
        "tail_websocket_logs.sh", "--stage", "dev", "--no-follow", "--message", "m-1", "--session", "s-2", env=fake_aws
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3
    assert all(line.endswith('--since 10m --filter-pattern "m-1" "s-2"') for line in lines), lines
