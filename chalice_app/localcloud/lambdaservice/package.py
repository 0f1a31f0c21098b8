"""The deployment package of source mode, laid out as ``chalice package`` lays it out.

``build_package()`` writes ``app.py``, ``chalicelib/``, ``vendor/``'s contents and
chalice's own runtime (``chalice/__init__.py`` and ``chalice/app.py``, as chalice's
packager adds them) into a directory, plus the Lambda requirements (``chalice_app/requirements.txt``) installed
with ``pip install --target`` once per requirements hash into ``.localcloud/`` and
linked in (the cache is shared by every run, test and CI job on the machine).
``extra_modules`` adds files the package would not have, by path relative to the
project (source mode adds the module of an ``ASSISTANT_BACKEND=module:Factory`` that
lives outside chalicelib, such as ``tests/faults.py``; it never ships).
"""

import hashlib
import inspect
import os
import shutil
import tempfile
from typing import Iterable

from localcloud.lambdaservice.runtime import CACHE_DIR, pip_install

__all__ = ["PACKAGED", "dependencies_dir", "build_package"]

# What chalice puts in the zip from the project directory (vendor/ is flattened into it).
PACKAGED = ("app.py", "chalicelib")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def dependencies_dir(requirements: str, cache_dir: str = CACHE_DIR) -> str:
    """The requirements installed by pip into a cached directory named after their hash."""
    with open(requirements, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()[:16]
    target = os.path.join(cache_dir, f"deps-{digest}")
    if os.path.isdir(target):
        return target
    os.makedirs(cache_dir, exist_ok=True)
    building = tempfile.mkdtemp(prefix="deps-building-", dir=cache_dir)
    try:
        pip_install(["-r", requirements], building)
        try:
            os.rename(building, target)
        except OSError:
            if not os.path.isdir(target):
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def build_package(project_dir: str, target: str, deps_dir: str, extra_modules: Iterable[str] = ()) -> str:
    """Lay the package out in ``target`` (which must not exist); returns ``target``."""
    os.makedirs(os.path.join(target, "chalice"))
    import chalice
    import chalice.app

    # chalice.deploy.packager: the zip carries chalice's router module, nothing else of chalice.
    shutil.copy2(inspect.getfile(chalice), os.path.join(target, "chalice", "__init__.py"))
    shutil.copy2(inspect.getfile(chalice.app), os.path.join(target, "chalice", "app.py"))
    for name in PACKAGED:
        source = os.path.join(project_dir, name)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(target, name), ignore=_IGNORE)
        elif os.path.isfile(source):
            shutil.copy2(source, os.path.join(target, name))
    vendor = os.path.join(project_dir, "vendor")
    if os.path.isdir(vendor):
        shutil.copytree(vendor, target, ignore=_IGNORE, dirs_exist_ok=True)
    for entry in os.listdir(deps_dir):
        if entry != "bin" and not os.path.exists(os.path.join(target, entry)):
            os.symlink(os.path.join(deps_dir, entry), os.path.join(target, entry))
    for relative in extra_modules:
        destination = os.path.join(target, relative)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copy2(os.path.join(project_dir, relative), destination)
    return target
