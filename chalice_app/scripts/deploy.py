#!/usr/bin/env python3
"""Deploy, check or delete one stage of shopping-assistant-api (the pipeline: infra/deploy/).

    scripts/deploy.py --stage dev                    # preflight, queue+tables, chalice deploy, wiring, checks
    scripts/deploy.py --stage dev --validate-only    # read-only checks of a deployed stage
    scripts/deploy.py --stage dev --delete           # chalice delete, then the queue, DLQ and tables
    scripts/deploy.py --stage dev --package out/     # SAM template (sam.json) + deployment.zip, checked by cfn-lint
    scripts/deploy.py --stage chalice-test --endpoint-url http://127.0.0.1:5000   # an emulated AWS (moto)

Into an emulated AWS (--endpoint-url, e.g. make cloud) the deploy runs on a working copy of the
project under .chalice/deployed/emulated-<host>-<port>-<region>/ (git-ignored): the emulated ids
never land in config.json or the policy files. Any region works (--region or AWS_DEFAULT_REGION).

Exit status: 0 when every check holds (warnings allowed), 1 when one fails, 2 on bad usage.
"""

import argparse
import json
import sys
from pathlib import Path

# The project this script is in (its chalice_app/), before any installed copy of it: run from a
# copy of the project, the copy's code and .chalice/ are deployed.
PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from infra import deploy  # noqa: E402
from infra.deploy import workcopy  # noqa: E402

SYMBOLS = {deploy.OK: "ok", deploy.CHANGED: "changed", deploy.WARN: "WARN", deploy.FAIL: "FAIL", deploy.SKIP: "skip"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", required=True, help="a stage of .chalice/config.json: dev, chalice-test, prod")
    parser.add_argument("--region", help="AWS region (default: the profile's or AWS_DEFAULT_REGION)")
    parser.add_argument("--profile", help="AWS profile for this script and for chalice")
    parser.add_argument("--endpoint-url", help="an emulated AWS (a moto server) instead of AWS")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--validate-only", action="store_true", help="change nothing; check the deployed stage")
    mode.add_argument("--skip-validate", action="store_true", help="deploy without the final checks")
    mode.add_argument("--delete", action="store_true", help="delete the stage: chalice's resources, queue, tables")
    mode.add_argument("--package", metavar="DIR", type=Path, help="write the stage's SAM template to DIR; no AWS")
    parser.add_argument("--json", action="store_true", help="print a machine-readable report on stdout")
    parser.add_argument("--smoke-url", help="WebSocket URL for the smoke test instead of the deployed one")
    parser.add_argument("--backlog-threshold", type=int, default=10, help="warn at this many waiting messages")
    parser.add_argument("--keep-data", action="store_true", help="with --delete: keep the queue, DLQ and tables")
    parser.add_argument("--yes", action="store_true", help="with --delete: confirm deleting prod")
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=PROJECT_DIR,
        help="the chalice project to deploy (default: the chalice_app/ this script is in)",
    )
    return parser.parse_args(argv)


def target_region(args: argparse.Namespace):
    """The region the deploy goes to: --region, else the profile's or AWS_DEFAULT_REGION (None: unknown)."""
    if args.region:
        return args.region
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.session.Session(profile_name=args.profile).region_name
    except BotoCoreError:  # ProfileNotFound: Preflight names it
        return None


def working_copy(args: argparse.Namespace):
    """Into an emulator, the working copy to deploy (None: deploy the project itself)."""
    region = target_region(args)
    if not args.endpoint_url or args.package or not region:
        return None
    try:
        return workcopy.prepare(args.project_dir, args.endpoint_url, region, args.stage)
    except OSError as exc:
        raise SystemExit(f"error: cannot prepare the emulator's working copy of {args.project_dir}: {exc}")


def main(argv=None) -> int:
    args = parse_args(argv)
    if not (args.project_dir / ".chalice" / "config.json").exists():
        print(f"error: {args.project_dir} has no .chalice/config.json: pass the chalice project (chalice_app/)")
        return 2
    copy_dir = working_copy(args)
    options = deploy.Options(
        stage=args.stage,
        mode="delete" if args.delete else "validate" if args.validate_only else "package" if args.package else "deploy",
        region=args.region,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
        project_dir=copy_dir or args.project_dir,
        skip_validate=args.skip_validate,
        smoke_url=args.smoke_url,
        backlog_threshold=args.backlog_threshold,
        keep_data=args.keep_data,
        yes=args.yes,
        package_dir=args.package,
    )
    # With --json, stdout carries only the report; the progress goes to stderr.
    out = sys.stderr if args.json else sys.stdout

    def say(line: str) -> None:
        print(workcopy.shown_as_project(line, copy_dir, args.project_dir.resolve()), file=out, flush=True)

    if copy_dir is not None:
        note = f"emulated AWS: deploying the working copy {copy_dir} (git-ignored; tracked files stay unchanged)"
        print(note, file=out, flush=True)

    def on_step(number: int, total: int, title: str) -> None:
        say(f"\n[{number}/{total}] {title}")

    def on_check(check: deploy.Check) -> None:
        say(f"  {SYMBOLS[check.status]:<8} {check.name}: {check.detail}")
        if check.fix and check.status in (deploy.FAIL, deploy.WARN, deploy.CHANGED):
            say(f"  {'':<8} -> {check.fix}")

    report = deploy.run(options, on_check=on_check, log=say, on_step=on_step)
    print_table(report, say)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    return 0 if report.ok else 1


def print_table(report: deploy.Report, say) -> None:
    rows = [(c.step, c.name, SYMBOLS[c.status], c.detail) for c in report.checks]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(("step", "check", "status"))]
    say("")
    say(f"{'step':<{widths[0]}}  {'check':<{widths[1]}}  {'status':<{widths[2]}}  detail")
    for step, name, status, detail in rows:
        short = detail if len(detail) <= 100 else detail[:97] + "..."
        say(f"{step:<{widths[0]}}  {name:<{widths[1]}}  {status:<{widths[2]}}  {short}")
    if report.websocket_url:
        say(f"\nWebSocket URL: {report.websocket_url}")
    target = report.endpoint_url or f"account {report.account or '?'}"
    verdict = "all checks hold" if report.ok else "FAILED: see the checks marked FAIL above"
    say(f"\nstage {report.stage} ({report.mode}) in {report.region or '?'} on {target}: {verdict}")


if __name__ == "__main__":
    sys.exit(main())
