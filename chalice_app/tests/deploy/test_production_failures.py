"""The production failures this system hit on AWS, caught offline by ``deploy.py`` against ``make cloud``.

Each test puts one failure back into a temporary copy of the project, deploys it into a
fresh emulated region (``scripts/local.py --cloud``, IAM enforced, every function in its
own execution environment), and asserts that deploy.py exits non-zero and that its
output names the function, the error and what to change:

1. chat_processor (an SQS handler) posting through Chalice's ``app.websocket_api``,
   whose session Chalice configures only inside WebSocket handlers;
3. the processor's policy without ``execute-api:ManageConnections``;
4. ``aws-lambda-powertools`` missing from ``chalice_app/requirements.txt`` (so from the
   deployment package).

Failure 2 (``WEBSOCKET_DOMAIN`` of another API) needs a deployed stack to change: it is
``test_cloud_region.py::test_a_websocket_domain_of_another_api_is_named``.
"""

import json

import pytest

from tests.deploy.cloud_region import CloudRegionProcess, deploy_into
from tests.deploy.conftest import copy_project

PROCESSOR = "shopping-assistant-api-chalice-test-chat_processor"
CONNECT = "shopping-assistant-api-chalice-test-websocket_connect"


@pytest.fixture
def region():
    with CloudRegionProcess() as running:
        yield running


@pytest.fixture
def project(tmp_path):
    (tmp_path / "project").mkdir()
    return copy_project(tmp_path / "project")


def failed_lines(done):
    """The FAIL lines of deploy.py's progress, each with its ``->`` fix line."""
    lines = done.stdout.splitlines()
    found = []
    for index, line in enumerate(lines):
        if line.strip().startswith("FAIL"):
            fix = lines[index + 1] if index + 1 < len(lines) and lines[index + 1].strip().startswith("->") else ""
            found.append(line + "\n" + fix)
    return "\n".join(found)


PUT_BACK = """

class _ThroughChalice(management.ManagementApi):  # the production bug, put back
    def __init__(self, domain, stage):
        super().__init__(management.endpoint_url(domain, stage))

    def post(self, connection_id, frame):
        import app as chalice_app

        chalice_app.app.websocket_api.send(connection_id, protocol.encode(frame))
"""


# As Chalice's docs set it up for posting from elsewhere: a session assigned, configure() never called.
WITH_SESSION = PUT_BACK.replace(
    "        chalice_app.app.websocket_api.send(",
    "        import boto3\n\n"
    "        chalice_app.app.websocket_api.session = boto3.session.Session()\n"
    "        chalice_app.app.websocket_api.send(",
)


@pytest.mark.parametrize("put_back", [PUT_BACK, WITH_SESSION], ids=["bare", "docs-session"])
def test_the_processor_posting_through_app_websocket_api_is_named(region, project, put_back):
    processor = project / "chalicelib" / "processor.py"
    source = processor.read_text()
    assert source.count("management.for_endpoint(") == 1  # one @connections client per record
    processor.write_text(source.replace("management.for_endpoint(", "_ThroughChalice(") + put_back)
    done = deploy_into(region, project)
    assert done.returncode == 1, done.stdout
    failed = failed_lines(done)
    assert "smoke test" in failed and PROCESSOR in failed, done.stdout
    assert "app.websocket_api is not configured outside a WebSocket handler" in failed  # the error
    assert "chalicelib.management.for_endpoint(WEBSOCKET_DOMAIN, WEBSOCKET_STAGE).post" in failed  # what to change
    assert "read its log" not in failed


def test_a_processor_policy_without_manage_connections_is_named(region, project):
    path = project / ".chalice" / "policy-chalice-test-chat_processor.json"
    document = json.loads(path.read_text())
    document["Statement"] = [s for s in document["Statement"] if "execute-api:ManageConnections" not in s["Action"]]
    path.write_text(json.dumps(document, indent=2))
    done = deploy_into(region, project)
    assert done.returncode == 1, done.stdout
    failed = failed_lines(done)
    assert "chat_processor" in failed and "execute-api:ManageConnections" in failed, done.stdout
    assert "policy-chalice-test-chat_processor.json" in failed


def test_a_dependency_missing_from_the_package_is_named(region, project):
    """Named by Preflight, before anything is deployed, by its distribution name (issue 19)."""
    requirements = project / "requirements.txt"
    requirements.write_text(
        "\n".join(line for line in requirements.read_text().splitlines() if "aws-lambda-powertools" not in line) + "\n"
    )
    done = deploy_into(region, project)
    assert done.returncode == 1, done.stdout
    failed = failed_lines(done)
    assert "imports" in failed and "chalicelib/" in failed and "imports aws_lambda_powertools" in failed, done.stdout
    assert "add aws_lambda_powertools==" in failed and "chalice_app/requirements.txt" in failed
    assert "chalice deploy" not in done.stdout  # nothing was deployed
