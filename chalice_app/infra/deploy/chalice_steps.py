"""ChaliceDeploy and ChaliceDelete: the real chalice CLI as a subprocess, and the deployment package check."""

import re
import zipfile
from pathlib import Path
from typing import Dict, List, Tuple

from infra.deploy.base import CHANGED, OK, PACKAGING_FIX, Context, Step, chalice_command, chalice_failure, stream
from infra.stage import PROCESSOR

_CREATING = re.compile(r"^\s*Creating ")


class ChaliceDeploy(Step):
    title = "chalice deploy"

    def run(self, ctx: Context) -> None:
        before = self._resources(ctx)
        # app.py reads CHAT_QUEUE_NAME and SQS_BATCH_SIZE at import: give it the stage's values.
        env = ctx.target.subprocess_env({**ctx.stage.environment(PROCESSOR), "PYTHONUNBUFFERED": "1"})
        code, lines = stream(ctx, chalice_command(ctx, "deploy"), env)
        if code != 0:
            raise chalice_failure(ctx, "chalice deploy", code, lines, "rerun deploy.py: steps already done are skipped")
        status, detail = resource_changes(before, self._resources(ctx), lines)
        ctx.check("chalice deploy", status, detail)
        self._check_package(ctx, lines)

    @staticmethod
    def _resources(ctx: Context) -> Dict[str, Dict]:
        deployed = ctx.stage.deployed() or {"resources": []}
        return {resource["name"]: resource for resource in deployed["resources"]}

    @staticmethod
    def _check_package(ctx: Context, lines: List[str]) -> None:
        from chalice.deploy.packager import LambdaDeploymentPackager
        from chalice.utils import OSUtils
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name

        requirements_file = ctx.stage.project_dir / "requirements.txt"
        wanted = []
        if requirements_file.exists():
            for line in requirements_file.read_text().splitlines():
                line = line.split("#", 1)[0].strip()
                if line and not line.startswith("-"):
                    wanted.append(canonicalize_name(Requirement(line).name))
        package = LambdaDeploymentPackager(OSUtils(), None, None).deployment_package_filename(
            str(ctx.stage.project_dir), ctx.stage.chalice.lambda_python_version
        )
        try:
            with zipfile.ZipFile(package) as bundle:
                tops = {name.split("/", 1)[0] for name in bundle.namelist()}
            present = {
                canonicalize_name(top.removesuffix(".dist-info").rsplit("-", 1)[0])
                for top in tops
                if top.endswith(".dist-info")
            }
        except OSError as exc:
            raise ctx.fail("deployment package", f"cannot read {package}: {exc}")
        absent = [name for name in wanted if name not in present]
        if absent:
            hint = next((line for line in lines if "Could not install dependencies" in line), "")
            raise ctx.fail(
                "deployment package",
                f"{Path(package).name} lacks {', '.join(absent)} {hint}".strip(),
                PACKAGING_FIX + f"; then delete {package} and rerun",
            )
        ctx.check("deployment package", OK, f"{Path(package).name} contains {', '.join(wanted) or 'no requirements'}")


def resource_changes(before: Dict[str, Dict], after: Dict[str, Dict], lines: List[str]) -> Tuple[str, str]:
    """(status, detail) of a chalice deploy from its deployed state before and after, and its output.

    "the same resources as before" only when every resource kept its record (ARN, API id, mapping
    UUID) and chalice created nothing: a stack deleted behind chalice's back (an emulator restarted,
    a console delete) is created afresh under the same names, with new ids or "Creating" lines.
    """
    functions = sum(1 for record in after.values() if record.get("resource_type") == "lambda_function")
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    renewed = sorted(name for name in set(before) & set(after) if before[name] != after[name])
    created = [line.strip()[len("Creating ") :] for line in lines if _CREATING.match(line)]
    created = [item for item in created if not item.startswith("deployment package")]
    if not (added or removed or renewed or created):
        return OK, f"{functions} functions; the same resources as before (code updated)"
    parts = [f"{functions} functions", f"added {', '.join(added) or 'nothing'}"]
    parts.append(f"removed {', '.join(removed) or 'nothing'}")
    if renewed:
        parts.append(f"new ids for {', '.join(renewed)}")
    if created and not added:  # created under the names chalice had recorded: the old ones were gone
        parts.append(f"chalice created afresh: {', '.join(created)}")
    return CHANGED, "; ".join(parts)


class ChaliceDelete(Step):
    title = "chalice delete"

    def run(self, ctx: Context) -> None:
        if not (ctx.stage.deployed() or {}).get("resources"):
            ctx.check("chalice delete", OK, f"nothing deployed according to {ctx.stage.deployed_path.name}")
            return
        code, lines = stream(ctx, chalice_command(ctx, "delete"), ctx.target.subprocess_env())
        if code != 0:
            last = next((line for line in reversed(lines) if line.strip()), "")
            raise ctx.fail("chalice delete", f"exited with {code}: {last}", "fix the cause and rerun with --delete")
        ctx.check("chalice delete", CHANGED, "functions, roles, mapping and WebSocket API deleted")
