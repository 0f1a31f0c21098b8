"""What the deployment package must contain: every module the bundle's source imports.

``missing_requirements`` reads every ``.py`` file chalice puts in the package
(``app.py``, ``chalicelib/``, ``vendor/``) with ``ast``, lazy imports inside
functions included, and returns each imported top-level module that is neither
in the standard library, nor the project's own, nor in the Lambda runtime
(boto3 and its dependencies; chalice adds its own runtime), nor installed by a
line of ``requirements.txt``. An import inside ``try: ... except ImportError``
is optional and left out.

``requirement_line`` names the distribution to add by its *distribution* name,
with the version the development virtualenv has (``import yaml`` ->
``PyYAML==6.0.2``), from ``importlib.metadata.packages_distributions()``.
"""

import ast
import functools
import importlib.metadata
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Set

__all__ = ["MissingModule", "imported_modules", "missing_requirements", "requirement_line"]

# What the Lambda Python runtime provides besides the standard library, and chalice's runtime
# (chalice package copies it into every deployment package).
RUNTIME_MODULES = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six", "chalice"})
BUNDLED_DIRS = ("chalicelib", "vendor")
OPTIONAL_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError"})


@dataclass(frozen=True)
class MissingModule:
    module: str
    where: str  # file:line of the first import of it
    line: str  # the requirements line that provides it

    def describe(self) -> str:
        return f"{self.where} imports {self.module}"


@functools.lru_cache(maxsize=1)
def _distributions() -> Dict[str, List[str]]:
    """Top-level module -> the distributions installed here that provide it (read once: it scans them all)."""
    return importlib.metadata.packages_distributions()


def requirement_line(module: str) -> str:
    """``Distribution==version`` providing top-level ``module`` in this (the development) environment."""
    top = module.split(".")[0]
    distributions = _distributions().get(top) or []
    if not distributions:
        return f"<the distribution that provides {top}>==<version> (install it here first to learn both)"
    name = distributions[0]
    return f"{name}=={importlib.metadata.version(name)}"


def _is_optional(node: ast.Try) -> bool:
    for handler in node.handlers:
        names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(name, ast.Name) and name.id in OPTIONAL_IMPORT_ERRORS for name in names):
            return True
    return False


def _imports(tree: ast.AST) -> Iterator[tuple]:
    """(top-level module, line) of each absolute import, skipping optional ones."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Try) and _is_optional(node):
            stack.extend(node.handlers + node.orelse + node.finalbody)
            continue
        if isinstance(node, ast.Import):
            yield from ((alias.name.split(".")[0], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno
        stack.extend(ast.iter_child_nodes(node))


def bundle_files(project_dir: Path) -> List[Path]:
    files = [project_dir / "app.py"]
    for folder in BUNDLED_DIRS:
        files += sorted((project_dir / folder).rglob("*.py"))
    return [path for path in files if path.is_file()]


def imported_modules(project_dir: Path) -> Dict[str, str]:
    """Top-level module -> ``file:line`` of its first import, over the bundle's source."""
    found: Dict[str, str] = {}
    for path in bundle_files(project_dir):
        tree = ast.parse(path.read_text(), filename=str(path))
        for module, line in sorted(_imports(tree), key=lambda item: item[1]):
            found.setdefault(module, f"{path.relative_to(project_dir)}:{line}")
    return found


def _own_modules(project_dir: Path) -> Set[str]:
    own = {"app", *BUNDLED_DIRS}
    vendor = project_dir / "vendor"
    if vendor.is_dir():
        own |= {entry.name.split(".")[0] for entry in vendor.iterdir()}
    return own


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def required_distributions(requirements: Path) -> Set[str]:
    names = set()
    for raw in requirements.read_text().splitlines() if requirements.exists() else []:
        line = raw.split("#")[0].strip()
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        if match and not line.startswith("-"):
            names.add(_normalize(match.group(0)))
    return names


def _provided_by(module: str, distributions: Iterable[str]) -> bool:
    providers = _distributions().get(module) or [module]
    return any(_normalize(name) in distributions for name in providers)


def missing_requirements(project_dir: Path) -> List[MissingModule]:
    """The modules the bundle imports that its package would not contain, with the line to add."""
    project_dir = Path(project_dir)
    distributions = required_distributions(project_dir / "requirements.txt")
    skip = set(sys.stdlib_module_names) | RUNTIME_MODULES | _own_modules(project_dir)
    return [
        MissingModule(module, where, requirement_line(module))
        for module, where in imported_modules(project_dir).items()
        if module not in skip and not _provided_by(module, distributions)
    ]


def fix_for(missing: List[MissingModule], requirements: str = "chalice_app/requirements.txt") -> Optional[str]:
    if not missing:
        return None
    lines = ", ".join(dict.fromkeys(item.line for item in missing))
    return f"add {lines} to {requirements} (one line each), then redeploy"
