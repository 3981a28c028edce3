"""Bad input to `vigil detect`: one line on stderr, exit status 2, nothing written."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

VIGIL = [sys.executable, "-m", "vigil.cli"]


def vigil_detect(*args: str | Path, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VIGIL, "detect", *map(str, args), "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], data: Path, *words: str):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, f"expected one line, got:\n{result.stderr}"
    assert lines[0].startswith("error: ")
    for word in words:
        assert word in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    media = data / "media"
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))
    db = data / "vigil.db"
    if db.exists():
        with sqlite3.connect(db) as conn:
            assert conn.execute("select count(*) from events").fetchone() == (0,)


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_missing_file(tmp_path: Path):
    result = vigil_detect(tmp_path / "nope.mp4", data=tmp_path / "data")
    assert_clean_failure(result, tmp_path / "data", "nope.mp4", "no such file")


def test_not_a_video(tmp_path: Path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are meeting notes, not a video\n")
    result = vigil_detect(fake, data=tmp_path / "data")
    assert_clean_failure(result, tmp_path / "data", "notes.mp4", "not a readable video")


def test_truncated_video(videos: Path, tmp_path: Path):
    whole = (videos / "fire_01.mp4").read_bytes()
    cut = tmp_path / "fire_cut.mp4"
    cut.write_bytes(whole[: len(whole) // 3])
    result = vigil_detect(cut, data=tmp_path / "data")
    assert_clean_failure(result, tmp_path / "data", "fire_cut.mp4", "truncated")


def test_unknown_rule(videos: Path, tmp_path: Path):
    config = write_config(tmp_path, "rules:\n  no_hardhat: {}\n")
    result = vigil_detect(videos / "fall_01.mp4", "--config", config, data=tmp_path / "data")
    assert_clean_failure(result, tmp_path / "data", "rules.no_hardhat", "not permitted")


def test_zone_with_two_points(videos: Path, tmp_path: Path):
    config = write_config(
        tmp_path,
        "rules:\n  restricted_zone:\n    zones:\n"
        "      - {name: pit, polygon: [[0, 0], [100, 100]]}\n",
    )
    result = vigil_detect(videos / "fall_01.mp4", "--config", config, data=tmp_path / "data")
    assert_clean_failure(result, tmp_path / "data", "zone 'pit'", "at least 3 points")


def test_no_harness_without_a_harness_model(videos: Path, tmp_path: Path):
    config = write_config(
        tmp_path,
        "rules:\n  no_harness:\n    zones:\n"
        "      - {name: rig, polygon: [[0, 0], [100, 0], [100, 100]]}\n",
    )
    result = vigil_detect(videos / "fall_01.mp4", "--config", config, data=tmp_path / "data")
    assert_clean_failure(result, tmp_path / "data", "no_harness", "no installed model card")


def test_config_that_is_not_yaml(videos: Path, tmp_path: Path):
    config = write_config(tmp_path, "rules: [unclosed\n")
    result = vigil_detect(videos / "fall_01.mp4", "--config", config, data=tmp_path / "data")
    assert_clean_failure(result, tmp_path / "data", "config.yaml", "YAML")


def test_models_lists_every_default_card():
    result = subprocess.run([*VIGIL, "models"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for name in ("helmet", "fall", "fire"):
        assert name in result.stdout


def test_models_names_the_package_to_install_when_weights_are_missing(tmp_path: Path):
    (tmp_path / "hats.yaml").write_text(
        "name: hats\nweights: {package: no-such-hat-weights, resource: w/best.pt}\n"
        "licence: MIT\nsource: test\nclass_map: {hat: head_helmet}\n"
    )
    result = subprocess.run(
        [*VIGIL, "models", "--cards", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "missing" in result.stdout
    assert result.stderr.strip().splitlines() == [
        "error: model 'hats' needs the package 'no-such-hat-weights': "
        "pip install --no-deps no-such-hat-weights"
    ]
