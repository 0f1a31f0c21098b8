"""The runtime's own packages: boto3 and botocore (and their dependencies), nothing else.

The Lambda Python runtime ships boto3/botocore; an execution environment gets exactly
those, at the versions pinned in the repo's ``requirements.txt``, in a directory built
once and cached under ``.localcloud/`` (git-ignored). Built by copying the installed
distributions' files from the dev venv when their versions are the pins (fast, offline),
else by ``pip install --target`` of the pins. Built in a temporary directory and renamed
into place, so stacks starting at once never see half a directory.
"""

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Dict, List

__all__ = ["RUNTIME_PACKAGES", "CACHE_DIR", "pinned_versions", "runtime_dir", "pip_install"]

REPO_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CACHE_DIR = os.path.join(REPO_DIR, ".localcloud")
PINS_FILE = os.path.join(REPO_DIR, "requirements.txt")
# What the Lambda Python runtime has besides the standard library: boto3, botocore and their requirements.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
PINNED = ("boto3", "botocore")


def pinned_versions(path: str = PINS_FILE) -> Dict[str, str]:
    """``{"boto3": "1.44.8", ...}``: the ``name==version`` lines of a requirements file."""
    pins = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            match = re.match(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^\s;#]+)", line)
            if match:
                pins[match.group(1).lower()] = match.group(3)
    return pins


def runtime_dir(cache_dir: str = CACHE_DIR) -> str:
    """The cached runtime directory (built on first use)."""
    pins = pinned_versions()
    versions = {name: pins[name] for name in PINNED}
    target = os.path.join(cache_dir, "runtime-" + "-".join(f"{name}{version}" for name, version in versions.items()))
    if os.path.isdir(target):
        return target
    os.makedirs(cache_dir, exist_ok=True)
    building = tempfile.mkdtemp(prefix="runtime-building-", dir=cache_dir)
    try:
        if all(_installed(name) == version for name, version in versions.items()):
            for name in RUNTIME_PACKAGES:
                _copy_distribution(name, building)
        else:
            pip_install([f"{name}=={version}" for name, version in versions.items()], building)
        _publish(building, target)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def pip_install(requirements: List[str], target: str) -> None:
    """``pip install --target``: what ``chalice package`` does to vendor a requirements file."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    subprocess.run(command + ["--target", target, *requirements], check=True)


def _publish(building: str, target: str) -> None:
    try:
        os.rename(building, target)
    except OSError:
        if not os.path.isdir(target):  # another process published it first otherwise
            raise


def _installed(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return ""


def _copy_distribution(name: str, target: str) -> None:
    distribution = importlib.metadata.distribution(name)
    for file in distribution.files or []:
        if "__pycache__" in file.parts or file.parts[0] in ("..", "bin"):
            continue
        source = str(distribution.locate_file(file))
        if os.path.isfile(source):
            destination = os.path.join(target, str(file))
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            shutil.copy2(source, destination)
