"""Bad input to `vigil run` and `vigil status`: one line on stderr, exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

VIGIL = [sys.executable, "-m", "vigil.cli"]


def vigil(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VIGIL, *map(str, args)], capture_output=True, text=True, timeout=120)


def assert_one_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def site(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(text)
    return path


def test_run_without_a_site_file(tmp_path: Path):
    assert_one_line(vigil("run", "--config", tmp_path / "nope.yaml"), "no such file")


def test_run_with_a_bad_url(tmp_path: Path):
    config = site(tmp_path, "cameras: [{id: gate-3, source: 'rtsp://admin:pw@:554/x'}]")
    result = vigil("run", "--config", config)
    assert_one_line(result, "cameras.gate-3", "URL has no host")
    assert "pw" not in result.stderr


def test_run_with_a_file_that_is_not_a_video(tmp_path: Path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("meeting notes\n")
    config = site(tmp_path, f"cameras: [{{id: replay, source: {notes}, loop: true}}]")
    assert_one_line(vigil("run", "--config", config), "camera replay", "not a readable video")


def test_run_with_an_unreachable_database(tmp_path: Path):
    config = site(
        tmp_path,
        "cameras: [{id: a, source: 'rtsp://127.0.0.1:9/x', rules: {fall: {}}}]\n"
        "storage: {database_url: 'postgresql+psycopg://nobody@127.0.0.1:9/none'}\n",
    )
    assert_one_line(vigil("run", "--config", config), "database:")


def test_status_without_a_database(tmp_path: Path):
    assert_one_line(vigil("status", "--data", tmp_path / "empty"), "no Vigil database")


def test_run_with_deeply_nested_yaml(tmp_path: Path):
    config = site(tmp_path, "cameras: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n")
    assert_one_line(vigil("run", "--config", config), "site.yaml", "nested too deeply")


def test_run_with_an_unset_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("VIGIL_TEST_CAM_PASS", raising=False)
    monkeypatch.setenv("VIGIL_TEST_CAM_USER", "admin-name-secret")
    config = site(
        tmp_path,
        "cameras: [{id: gate-3, "
        "source: 'rtsp://${VIGIL_TEST_CAM_USER}:${VIGIL_TEST_CAM_PASS}@10.0.0.7/s'}]\n",
    )
    result = vigil("run", "--config", config)
    assert_one_line(
        result, "cameras.gate-3.source: environment variable VIGIL_TEST_CAM_PASS is not set"
    )
    assert "admin-name-secret" not in result.stderr


def test_run_with_a_zone_past_any_frame(tmp_path: Path):
    config = site(
        tmp_path,
        "cameras: [{id: gate-3, source: 'rtsp://10.0.0.7/s', "
        "zones: [{name: pit, polygon: [[0, 0], [1000000, 0], [0, 1000000]]}]}]\n",
    )
    assert_one_line(vigil("run", "--config", config), "cameras.gate-3.zones.0", "outside any frame")
