#!/usr/bin/env python3
"""The chat queue and its DLQ of one stage: depth, purge by age, redrive (infra/queues.py).

    scripts/queue_tool.py status  --stage dev                       # waiting / in flight / delayed, queue and DLQ
    scripts/queue_tool.py purge   --stage dev --older-than 15       # drop messages sent more than 15 minutes ago
    scripts/queue_tool.py purge   --stage dev --dlq --older-than 0  # empty the DLQ, message by message
    scripts/queue_tool.py purge   --stage dev --all                 # PurgeQueue: everything, at once
    scripts/queue_tool.py redrive --stage dev [--max 100]           # move DLQ messages back to the queue
    scripts/queue_tool.py status  --local --endpoint-url http://127.0.0.1:PORT   # the local runtime (make run)

Against AWS (--region/--profile), an emulated AWS (--endpoint-url), or the local
runtime (--local: its stage "local", fake credentials, and the moto endpoint that
`make run` prints as "Moto (AWS APIs)"; without --endpoint-url it is asked from the
runtime's /health). Exit status: 0 done, 1 an AWS error, 2 bad usage.
"""

import argparse
import json
import os
import sys
import urllib.request
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from infra import queues
from infra.stage import StageError, Target, load_stage

LOCAL_STAGE = "local"
LOCAL_RUNTIME = "http://127.0.0.1:8000"


def parse_args(argv=None) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_mutually_exclusive_group(required=True)
    where.add_argument("--stage", help="a stage of .chalice/config.json")
    where.add_argument("--local", action="store_true", help=f"the local runtime (stage {LOCAL_STAGE!r})")
    common.add_argument("--region", help="AWS region (default: the profile's or AWS_DEFAULT_REGION)")
    common.add_argument("--profile", help="AWS profile")
    common.add_argument("--endpoint-url", help="an emulated AWS (a moto server)")
    common.add_argument(
        "--local-url", default=LOCAL_RUNTIME, help=f"with --local: the runtime (default {LOCAL_RUNTIME})"
    )
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument("--project-dir", type=Path, help=argparse.SUPPRESS)

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", parents=[common], help="depth of the queue and the DLQ")
    purge = commands.add_parser("purge", parents=[common], help="delete messages older than N minutes")
    how = purge.add_mutually_exclusive_group(required=True)
    how.add_argument("--older-than", type=float, metavar="MINUTES", help="delete messages sent this long ago")
    how.add_argument("--all", action="store_true", help="PurgeQueue: every message, at once")
    purge.add_argument("--dlq", action="store_true", help="purge the DLQ instead of the queue")
    purge.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    redrive = commands.add_parser("redrive", parents=[common], help="move DLQ messages back to the queue")
    redrive.add_argument("--max", type=int, help="move at most this many")
    redrive.add_argument("--dry-run", action="store_true", help="count, move nothing")
    return parser.parse_args(argv)


def local_endpoint(local_url: str) -> str:
    """The moto endpoint of a running local runtime, from its /health (if it says)."""
    try:
        with urllib.request.urlopen(local_url.rstrip("/") + "/health", timeout=3) as response:
            endpoint = json.load(response).get("moto_endpoint")
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: no local runtime answers at {local_url} ({exc}): start it with `make run`")
    if not endpoint:
        raise SystemExit(
            "error: the local runtime does not say where its AWS APIs are: pass --endpoint-url with the "
            "'Moto (AWS APIs)' address that `make run` prints"
        )
    return endpoint


def target_for(args: argparse.Namespace):
    if args.local:
        # The local runtime's moto accepts anything; real credentials must never reach it.
        os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
        os.environ.pop("AWS_SESSION_TOKEN", None)
        endpoint = args.endpoint_url or local_endpoint(args.local_url)
        return Target(args.region or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"), None, endpoint)
    return Target(args.region, args.profile, args.endpoint_url)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        stage = load_stage(LOCAL_STAGE if args.local else args.stage, args.project_dir, require_defined=not args.local)
        target = target_for(args)
        if not target.region:
            raise StageError("no AWS region: pass --region, or set AWS_DEFAULT_REGION")
        queue_name = stage.settings(target.region).queue_name
        sqs = target.client("sqs")
        urls = queues.queue_urls(sqs, queue_name)
        return COMMANDS[args.command](args, sqs, urls)
    except (StageError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as exc:
        if isinstance(exc, ClientError) and "NonExistentQueue" in exc.response["Error"]["Code"]:
            where = "the local runtime" if args.local else f"stage {args.stage}"
            exc = f"the chat queue or its DLQ of {where} does not exist here; deploy it first ({exc})"
        print(f"error: {exc}", file=sys.stderr)
        return 1


def status(args, sqs, urls) -> int:
    depths = {kind: queues.depth(sqs, url) for kind, url in urls.items()}
    if args.json:
        print(json.dumps({kind: depth.to_dict() for kind, depth in depths.items()}, indent=2))
        return 0
    width = max(len(depth.name) for depth in depths.values())
    for kind, depth in depths.items():
        print(
            f"{kind:<5} {depth.name:<{width}}  waiting {depth.visible:>6}  in flight {depth.in_flight:>6}"
            f"  delayed {depth.delayed:>6}"
        )
    return 0


def purge(args, sqs, urls) -> int:
    kind = "dlq" if args.dlq else "queue"
    url = urls[kind]
    name = url.rsplit("/", 1)[-1]
    if args.all:
        if not args.dry_run:
            queues.purge_all(sqs, url)
        result = {"queue": name, "purged": "all", "dry_run": args.dry_run}
        text = f"{name}: {'would purge' if args.dry_run else 'purged'} every message (PurgeQueue)"
    else:
        found = queues.purge_older_than(sqs, url, args.older_than, dry_run=args.dry_run)
        result = {"queue": name, "older_than_minutes": args.older_than, "dry_run": args.dry_run, **vars(found)}
        verb = "would delete" if args.dry_run else "deleted"
        text = (
            f"{name}: scanned {found.scanned}, {verb} {found.deleted} older than {args.older_than:g} min, "
            f"kept {found.kept}"
        )
    print(json.dumps(result) if args.json else text)
    return 0


def redrive(args, sqs, urls) -> int:
    moved = queues.redrive(sqs, urls["dlq"], urls["queue"], max_messages=args.max, dry_run=args.dry_run)
    dlq, queue = urls["dlq"].rsplit("/", 1)[-1], urls["queue"].rsplit("/", 1)[-1]
    if args.json:
        print(json.dumps({"from": dlq, "to": queue, "moved": moved, "dry_run": args.dry_run}))
    else:
        print(f"{dlq} -> {queue}: {'would move' if args.dry_run else 'moved'} {moved} messages")
    return 0


COMMANDS = {"status": status, "purge": purge, "redrive": redrive}

if __name__ == "__main__":
    sys.exit(main())
