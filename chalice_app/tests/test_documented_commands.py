"""Every shell command that README.md and docs/*.md show, run as a newcomer runs it.

The commands are read from the fenced ``sh``/``bash``/``shell`` blocks, and from inline code
in the prose that starts like a command (``make …``, ``.venv/bin/…``, ``python …``, a
script's path, maybe after NAME=value words), so a command added to the docs later is
covered without touching this file. Each one runs as a subprocess from
a fresh shell: ``env -i`` with only PATH and HOME, the repository root as the working
directory (a ``cd DIR`` line, or a leading ``cd DIR &&``, moves the later lines of its block,
as in a terminal; a line ending in ``&`` keeps its ``cd`` to itself).

How a command runs is chosen by the first rule of ``RULES`` that matches it:

- ``make`` lines run with ``-n`` (a dry run: they must name real targets and files);
- a short real run against one local stack started for this module, where the command can
  make one without AWS: the terminal client sends one message on stdin and prints the reply;
  the token script mints a token that ``chalicelib.auth`` accepts; the phase scripts pass;
  ``queue_tool.py --local`` and the log scripts' ``--local`` read that stack; ``trace.py``
  without ``--stage`` traces a message just sent to it (for ``MESSAGE_ID``); the catalog
  generator checks the committed file (``--check``, so the work tree is not rewritten);
- anything else (deploying, AWS, the benchmark) runs with ``--help`` appended: it must
  start, import everything and exit 0, which is what a renamed or shadowed module breaks.

The documented address ``127.0.0.1:8000`` is replaced by the test stack's.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, List, Optional

import pytest
from websockets.sync.client import connect

from chalicelib import auth
from tests.support import REPO_DIR, LocalStackProcess

pytestmark = pytest.mark.timeout(300)

REPO = Path(REPO_DIR)
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
FENCE = re.compile(r"^\s*```\s*([\w-]*)\s*$")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
OPERATOR = re.compile(r"^[();<>|&]+$")
INLINE_CODE = re.compile(r"`([^`]+)`")
INLINE_COMMAND = re.compile(
    r"^(?:[A-Za-z_][A-Za-z0-9_]*=\S+\s+)*(?:make(?:\s|$)|\.{0,2}/?\.venv/bin/|python3? |chalice_app/\S+\.(?:py|sh)\s)"
)
DOCUMENTED_STACK = "127.0.0.1:8000"
FRESH_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
TIMEOUT = 60


@dataclass
class Command:
    """One documented command line (continuations joined, comment dropped)."""

    where: str  # README.md:24
    text: str  # as documented
    cd: Optional[str]  # a leading ``cd DIR &&`` or a ``cd DIR`` line
    background: bool  # ends in ``&``
    assignments: List[str]  # leading NAME=value words
    argv: List[str]  # the rest: the program, its arguments, maybe more operators

    @property
    def program(self) -> str:
        return self.argv[0] if self.argv else ""

    def env_value(self, name: str) -> Optional[str]:
        for item in self.assignments:
            key, _, value = item.partition("=")
            if key == name:
                return value
        return None


@dataclass
class Step:
    """How one command runs here: the words, stdin, and what must hold afterwards."""

    command: Command
    stdin: str = ""
    checks: List[Callable[[subprocess.CompletedProcess], None]] = field(default_factory=list)


def without_comment(text: str) -> str:
    """The line up to its comment: a '#' that starts a word outside quotes, as in bash."""
    quote = None
    for index, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1].isspace()):
            return text[:index]
    return text


def split_words(text: str) -> List[str]:
    lexer = shlex.shlex(without_comment(text), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    return list(lexer)


def parse_line(where: str, text: str) -> Optional[Command]:
    words = split_words(text)
    if not words:
        return None
    background = words[-1] == "&"
    if background:
        words = words[:-1]
    cd = None
    if words[0] == "cd" and len(words) >= 2:
        cd = words[1]
        words = words[3:] if len(words) > 2 and words[2] == "&&" else words[2:]
    assignments = []
    while words and ASSIGNMENT.match(words[0]):
        assignments.append(words.pop(0))
    return Command(where, text, cd, background, assignments, words)


def documented_commands(path: Path) -> List[List[Command]]:
    """The commands of one Markdown file: a list per shell block, and one per inline command."""
    blocks: List[List[Command]] = []
    lines = path.read_text().splitlines()
    in_block, shell, pending, start = False, False, "", 0
    for number, line in enumerate(lines, 1):
        fence = FENCE.match(line)
        if fence:
            in_block = not in_block
            shell = in_block and fence.group(1).lower() in SHELL_LANGUAGES
            if shell:
                blocks.append([])
            continue
        if not in_block:
            for span in INLINE_CODE.findall(line):
                if not INLINE_COMMAND.match(span):
                    continue  # prose in backticks, not a command (it may not even parse as one)
                command = parse_line(f"{path.relative_to(REPO)}:{number}", span)
                if command is not None and len(command.argv) > 1:
                    blocks.append([command])
            continue
        if not shell:
            continue
        text = line.strip()
        if text.startswith("$ "):
            text = text[2:]
        if not pending:
            start = number
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        command = parse_line(f"{path.relative_to(REPO)}:{start}", pending + text)
        pending = ""
        if command is not None:
            blocks[-1].append(command)
    return [block for block in blocks if block]


ALL_BLOCKS = [block for path in DOCUMENTS for block in documented_commands(path)]


# --- how each command runs ----------------------------------------------------


def exits_0(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, f"exit {done.returncode}"


def says(pattern: str) -> Callable[[subprocess.CompletedProcess], None]:
    def check(done: subprocess.CompletedProcess) -> None:
        assert re.search(pattern, done.stdout + done.stderr), f"no {pattern!r} in the output"

    return check


def with_argv(command: Command, argv: List[str]) -> Command:
    return replace(command, argv=argv)


def dry_run_make(command: Command, stack: LocalStackProcess) -> Step:
    return Step(with_argv(command, [command.program, "-n", *command.argv[1:]]), checks=[exits_0])


def chat_one_message(command: Command, stack: LocalStackProcess) -> Step:
    return Step(
        command,
        stdin="running shoes under $100\n",
        checks=[exits_0, says(r"connected to ws://"), says(r"\(queued\)"), says(r"assistant> \S")],
    )


def mint_a_token(command: Command, stack: LocalStackProcess) -> Step:
    secret = command.env_value("AUTH_TOKEN_SECRET")
    assert secret, f"{command.where}: the token command sets no AUTH_TOKEN_SECRET"

    def token_is_accepted(done: subprocess.CompletedProcess) -> None:
        verdict = auth.check(done.stdout.strip(), (), secret)
        assert verdict.allowed, f"the printed token is refused: {verdict.reason}"

    return Step(command, checks=[exits_0, token_is_accepted])


def phase_against_stack(command: Command, stack: LocalStackProcess) -> Step:
    return Step(with_argv(command, [*command.argv, "--uri", stack.websocket_url]), checks=[exits_0, says("PASS")])


def queue_of_stack(command: Command, stack: LocalStackProcess) -> Step:
    argv = [word.replace("http://127.0.0.1:PORT", stack.moto_url) for word in command.argv]
    return Step(with_argv(command, argv), checks=[exits_0, says("ChatProcessingQueue")])


def logs_of_stack(command: Command, stack: LocalStackProcess) -> Step:
    argv = [*command.argv, "--no-follow", "--logs-dir", stack.log_dir]
    return Step(with_argv(command, argv), checks=[exits_0, says(r"following \d+ local log files")])


def trace_a_sent_message(command: Command, stack: LocalStackProcess) -> Step:
    with connect(stack.websocket_url) as ws:
        ws.send(json.dumps({"action": "sendMessage", "message": "running shoes under $100"}))
        while (frame := json.loads(ws.recv(timeout=30))).get("type") != "ack":
            pass
    message_id = frame["message_id"]
    deadline = time.monotonic() + 10
    while not any(line.get("message", "").count(message_id) for line in stack.log_lines("websocket_message")):
        assert time.monotonic() < deadline, f"{message_id} never reached the logs"
        time.sleep(0.1)
    argv = [word.replace("MESSAGE_ID", message_id) for word in command.argv]
    return Step(with_argv(command, [*argv, "--log-dir", stack.log_dir]), checks=[exits_0, says(r"acked \+0 ms")])


def check_catalog(command: Command, stack: LocalStackProcess) -> Step:
    argv = command.argv if "--check" in command.argv else [*command.argv, "--check"]
    return Step(with_argv(command, argv), checks=[exits_0, says("up to date")])


def help_only(command: Command, stack: LocalStackProcess) -> Step:
    return Step(with_argv(command, [*command.argv, "--help"]), checks=[exits_0, says(r"\S")])


def matches(pattern: str) -> Callable[[Command], bool]:
    return lambda command: re.search(pattern, " ".join(command.argv)) is not None


RULES = [
    (lambda command: os.path.basename(command.program) == "make", dry_run_make),
    (matches(r"scripts/chat\.py"), chat_one_message),
    (matches(r"scripts/auth_token\.py"), mint_a_token),
    (
        lambda c: matches(r"tests/test_websocket_(basic|flow)\.py")(c) and not c.env_value("WEBSOCKET_TEST_URI"),
        phase_against_stack,
    ),
    (matches(r"scripts/queue_tool\.py .*--local"), queue_of_stack),
    (matches(r"scripts/(monitor_all_logs|tail_websocket_logs)\.sh .*--local"), logs_of_stack),
    (lambda c: matches(r"scripts/trace\.py")(c) and "--stage" not in c.argv, trace_a_sent_message),
    (matches(r"scripts/generate_catalog\.py"), check_catalog),
    (lambda command: True, help_only),
]


def plan(command: Command, stack: LocalStackProcess) -> Step:
    for applies, make_step in RULES:
        if applies(command):
            return make_step(command, stack)
    raise AssertionError("the last rule matches everything")


def shell_line(command: Command, stack: LocalStackProcess) -> str:
    words = [*command.assignments, *command.argv]
    quoted = [word if OPERATOR.match(word) else shlex.quote(word) for word in words]
    return " ".join(quoted).replace(DOCUMENTED_STACK, f"127.0.0.1:{stack.port}")


def installed(program: str, cwd: Path) -> bool:
    if "/" in program:
        return True  # a path: it must exist, and running it says so if it does not
    return shutil.which(program, path=FRESH_ENV["PATH"]) is not None


# --- the tests ----------------------------------------------------------------


@pytest.fixture(scope="module")
def stack():
    with LocalStackProcess(extra_args=["--quiet"]) as running:
        yield running


def test_the_docs_show_the_commands_a_newcomer_needs():
    shown = " ".join(" ".join(command.argv) for block in ALL_BLOCKS for command in block)
    for needed in ("make run", "make test", "scripts/chat.py", "scripts/auth_token.py", "scripts/deploy.py"):
        assert needed in shown


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=[block[0].where for block in ALL_BLOCKS])
def test_documented_command_runs_from_a_fresh_shell(block: List[Command], stack: LocalStackProcess):
    cwd = REPO
    for command in block:
        here = (cwd / command.cd).resolve() if command.cd else cwd
        if not command.background:
            cwd = here
        if not command.argv:
            continue
        if not installed(command.program, here):
            print(f"{command.where}: {command.program} is not installed here; not run")
            continue
        step = plan(command, stack)
        line = shell_line(step.command, stack)
        done = subprocess.run(
            ["env", "-i", *(f"{name}={value}" for name, value in FRESH_ENV.items()), "bash", "-c", line],
            cwd=here,
            input=step.stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        for check in step.checks:
            try:
                check(done)
            except AssertionError as failed:
                raise AssertionError(
                    f"{command.where}: `{command.text}`\nran as `{line}` in {here}\n{failed}\n"
                    f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
                ) from None
