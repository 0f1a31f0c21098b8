"""One Chalice stage as the operations tools see it, and the AWS account it lives in.

``StageConfig`` reads ``.chalice/config.json`` through chalice's own ``Config``
(the same lookup order ``chalice deploy`` uses: stage function, stage, function,
top level), so a value the tools act on is the value chalice deploys.
``Target`` is where the stage lives: AWS through a profile and region, or an
emulated AWS (a moto server) through an endpoint URL.
"""

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

from chalicelib.config import Settings, load
from chalicelib.errors import ShoppingAssistantError

__all__ = [
    "FUNCTIONS",
    "PROCESSOR",
    "PROJECT_DIR",
    "VISIBILITY_TIMEOUT_FACTOR",
    "WEBSOCKET_FUNCTIONS",
    "StageConfig",
    "StageError",
    "Target",
    "load_stage",
]

PROJECT_DIR = Path(__file__).resolve().parents[1]
PROCESSOR = "chat_processor"
# Chalice names the handlers of @app.on_ws_connect/message/disconnect like this.
WEBSOCKET_FUNCTIONS = ("websocket_connect", "websocket_message", "websocket_disconnect")
FUNCTIONS = WEBSOCKET_FUNCTIONS + (PROCESSOR,)
# AWS: a queue feeding a Lambda needs a visibility timeout of at least 6x its timeout.
VISIBILITY_TIMEOUT_FACTOR = 6


class StageError(ShoppingAssistantError, RuntimeError):
    """The stage cannot be used as configured; the message says what to change."""


@dataclass(frozen=True)
class StageConfig:
    project_dir: Path
    stage: str
    chalice: Any  # chalice.config.Config for this stage

    @property
    def config_path(self) -> Path:
        return self.project_dir / ".chalice" / "config.json"

    @property
    def deployed_path(self) -> Path:
        return self.project_dir / ".chalice" / "deployed" / f"{self.stage}.json"

    @property
    def app_name(self) -> str:
        return self.chalice.app_name

    @property
    def api_gateway_stage(self) -> str:
        return self.chalice.api_gateway_stage

    def function(self, name: str) -> Any:
        """The chalice Config scoped to one function of this stage."""
        return self.chalice.scope(self.stage, name)

    def function_name(self, name: str) -> str:
        return f"{self.app_name}-{self.stage}-{name}"

    def log_group(self, name: str) -> str:
        return f"/aws/lambda/{self.function_name(name)}"

    def policy_path(self, name: str = PROCESSOR) -> Path:
        policy_file = self.function(name).iam_policy_file or f"policy-{self.stage}.json"
        return self.project_dir / ".chalice" / policy_file

    @property
    def processor_timeout(self) -> int:
        return int(self.function(PROCESSOR).lambda_timeout or 60)

    @property
    def visibility_timeout(self) -> int:
        return VISIBILITY_TIMEOUT_FACTOR * self.processor_timeout

    def environment(self, name: str = PROCESSOR) -> Dict[str, str]:
        """The environment chalice gives the function (stage and function levels merged)."""
        return {key: str(value) for key, value in self.function(name).environment_variables.items()}

    def settings(self, region: str) -> Settings:
        """The processor's Settings in this stage (raises ConfigError naming a bad variable)."""
        return load({**self.environment(PROCESSOR), "AWS_REGION": region})

    def raw_config(self) -> Dict[str, Any]:
        return json.loads(self.config_path.read_text())

    def deployed(self) -> Optional[Dict[str, Any]]:
        """``.chalice/deployed/<stage>.json``, or None before the first deploy."""
        if not self.deployed_path.exists():
            return None
        return json.loads(self.deployed_path.read_text())


def load_stage(stage: str, project_dir: Optional[Path] = None, require_defined: bool = True) -> StageConfig:
    """The stage's configuration; ``require_defined=False`` accepts a stage config.json does not
    list (chalice then uses the top-level values, as the local runtime's stage "local" does)."""
    from chalice.cli.factory import CLIFactory

    project_dir = Path(project_dir or PROJECT_DIR).resolve()
    config_path = project_dir / ".chalice" / "config.json"
    if not config_path.exists():
        raise StageError(f"{config_path} does not exist: this is not the chalice project directory")
    try:
        stages = json.loads(config_path.read_text()).get("stages", {})
    except ValueError as exc:
        raise StageError(f"{config_path} is not valid JSON: {exc}") from None
    if require_defined and stage not in stages:
        known = ", ".join(sorted(stages)) or "none"
        raise StageError(f'stage "{stage}" is not in {config_path} (stages: {known}); add it under "stages"')
    config = CLIFactory(str(project_dir)).create_config_obj(chalice_stage_name=stage)
    return StageConfig(project_dir=project_dir, stage=stage, chalice=config)


class Target:
    """Where a stage lives: boto3 clients for one account and region, maybe an emulator."""

    def __init__(self, region: Optional[str] = None, profile: Optional[str] = None, endpoint_url: Optional[str] = None):
        import boto3

        self.profile = profile
        self.endpoint_url = endpoint_url
        self.session = boto3.session.Session(profile_name=profile, region_name=region)
        self.region: Optional[str] = self.session.region_name

    @property
    def emulated(self) -> bool:
        return bool(self.endpoint_url)

    @functools.cache  # noqa: B019 - one Target per run; the clients live as long as it does
    def client(self, service_name: str) -> Any:
        return self.session.client(service_name, region_name=self.region, endpoint_url=self.endpoint_url)

    def subprocess_env(self, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        """``os.environ`` pointed at this target, for a child such as the chalice CLI."""
        env = dict(os.environ)
        env.update(extra or {})
        if self.region:
            env["AWS_DEFAULT_REGION"] = env["AWS_REGION"] = self.region
        if self.profile:
            env["AWS_PROFILE"] = self.profile
        if self.endpoint_url:
            # botocore >= 1.31 sends every client to AWS_ENDPOINT_URL; chalice makes
            # plain session.create_client(...) calls, so its deployer follows.
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        return env
