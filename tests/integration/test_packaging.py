"""The wheel holds what the source tree holds: built from a copy of the tree, installed in a fresh
venv (which borrows this interpreter's dependencies through a .pth file, so nothing is
downloaded), every module imports from the installed copy and its data files are there."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from layout import REPO, importable, modules, package_dirs

pytestmark = pytest.mark.slow
BUILD_FILES = ("pyproject.toml", "setup.py", "README.md", "LICENSE")

CHECK = """
import importlib, json, sys
from pathlib import Path
prefix = Path(sys.prefix).resolve()
outside = []
for name in json.loads(sys.argv[1]):
    module = importlib.import_module(name)
    if not Path(module.__file__).resolve().is_relative_to(prefix):
        outside.append((name, module.__file__))
assert not outside, f"imported from outside the venv: {outside}"
from vigil.detector.cards import load_cards
weights = [c.resolve_weights() for c in load_cards().values() if c.weights.path]
assert weights and all(w.resolve().is_relative_to(prefix) for w in weights), weights
from vigil.streams.rtsp_loop import SERVER   # `vigil bench` runs it from the installed copy
assert SERVER.is_file() and SERVER.resolve().is_relative_to(prefix), SERVER
from vigil.events.store.store import EventStore
with EventStore.for_data_dir(Path(sys.argv[2])) as store:   # runs the packaged migrations
    assert store.list_events() == []
print("ok", len(json.loads(sys.argv[1])))
"""


def run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the package folders and build files only."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    for name in BUILD_FILES:
        shutil.copy2(REPO / name, src / name)
    for folder in package_dirs().values():
        shutil.copytree(folder, src / folder.name, ignore=shutil.ignore_patterns("__pycache__"))
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    run(
        *pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", work / "dist", src, cwd=work
    )
    (built,) = (work / "dist").glob("vigil-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path) -> Path:
    """A new venv with the wheel installed; dependencies come from this interpreter's
    site-packages (a .pth file), never from this checkout."""
    env = wheel.parent / "venv"
    venv.EnvBuilder(with_pip=False).create(env)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(env), "platbase": str(env)}))
    borrowed = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "_borrowed.pth").write_text("\n".join(borrowed) + "\n")
    python = env / "bin" / "python"
    # --force-reinstall: the editable vigil of this checkout is visible through the .pth; pip
    # does not touch it (outside the venv) and installs the wheel into the venv.
    run(python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", wheel, cwd=env)
    return env


def test_the_wheel_holds_every_module_and_data_file(wheel: Path):
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    in_wheel = {
        n[:-3].replace("/", ".").removesuffix(".__init__") for n in names if n.endswith(".py")
    }
    assert in_wheel == set(modules())
    cards = {
        p.name for p in package_dirs()["vigil.models"].iterdir() if p.suffix in (".yaml", ".pt")
    }
    assert {f"vigil/models/{c}" for c in cards} <= names
    assert "vigil/events/store/migrations/script.py.mako" in names
    assert "vigil/samples/demo.yaml" in names


def test_every_module_imports_from_the_installed_wheel(fresh_venv: Path, tmp_path: Path):
    wanted = [m for m in modules() if importable(m)]
    out = run(
        fresh_venv / "bin" / "python", "-c", CHECK, json.dumps(wanted), tmp_path / "data",
        cwd=tmp_path,
    )  # fmt: skip
    assert out.split() == ["ok", str(len(wanted))]
    assert "Usage" in run(fresh_venv / "bin" / "vigil", "--help", cwd=tmp_path)
