"""Validate a stage deployed as a CloudFormation stack (the ``--package`` template) like one chalice deployed.

Validate reads what a deploy made from ``.chalice/deployed/<stage>.json``, which
``chalice deploy`` writes. A stack made from the packaged template has the same
resources under the same names; this writes that file from the stack's resources
(``DescribeStackResources``), so ``deploy.py --validate-only`` runs every check and
the smoke test against the stack (into an emulator, in the working copy deploy.py reads for that
endpoint and region, so the project's tracked files stay as committed)::

    python -m infra.deploy.fromstack --stack NAME --stage S [--project-dir P] \\
        [--region R] [--endpoint-url URL]
    python chalice_app/scripts/deploy.py --stage S --validate-only [--project-dir P] ...
"""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from infra.deploy import workcopy
from infra.stage import FUNCTIONS, PROCESSOR, PROJECT_DIR, Target, load_stage

__all__ = ["deployed_record", "main"]


def _function_resource(lam, name: str, function: str) -> Dict[str, Any]:
    config = lam.get_function_configuration(FunctionName=name)
    return {
        "name": function,
        "resource_type": "lambda_function",
        "lambda_arn": config["FunctionArn"],
        "role_name": config["Role"].split("/")[-1],
    }


def deployed_record(target: Target, stack: str, stage) -> Dict[str, Any]:
    """What ``chalice deploy`` would have written for the stack's resources (the parts the tools read)."""
    cfn, lam = target.client("cloudformation"), target.client("lambda")
    by_type: Dict[str, List[Dict[str, Any]]] = {}
    for resource in cfn.describe_stack_resources(StackName=stack)["StackResources"]:
        by_type.setdefault(resource["ResourceType"], []).append(resource)
    names = {resource["PhysicalResourceId"] for resource in by_type.get("AWS::Lambda::Function", [])}
    resources = []
    for function in FUNCTIONS:
        name = stage.function_name(function)
        if name not in names:
            raise SystemExit(f"stack {stack} has no function {name}: is it stage {stage.stage}'s template?")
        resources.append(_function_resource(lam, name, function))
    for mapping in by_type.get("AWS::Lambda::EventSourceMapping", []):
        found = lam.get_event_source_mapping(UUID=mapping["PhysicalResourceId"])
        resources.append(
            {
                "name": f"{PROCESSOR}-sqs-event-source",
                "resource_type": "sqs_event",
                "queue_arn": found["EventSourceArn"],
                "event_uuid": found["UUID"],
                "lambda_arn": found["FunctionArn"],
            }
        )
    (api,) = [r["PhysicalResourceId"] for r in by_type.get("AWS::ApiGatewayV2::Api", [])]
    domain = f"{api}.execute-api.{target.region}.amazonaws.com"
    resources.append(
        {
            "name": "websocket_api",
            "resource_type": "websocket_api",
            "websocket_api_id": api,
            "websocket_api_url": f"wss://{domain}/{stage.api_gateway_stage}/",
        }
    )
    return {"resources": resources, "schema_version": "2.0", "backend": "api", "stack": stack}


def _state_dir(args) -> Optional[Path]:
    """Where deploy.py reads the stage's state: the project, or into an emulator its working copy
    for that endpoint and region (infra.deploy.workcopy), as ``deploy.py --validate-only`` will."""
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not args.endpoint_url or not region:
        return args.project_dir
    project = Path(args.project_dir or PROJECT_DIR).resolve()
    return workcopy.prepare(project, args.endpoint_url, region, args.stage)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="the CloudFormation stack's name")
    parser.add_argument("--stage", required=True)
    parser.add_argument("--project-dir", type=Path, default=None)
    parser.add_argument("--region")
    parser.add_argument("--profile")
    parser.add_argument("--endpoint-url")
    args = parser.parse_args(argv)
    stage = load_stage(args.stage, _state_dir(args))
    record = deployed_record(Target(args.region, args.profile, args.endpoint_url), args.stack, stage)
    stage.deployed_path.parent.mkdir(parents=True, exist_ok=True)
    stage.deployed_path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {stage.deployed_path} from stack {args.stack}: now deploy.py --stage {args.stage} --validate-only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
