"""The package list, generated: each top-level folder is one import root (pyproject.toml's
``[tool.setuptools.package-dir]``, e.g. ``events/`` is ``vigil.events``) and every folder under
a root is a subpackage (a folder of data files, such as ``vigil/samples/``, too). Everything else
is in pyproject.toml."""

import tomllib
from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).resolve().parent


def layout() -> dict[str, str]:
    """Import root -> folder, as pyproject.toml declares it."""
    config = tomllib.loads((HERE / "pyproject.toml").read_text())
    return config["tool"]["setuptools"]["package-dir"]


def packages() -> list[str]:
    """Every package under every root, named by its import path."""
    names = []
    for root, folder in layout().items():
        if not (HERE / folder / "__init__.py").is_file():
            continue  # a root not written yet (api/)
        names.append(root)
        subs = find_namespace_packages(str(HERE / folder), exclude=["__pycache__", "*.__pycache__"])
        names += [f"{root}.{sub}" for sub in subs]
    return sorted(names)


setup(packages=packages())
