"""Source mode (``make run``): the functions of ``chalice_app/`` as one chalice stage deploys them.

``SourceProject`` reads the app's shape (its WebSocket handlers and SQS event sources,
as chalice does: by importing app.py) and, for a stage of ``.chalice/config.json``,
each function's configuration as ``chalice deploy`` resolves it (stage function, stage,
function, top level): its environment variables, ``lambda_timeout`` and
``lambda_memory_size``. ``build()`` lays out a fresh deployment package
(``localcloud.lambdaservice.package``) and returns one ``FunctionConfig`` per function.

The environment of a function is, lowest first: the app settings (the names
``chalicelib/config.py`` reads) found in the stack's own environment, so
``ASSISTANT_BACKEND=slow make run`` works as it always has; the stage's configuration;
the stack's overrides (``--env``, ``WEBSOCKET_ENDPOINT_URL``).

``SourceFunctions`` is the gateway's and the poller's ``Invoker``; it polls the mtimes
of ``app.py``, ``chalicelib/``, ``.chalice/`` and ``requirements.txt`` about once a
second and, on a change, builds a new package with a new ``version`` and retires the
warm environments: new invocations get fresh ones, open WebSocket connections (held
by the gateway, not by any environment) stay open. One line is printed per reload.
"""

import os
import re
import shutil
import tempfile
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from chalice.cli.factory import CLIFactory

from localcloud.lambdaservice.config import FunctionConfig
from localcloud.lambdaservice.package import build_package, dependencies_dir
from localcloud.lambdaservice.service import LambdaService

__all__ = ["WEBSOCKET_FUNCTIONS", "WATCHED", "SourceProject", "SourceFunctions", "setting_names", "fingerprint"]

# What `chalice deploy` names the Lambda functions behind the WebSocket routes.
WEBSOCKET_FUNCTIONS = {
    "$connect": "websocket_connect",
    "$default": "websocket_message",
    "$disconnect": "websocket_disconnect",
}
# chalice's defaults when config.json sets neither (chalice.config.Config).
DEFAULT_TIMEOUT_SECONDS = 60
DEFAULT_MEMORY_MB = 128
WATCHED = ("app.py", "chalicelib", ".chalice", "requirements.txt")
# Written by deploys, not read by the functions.
_NOT_WATCHED = ("deployed", "deployments", "__pycache__")
_BACKEND_MODULE = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):[A-Za-z_]\w*$")


def setting_names(project_dir: str) -> List[str]:
    """The variables ``chalicelib/config.py`` reads (``read.text("NAME")`` / ``read.number("NAME")``)."""
    with open(os.path.join(project_dir, "chalicelib", "config.py"), encoding="utf-8") as handle:
        source = handle.read()
    found = re.findall(r'read\.(?:text|number)\(\s*"([A-Z][A-Z0-9_]*)"', source)
    return sorted({name for name in found if not name.startswith("AWS_")})


def fingerprint(project_dir: str) -> Dict[str, Tuple[int, int]]:
    """``{relative path: (mtime_ns, size)}`` of every watched file."""
    seen: Dict[str, Tuple[int, int]] = {}
    for name in WATCHED:
        path = os.path.join(project_dir, name)
        if os.path.isfile(path):
            stat = os.stat(path)
            seen[name] = (stat.st_mtime_ns, stat.st_size)
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if d not in _NOT_WATCHED]
            for file in files:
                if file.endswith(".pyc"):
                    continue
                full = os.path.join(root, file)
                try:
                    stat = os.stat(full)
                except FileNotFoundError:
                    continue
                seen[os.path.relpath(full, project_dir)] = (stat.st_mtime_ns, stat.st_size)
    return seen


class SourceProject:
    def __init__(self, project_dir: str, chalice_stage: str, package_root: Optional[str] = None):
        self.project_dir = os.path.abspath(project_dir)
        self.chalice_stage = chalice_stage
        self.package_root = package_root or tempfile.mkdtemp(prefix="localcloud-packages-")
        self.app: Any = None
        self.handlers: Dict[str, str] = {}  # name in the app -> handler string ("app.connect")
        self.builds = 0

    def _config(self):
        return CLIFactory(self.project_dir).create_config_obj(chalice_stage_name=self.chalice_stage)

    def stage_environment(self, function: str) -> Dict[str, str]:
        """The function's environment_variables as chalice resolves them for the stage."""
        scoped = self._config().scope(self.chalice_stage, function)
        return {key: str(value) for key, value in scoped.environment_variables.items()}

    def timeout_for(self, function: str) -> int:
        scoped = self._config().scope(self.chalice_stage, function)
        return int(scoped.lambda_timeout or DEFAULT_TIMEOUT_SECONDS)

    def load_app(self, environment: Mapping[str, str]) -> Any:
        """Import app.py (with ``environment`` applied, as chalice does) to learn its functions."""
        self.app = CLIFactory(self.project_dir, environ=os.environ).load_chalice_app(dict(environment))
        self.handlers = {}
        for route_key, handler in self.app.websocket_handlers.items():
            self.handlers[WEBSOCKET_FUNCTIONS[route_key]] = handler.handler_string
        for source in self.app.event_sources:
            self.handlers[source.name] = source.handler_string
        return self.app

    def sqs_sources(self) -> List[Any]:
        return [source for source in self.app.event_sources if type(source).__name__ == "SQSEventConfig"]

    def function_name(self, function: str) -> str:
        return f"{self.app.app_name}-{self.chalice_stage}-{function}"

    def build(self, shell: Mapping[str, str], overrides: Mapping[str, str]) -> Dict[str, FunctionConfig]:
        """A fresh package and the configuration of each function, with a new version."""
        self.builds += 1
        version = str(self.builds)
        config = self._config()
        inherited = {name: shell[name] for name in setting_names(self.project_dir) if shell.get(name)}
        environments = {}
        for function in self.handlers:
            scoped = config.scope(self.chalice_stage, function)
            env = {**inherited, **{k: str(v) for k, v in scoped.environment_variables.items()}, **overrides}
            environments[function] = env
        extra = sorted({module for env in environments.values() for module in self._outside_modules(env)})
        deps = dependencies_dir(os.path.join(self.project_dir, "requirements.txt"))
        code_dir = build_package(self.project_dir, os.path.join(self.package_root, f"v{version}"), deps, extra)
        configs = {}
        for function, handler in self.handlers.items():
            scoped = config.scope(self.chalice_stage, function)
            configs[function] = FunctionConfig(
                name=self.function_name(function),
                handler=handler,
                code_dir=code_dir,
                environment=environments[function],
                timeout_seconds=float(scoped.lambda_timeout or DEFAULT_TIMEOUT_SECONDS),
                memory_mb=int(scoped.lambda_memory_size or DEFAULT_MEMORY_MB),
                role_arn=None,
                version=version,
            )
        return configs

    def _outside_modules(self, env: Mapping[str, str]) -> List[str]:
        """``ASSISTANT_BACKEND=tests.faults:FaultyAssistant``: the module's file, when it is in the
        project but not in the package (only that file is added; it never ships)."""
        match = _BACKEND_MODULE.match(env.get("ASSISTANT_BACKEND", ""))
        if not match or match.group("module").split(".")[0] in ("chalicelib", "app"):
            return []
        relative = os.path.join(*match.group("module").split(".")) + ".py"
        return [relative] if os.path.isfile(os.path.join(self.project_dir, relative)) else []

    def remove_packages(self) -> None:
        shutil.rmtree(self.package_root, ignore_errors=True)


def _print_line(line: str) -> None:
    print(line, flush=True)


class SourceFunctions:
    """The ``Invoker`` of source mode, rebuilt when the project changes."""

    def __init__(
        self,
        project: SourceProject,
        service: LambdaService,
        shell: Mapping[str, str],
        overrides: Mapping[str, str],
        announce: Optional[Callable[[str], None]] = None,
        poll_seconds: float = 1.0,
    ):
        self.project = project
        self.service = service
        self.shell = dict(shell)
        self.overrides = dict(overrides)
        self.announce = announce or _print_line
        self.poll_seconds = poll_seconds
        self.configs = project.build(self.shell, self.overrides)
        self._seen = fingerprint(project.project_dir)
        self._stop = threading.Event()
        self._watcher: Optional[threading.Thread] = None

    def invoke(self, name: str, event: Dict[str, Any]) -> Any:
        return self.service.invoke(self.configs[name], event)

    def prewarm(self) -> None:
        """One warm environment per function, started side by side (``make run`` does it before
        "Ready." so the first connection does not wait for four cold starts)."""
        threads = [
            threading.Thread(target=self.service.prewarm, args=(config,), daemon=True)
            for config in self.configs.values()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def reload_if_changed(self) -> bool:
        now = fingerprint(self.project.project_dir)
        if now == self._seen:
            return False
        changed = sorted(path for path in set(now) | set(self._seen) if now.get(path) != self._seen.get(path))
        self._seen = now
        try:
            configs = self.project.build(self.shell, self.overrides)
        except Exception as exc:  # a half-saved file: keep serving the last good package
            self.announce(f"Reload failed ({type(exc).__name__}: {exc}); still serving the previous code")
            return False
        # Older packages stay on disk until the run ends: a busy environment may still read them.
        self.configs = configs
        self.service.retire()
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        self.announce(f"Reloaded: {shown} changed; new invocations get fresh environments (v{self.project.builds})")
        return True

    def start_watching(self) -> None:
        self._watcher = threading.Thread(target=self._watch, daemon=True, name="source-reload")
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.reload_if_changed()

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(5)
        self.project.remove_packages()
