"""The repository's layout as Python sees it: each top-level folder is one import root
(pyproject.toml's ``[tool.setuptools.package-dir]``: ``events/`` is ``vigil.events``).

>>> package_dirs()["vigil.events"].name
'events'
>>> "vigil.events.rules.fall" in modules()
True
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Run by Alembic from their files, never imported as modules.
ALEMBIC_SCRIPTS = ("vigil.events.store.migrations.env", "vigil.events.store.migrations.versions.")
# Run by Debian's /usr/bin/python3 (GStreamer's bindings), never imported by the package.
SYSTEM_PYTHON_SCRIPTS = ("vigil.streams.gst.rtsp_server",)


def package_dirs() -> dict[str, Path]:
    """Import root -> folder, for the roots that exist (a root may not be written yet)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    roots = config["tool"]["setuptools"]["package-dir"]
    return {
        name: REPO / folder
        for name, folder in roots.items()
        if (REPO / folder / "__init__.py").is_file()
    }


def modules() -> list[str]:
    """The import name of every module and package in the source tree."""
    names = []
    for root, folder in package_dirs().items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            packages = [folder.joinpath(*parts[:i]) for i in range(1, len(parts))]
            if not all((p / "__init__.py").is_file() for p in packages):
                continue  # a script beside the package, not part of it
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append(".".join([root, *parts]))
    return sorted(names)


def importable(name: str) -> bool:
    """Whether the module can be imported on its own (Alembic's scripts and those run by the
    system's Python cannot)."""
    if name in SYSTEM_PYTHON_SCRIPTS:
        return False
    return not (name == ALEMBIC_SCRIPTS[0] or name.startswith(ALEMBIC_SCRIPTS[1]))


def stage(target: Path) -> Path:
    """Copy the sources into ``target`` laid out as installed (``target/vigil/events/...``), for
    tools that find a package's modules by walking its folder (import-linter)."""
    for root, folder in package_dirs().items():
        shutil.copytree(
            folder,
            target.joinpath(*root.split(".")),
            ignore=shutil.ignore_patterns("__pycache__", "*.pt"),
            dirs_exist_ok=True,
        )
    return target
