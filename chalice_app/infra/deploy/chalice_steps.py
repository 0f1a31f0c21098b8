"""ChaliceDeploy and ChaliceDelete: the real chalice CLI as a subprocess, and the deployment package check."""

import zipfile
from pathlib import Path
from typing import Dict, List

from infra.deploy.base import CHANGED, OK, PACKAGING_FIX, Context, Step, chalice_command, chalice_failure, stream
from infra.stage import PROCESSOR


class ChaliceDeploy(Step):
    title = "chalice deploy"

    def run(self, ctx: Context) -> None:
        before = self._resources(ctx)
        # app.py reads CHAT_QUEUE_NAME and SQS_BATCH_SIZE at import: give it the stage's values.
        env = ctx.target.subprocess_env({**ctx.stage.environment(PROCESSOR), "PYTHONUNBUFFERED": "1"})
        code, lines = stream(ctx, chalice_command(ctx, "deploy"), env)
        if code != 0:
            raise chalice_failure(ctx, "chalice deploy", code, lines, "rerun deploy.py: steps already done are skipped")
        after = self._resources(ctx)
        functions = sum(1 for kind in after.values() if kind == "lambda_function")
        added = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        if added or removed:
            detail = (
                f"{functions} functions; added {', '.join(added) or 'nothing'}; "
                f"removed {', '.join(removed) or 'nothing'}"
            )
            ctx.check("chalice deploy", CHANGED, detail)
        else:
            ctx.check("chalice deploy", OK, f"{functions} functions; the same resources as before (code updated)")
        self._check_package(ctx, lines)

    @staticmethod
    def _resources(ctx: Context) -> Dict[str, str]:
        deployed = ctx.stage.deployed() or {"resources": []}
        return {resource["name"]: resource["resource_type"] for resource in deployed["resources"]}

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
