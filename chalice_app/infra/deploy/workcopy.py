"""The working copy a deploy into an emulated AWS (``--endpoint-url``) runs chalice in.

A deploy writes what it learns into the project: chalice its ``.chalice/deployed/<stage>.json``,
Wire the API's ``WEBSOCKET_DOMAIN`` into ``.chalice/config.json`` and its id into the
``.chalice/policy-*.json`` files (so the next ``chalice deploy`` keeps them). For AWS those
are the stage's real values, to commit. For an emulator they are throwaway ids, so the
deploy runs on a copy instead, one per endpoint and region, under the git-ignored
``.chalice/deployed/``::

    .chalice/deployed/emulated-127.0.0.1-4566-ap-southeast-1/
        app.py, requirements.txt, chalicelib/, vendor/    copied from the project at each run
        .chalice/config.json, .chalice/policy-*.json      copied, then wired to this endpoint's API
        .chalice/deployed/<stage>.json                    chalice's state for this endpoint
        .chalice/deployments -> the project's             chalice's dependency cache, shared

Each run copies the project afresh (so an edit shows up) and then puts back the wiring of
the API the copy's own deployed state names (``rewire``), so a redeploy keeps the
processor's endpoint and the policies' scope and Wire finds nothing to change. Tracked
files stay as committed.
"""

import os
import re
import shutil
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

from infra import policy
from infra.deploy.wire import edit_processor_env, scope_policy_files
from infra.stage import PROCESSOR, StageError, load_stage

__all__ = ["working_copy_dir", "prepare", "rewire", "shown_as_project"]

COPIED_FILES = ("app.py", "requirements.txt")
COPIED_DIRS = ("chalicelib", "vendor")


def working_copy_dir(project_dir: Path, endpoint_url: str, region: str) -> Path:
    """``<project>/.chalice/deployed/emulated-<host>-<port>-<region>`` (one per endpoint and region)."""
    parsed = urlparse(endpoint_url)
    host = re.sub(r"[^A-Za-z0-9.-]", "_", parsed.hostname or "endpoint")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return Path(project_dir) / ".chalice" / "deployed" / f"emulated-{host}-{port}-{region}"


def prepare(project_dir: Path, endpoint_url: str, region: str, stage: str) -> Path:
    """The working copy for this endpoint and region, refreshed from the project and rewired."""
    project_dir = Path(project_dir).resolve()
    target = working_copy_dir(project_dir, endpoint_url, region)
    (target / ".chalice").mkdir(parents=True, exist_ok=True)
    for name in COPIED_FILES:
        if (project_dir / name).exists():
            shutil.copy2(project_dir / name, target / name)
    for name in COPIED_DIRS:
        shutil.rmtree(target / name, ignore_errors=True)
        if (project_dir / name).is_dir():
            shutil.copytree(project_dir / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
    for path in (project_dir / ".chalice").glob("*.json"):
        shutil.copy2(path, target / ".chalice" / path.name)
    cache = project_dir / ".chalice" / "deployments"
    cache.mkdir(exist_ok=True)
    if not (target / ".chalice" / "deployments").exists():
        os.symlink(cache, target / ".chalice" / "deployments")
    rewire(target, stage)
    return target


def rewire(copy_dir: Path, stage_name: str) -> bool:
    """Wire the copy's config.json and policy files to the API its deployed state names (as Wire did
    after that deploy); False when there is none yet (a first deploy) or the stage is unknown."""
    try:
        stage = load_stage(stage_name, copy_dir)
    except StageError:  # Preflight names it
        return False
    resources = {item["name"]: item for item in (stage.deployed() or {}).get("resources", [])}
    api, processor = resources.get("websocket_api"), resources.get(PROCESSOR)
    if not api or not processor:
        return False
    _, partition, _, region, account = processor["lambda_arn"].split(":")[:5]
    websocket_stage = stage.api_gateway_stage
    edit_processor_env(
        stage,
        {"WEBSOCKET_DOMAIN": urlparse(api["websocket_api_url"]).hostname, "WEBSOCKET_STAGE": websocket_stage},
    )
    scope_policy_files(
        stage,
        lambda method: policy.connections_arn(
            partition, region, account, api["websocket_api_id"], websocket_stage, method
        ),
    )
    return True


def shown_as_project(line: str, copy_dir: Optional[Path], project_dir: Path) -> str:
    """A progress line with the copy's paths shown as the project's (where a fix is made), except
    chalice's deployed state, which only the copy has."""
    if copy_dir is None:
        return line
    pattern = re.escape(str(copy_dir)) + r"(?!/\.chalice/deployed)"
    return re.sub(pattern, str(project_dir).replace("\\", "\\\\"), line)
