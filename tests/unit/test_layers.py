"""Layers point one way: import-linter's contracts (pyproject.toml) on the source tree.

lint-imports finds a package's modules by walking its folder, and ``vigil``'s modules are spread
over the top-level folders, so it runs on a copy laid out as installed (``layout.stage``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from layout import REPO, stage

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    if not LINT_IMPORTS.is_file():
        pytest.fail(f"{LINT_IMPORTS} missing: install the dev extra (pip install -e '.[dev]')")
    return subprocess.run(
        [str(LINT_IMPORTS), str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=tree,  # lint-imports puts the current folder first on sys.path
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )


def test_the_contracts_are_kept(tmp_path: Path):
    done = lint_imports(stage(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "shown"),
    [
        (
            "events/lifecycle.py",
            "import vigil.pipeline",
            "vigil.events.lifecycle -> vigil.pipeline",
        ),
        (
            "detector/labels.py",
            "import vigil.streams.frame",
            "vigil.detector.labels -> vigil.streams",
        ),
    ],
)
def test_an_import_against_the_layers_breaks_them(tmp_path: Path, module, bad_import, shown):
    tree = stage(tmp_path)
    path = tree / "vigil" / module
    path.write_text(path.read_text() + f"\n{bad_import}  # noqa\n")
    done = lint_imports(tree)
    assert done.returncode == 1
    assert "1 broken" in done.stdout and shown in done.stdout


def test_a_new_module_of_vigil_must_be_placed_in_a_layer(tmp_path: Path):
    tree = stage(tmp_path)
    (tree / "vigil" / "newcomer.py").write_text("")
    done = lint_imports(tree)
    assert done.returncode == 1 and "vigil.newcomer" in done.stdout + done.stderr
