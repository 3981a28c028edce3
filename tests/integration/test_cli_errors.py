"""Bad input to `vigil detect`: one line on stderr, exit status 2, nothing written."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from videomake import write_video

import vigil

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


def test_deeply_nested_config_is_one_line(videos: Path, tmp_path: Path):
    config = write_config(tmp_path, "rules: " + "[" * 5000 + "]" * 5000 + "\n")
    result = vigil_detect(videos / "fall_01.mp4", "--config", config, data=tmp_path / "data")
    assert_clean_failure(result, tmp_path / "data", "config.yaml", "nested too deeply")


def test_a_file_named_like_a_protocol_is_read_as_a_file(tmp_path: Path):
    """Through FFmpeg's concat protocol the name would read a.mp4 then b.mp4, two videos."""
    write_video(tmp_path / "a.mp4", 10, 10)
    write_video(tmp_path / "b.mp4", 10, 10)
    (tmp_path / "concat:a.mp4|b.mp4").write_text("not a video, whatever its name says\n")
    result = subprocess.run(
        [*VIGIL, "detect", "concat:a.mp4|b.mp4", "--data", "data"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert_clean_failure(result, tmp_path / "data", "concat:a.mp4|b.mp4", "not a readable video")


def test_unknown_site_camera_is_one_line(videos: Path, tmp_path: Path):
    config = write_config(tmp_path, "cameras: [{id: gate-3, source: 'rtsp://h/x'}]\n")
    result = vigil_detect(
        videos / "fall_01.mp4", "--config", config, "--camera", "dock", data=tmp_path / "data"
    )
    assert_clean_failure(result, tmp_path / "data", "no camera 'dock'")


@pytest.mark.slow
def test_a_low_frame_rate_recording_with_a_zone_off_its_frame(tmp_path: Path):
    """A 0.5 fps time-lapse is read whole; a zone the 64x48 frame does not show is one warning
    line on stderr; the config's relative data_dir is taken from the config's folder."""
    video = write_video(tmp_path / "lapse.mp4", Fraction(1, 2), 8)
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "detect.yaml").write_text(
        "rules:\n  restricted_zone:\n    zones:\n"
        "      - {name: far, polygon: [[100, 100], [200, 100], [200, 200]]}\n"
        "storage: {data_dir: out}\n"
    )
    result = subprocess.run(
        [*VIGIL, "detect", str(video), "--config", "site/detect.yaml", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # no events on flat grey frames
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1
    assert "camera lapse: zone 'far' lies wholly outside the 64x48 frame" in warnings[0]
    assert (folder / "out" / "vigil.db").is_file() and not (tmp_path / "out").exists()


def test_version():
    result = subprocess.run([*VIGIL, "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"vigil {vigil.__version__}"


def test_log_level_is_a_global_option_that_configures_every_command(tmp_path: Path):
    from typer.testing import CliRunner

    from vigil.cli import app

    result = CliRunner().invoke(app, ["--log-level", "debug", "status", "--data", str(tmp_path)])
    assert result.exit_code == 2 and "no Vigil database" in result.output
    assert logging.getLogger().level == logging.DEBUG
    CliRunner().invoke(app, ["--log-level", "error", "models", "--json"])
    assert logging.getLogger().level == logging.ERROR
    bad = subprocess.run(
        [*VIGIL, "--log-level", "loud", "models"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "loud" in bad.stderr


def test_models_json_says_which_card_serves_each_label():
    result = subprocess.run(
        [*VIGIL, "models", "--json"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    cards = {c["name"]: c for c in map(json.loads, result.stdout.splitlines())}
    assert cards["site_ppe"]["serves"] == ["head_bare", "head_helmet", "person"]
    assert cards["site_ppe"]["supersedes"] == ["helmet"]
    assert cards["helmet"]["serves"] == [] and cards["helmet"]["superseded_by"] == ["site_ppe"]
    assert cards["fire"]["serves"] == ["fire", "smoke"]
    assert cards["fire_smoke"]["serves"] == [] and cards["fire_smoke"]["superseded_by"] == ["fire"]
    assert cards["fall"]["serves"] == ["person_fallen"] and cards["fall"]["rules"] == ["fall"]
    assert "no_helmet" in cards["site_ppe"]["rules"]
    # Every label a rule needs is served by exactly one card.
    served = [label for c in cards.values() for label in c["serves"]]
    assert len(served) == len(set(served))
    table = subprocess.run([*VIGIL, "models"], capture_output=True, text=True, timeout=120)
    assert "superseded by" in table.stdout and "site_ppe" in table.stdout
    assert "no_harness: no card provides harness" in table.stdout
