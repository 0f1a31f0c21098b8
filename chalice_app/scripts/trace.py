#!/usr/bin/env python3
"""One chat message's timeline across the functions, from their logs (infra/timeline.py).

    scripts/trace.py MESSAGE_ID                  # the local runtime's logs/ (make run)
    scripts/trace.py --last 5                    # the last 5 messages
    scripts/trace.py MESSAGE_ID --stage dev      # CloudWatch Logs: FilterLogEvents on the four log groups
    scripts/trace.py --last 3 --stage dev --since 2h --region eu-west-1 --profile ops

Prints, per message:

    acked +0 ms -> queued -> picked up +412 ms (queue wait) -> first chunk +1.9 s -> response +37.2 s

then its queue wait, processing and delivery times, the attempt, drops and errors.
--json prints the timelines as JSON instead (marks in epoch ms, phases in ms).
Exit status: 0 found, 1 the message (or any message, with --last) is not in the logs,
2 bad usage or an AWS error.
"""

import argparse
import json
import os
import sys
import time
from typing import List

from botocore.exceptions import BotoCoreError, ClientError

from infra.logsource import LocalLogs, cloudwatch_entries, term_pattern
from infra.stage import FUNCTIONS, StageError, Target, load_stage
from infra.timeline import Entry, Timeline, build, format_timeline

DEFAULT_LOG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "logs")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def since_seconds(text: str) -> int:
    """``30s``, ``10m``, ``2h``, ``1d`` in seconds (as monitor_all_logs.sh reads --since)."""
    amount, unit = text[:-1], text[-1:]
    if unit not in UNITS or not amount.isdigit():
        raise argparse.ArgumentTypeError(f"--since takes a number and s, m, h or d, e.g. 10m (got {text})")
    return int(amount) * UNITS[unit]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("message_id", nargs="?", help="the message_id of the ack frame")
    which.add_argument("--last", type=int, metavar="N", help="the last N messages instead")
    parser.add_argument("--stage", help="read CloudWatch Logs of this deployed stage (default: the local logs/)")
    parser.add_argument("--since", type=since_seconds, default=None, help="with --stage: how far back (default 1d)")
    parser.add_argument("--region", help="with --stage: AWS region")
    parser.add_argument("--profile", help="with --stage: AWS profile")
    parser.add_argument("--endpoint-url", help="with --stage: an emulated AWS")
    parser.add_argument(
        "--log-dir",
        "--logs-dir",  # the older spelling, still accepted
        dest="log_dir",
        default=DEFAULT_LOG_DIR,
        help="the local runtime's log files, as local.py --log-dir (default logs/)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    if args.last is not None and args.last < 1:
        parser.error("--last takes a number of messages, 1 or more")
    return args


def read_entries(args: argparse.Namespace) -> List[Entry]:
    if not args.stage:
        if not os.path.isdir(args.log_dir):
            raise StageError(f"no {args.log_dir}: start the local runtime with make run, or pass --stage")
        return LocalLogs(args.log_dir).read()
    stage = load_stage(args.stage)
    target = Target(args.region, args.profile, args.endpoint_url)
    if not target.region:
        raise StageError("no AWS region: pass --region, or set AWS_DEFAULT_REGION")
    start_ms = int((time.time() - (args.since or UNITS["d"])) * 1000)
    groups = {function: stage.log_group(function) for function in FUNCTIONS}
    pattern = term_pattern(args.message_id) if args.message_id else None
    return cloudwatch_entries(target.client("logs"), groups, start_ms, filter_pattern=pattern)


def chosen(timelines: List[Timeline], args: argparse.Namespace) -> List[Timeline]:
    if args.message_id:
        return [timeline for timeline in timelines if timeline.message_id == args.message_id]
    return sorted(timelines, key=lambda timeline: timeline.start_ms)[-args.last :]


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        timelines = chosen(list(build(read_entries(args)).values()), args)
    except StageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not timelines:
        where = f"stage {args.stage}'s CloudWatch Logs" if args.stage else args.log_dir
        what = f"message {args.message_id}" if args.message_id else "no message"
        print(f"{what} is not in {where}" if args.message_id else f"{what} in {where}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([timeline.to_dict() for timeline in timelines], indent=2))
    else:
        print("\n\n".join("\n".join(format_timeline(timeline)) for timeline in timelines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
