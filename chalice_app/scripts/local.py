#!/usr/bin/env python
"""Run shopping-assistant-api locally: API Gateway WebSockets, @connections, the
Lambda SQS poller and Lambda itself (one isolated process per execution environment)
emulated around the unchanged Chalice app, on a moto server.

    python chalice_app/scripts/local.py [--port 8000] [--stage api] [--concurrency 10]
    python chalice_app/scripts/local.py --cloud [--port 4566]     # the deployed mode (make cloud)

Edits to app.py, chalicelib/ or .chalice/ are picked up by new invocations (one line
is printed per reload); open WebSocket connections stay open.

``--cloud`` starts only an emulated region (localcloud.cloud): the moto server with IAM
enforced on --port (it prints ``AWS endpoint: http://127.0.0.1:P``), the Lambda service,
the SQS event sources and API Gateway for every WebSocket API deployed into it with
``scripts/deploy.py --stage chalice-test --endpoint-url http://127.0.0.1:P``.

Ctrl-C (or SIGTERM) stops cleanly: new connections and messages are refused at once,
acked messages in flight get ``--stop-grace`` seconds (default 5) to finish, every one
still unfinished is told ``service_unavailable`` (kept for a resume), and the console
prints how many were answered, told and lost (localcloud.shutdown). ``make run`` calls this.
Exit status: 0 after Ctrl-C, 2 when the port is taken, 3 when the AWS emulator (the moto server) died: its state
is gone with it, so the stack says so on stderr and stops rather than restart silently.
"""

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys

from localcloud.gateway import Limits
from localcloud.shutdown import DEFAULT_GRACE_SECONDS
from localcloud.stack import EMULATOR_EXIT_CODE, LocalStack, PortInUseError, StackOptions

WEB_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "web")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="default 8000 ($PORT); with --cloud the AWS endpoint's, default 4566")
    parser.add_argument("--cloud", action="store_true", help="the deployed mode: an emulated region to deploy into")
    parser.add_argument("--gateway-port", type=int, default=0, help="with --cloud: the gateway port (--port + 1)")
    parser.add_argument(
        "--region",
        default="us-east-1",
        help="with --cloud: the home region (logs at the top of --log-dir); every region is served",
    )
    parser.add_argument("--stage", default="api", help="API Gateway stage, the path of the WebSocket URL")
    parser.add_argument("--chalice-stage", default="local", help=".chalice/config.json stage of the functions")
    parser.add_argument("--project-dir", default="", help="the chalice project to run (default chalice_app/)")
    parser.add_argument("--concurrency", type=int, default=10, help="execution environments per function (10)")
    parser.add_argument(
        "--idle-environment",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="stop warm environments idle this long (default 300)",
    )
    parser.add_argument("--max-environments", type=int, default=12, help="all functions together (12; 0: no cap)")
    parser.add_argument("--no-prewarm", action="store_true", help="no warm environment per function at start")
    parser.add_argument("--moto-port", type=int, default=0, help="port for the moto server (default: a free one)")
    parser.add_argument("--moto-endpoint", help="use this running moto server instead of starting one")
    parser.add_argument(
        "--log-dir",
        default=None,
        help="where the per-function log files go (default logs/; with --cloud a temporary folder removed on exit)",
    )
    parser.add_argument("--pollers", type=int, help="concurrent SQS pollers (default 4)")
    parser.add_argument("--visibility-timeout", type=int, help="queue visibility timeout in seconds")
    parser.add_argument("--idle-timeout", type=float, default=Limits.idle_seconds, help="seconds (default 600)")
    parser.add_argument("--max-connection", type=float, default=Limits.max_connection_seconds, help="seconds")
    parser.add_argument("--frame-limit", type=int, default=Limits.frame_bytes, help="bytes (default 32768)")
    parser.add_argument("--message-limit", type=int, default=Limits.message_bytes, help="bytes (default 131072)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra app environment")
    parser.add_argument("--quiet", action="store_true", help="no per-invocation lines on the console")
    parser.add_argument(
        "--stop-grace",
        type=float,
        default=DEFAULT_GRACE_SECONDS,
        help=f"Ctrl-C: seconds messages in flight may finish before they are told service_unavailable"
        f" (default {DEFAULT_GRACE_SECONDS:g})",
    )
    return parser.parse_args(argv)


def options_from(args: argparse.Namespace) -> StackOptions:
    environment = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--env takes NAME=VALUE, got {item!r}")
        environment[name] = value
    if args.stop_grace < 0:
        raise SystemExit(f"--stop-grace takes seconds (0 or more), got {args.stop_grace:g}")
    options = StackOptions(
        host=args.host,
        port=args.port or int(os.environ.get("PORT", 8000)),
        stage=args.stage,
        chalice_stage=args.chalice_stage,
        moto_port=args.moto_port,
        moto_endpoint=args.moto_endpoint,
        pollers=args.pollers,
        visibility_timeout=args.visibility_timeout,
        concurrency=args.concurrency,
        idle_environment_seconds=args.idle_environment,
        project_dir=args.project_dir,
        prewarm=not args.no_prewarm,
        max_environments=args.max_environments or None,
        limits=Limits(args.frame_limit, args.message_limit, args.idle_timeout, args.max_connection),
        environment=environment,
        verbose=not args.quiet,
        static_dir=WEB_DIR if os.path.isdir(WEB_DIR) else None,
        stop_grace_seconds=args.stop_grace,
    )
    if args.log_dir:
        options.log_dir = args.log_dir
    return options


async def serve(options: StackOptions) -> int:
    """Run the stack until Ctrl-C (0) or until it fails (EMULATOR_EXIT_CODE)."""
    stack = LocalStack(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stack.start()
    print("shopping-assistant-api local stack is up")
    for line in stack.describe():
        print("  " + line)
    print("Ready. Ctrl-C to stop.", flush=True)
    try:
        await first_of(stop.wait(), stack.failed.wait())
        if stack.failure is not None:
            print(f"error: {stack.failure}; the stack's state is gone with it, stopping", file=sys.stderr, flush=True)
            # Clients and /health see the failure for a moment before the sockets close.
            await first_of(stop.wait(), asyncio.sleep(options.failed_grace_seconds))
    finally:
        print("Stopping: new connections and messages are refused...", flush=True)
        await stop_cleanly(stack, options.stop_grace_seconds)
    return 0 if stack.failure is None else EMULATOR_EXIT_CODE


async def stop_cleanly(stack, grace: float) -> None:
    """Tell every acked message how it ends (answered in the grace, or service_unavailable), then
    stop; ``stack`` is a LocalStack or (``--cloud``) a CloudRegion."""
    try:
        report = await stack.shutdown(grace, notify=lambda line: print(line, flush=True))
    except Exception as exc:  # the stop itself goes on; the count is what is missing
        print(f"error: the clean stop failed ({type(exc).__name__}: {exc}); stopping anyway", file=sys.stderr)
        report = None
    await stack.stop()
    print(report.line() if report is not None else "Stopped.", flush=True)


async def serve_cloud(args: argparse.Namespace) -> int:
    """Run the emulated region until Ctrl-C (0) or until its moto server dies (EMULATOR_EXIT_CODE)."""
    from localcloud.cloud import CloudOptions, CloudRegion

    options = CloudOptions(
        host=args.host,
        port=args.port or 4566,
        gateway_port=args.gateway_port,
        region=args.region,
        log_dir=args.log_dir or "",
        concurrency=args.concurrency,
        idle_seconds=args.idle_environment,
        max_environments=args.max_environments or None,
        limits=Limits(args.frame_limit, args.message_limit, args.idle_timeout, args.max_connection),
        verbose=not args.quiet,
    )
    gateway_port = options.gateway_port or options.port + 1
    taken = ports_taken(options.host, [("--port", options.port), ("--gateway-port", gateway_port)])
    if taken:
        print(f"error: {taken}", file=sys.stderr)
        return 2
    cloud = CloudRegion(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await cloud.start()
        print("shopping-assistant-api emulated region is up (IAM enforced)")
        for line in cloud.describe():
            print("  " + line)
        print(f"Deploy into it: {deploy_hint(cloud.aws_endpoint)}")
        print("Ready. Ctrl-C to stop.", flush=True)
        await first_of(stop.wait(), cloud.failed.wait())
        if cloud.failure is not None:
            print(f"error: {cloud.failure}; the region's state is gone with it, stopping", file=sys.stderr, flush=True)
    finally:
        print("Stopping: new connections and messages are refused...", flush=True)
        await stop_cleanly(cloud, args.stop_grace)
    return 0 if cloud.failure is None else EMULATOR_EXIT_CODE


def deploy_hint(endpoint: str) -> str:
    """The deploy command, with this Python (the venv's: it has the project installed), relative when
    it sits under the current directory, so it works without an activated venv."""
    python = sys.executable
    relative = os.path.relpath(python)
    python = relative if not relative.startswith("..") else python
    script = os.path.relpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "deploy.py"))
    return f"{python} {script} --stage chalice-test --endpoint-url {endpoint} [--region REGION]"


def ports_taken(host: str, ports) -> str:
    """Why the listed ``(flag, port)`` pairs cannot all be listened on ("" when they can)."""
    seen, problems = set(), []
    for flag, port in ports:
        if port in seen:
            problems.append(f"{flag} {port} is the same port as another one: pick two different ports")
            continue
        seen.add(port)
        try:
            _check_port(host, port)
        except OSError:
            problems.append(f"port {port} ({flag}) is already in use on {host}: stop what uses it or pick another")
    if problems:
        problems.append(
            "the emulated region needs two free ports: the AWS endpoint (--port) "
            "and its gateway (--gateway-port, default --port + 1)"
        )
    return "; ".join(problems)


def _check_port(host: str, port: int) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))


async def first_of(*waits) -> None:
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("botocore", "boto3", "urllib3", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = parse_args(argv)
    if args.cloud:
        return asyncio.run(serve_cloud(args))
    options = options_from(args)
    try:
        return asyncio.run(serve(options))
    except PortInUseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
