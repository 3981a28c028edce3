"""`vigil bench` end to end: real videos served over RTSP, the real worker and models, a
short window. Checks the report's structure and that frames were analysed (no timings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _bench(videos: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`vigil bench --json` on ``videos`` at 2 fps after a 6 s warm-up, one thread."""
    return subprocess.run(
        [sys.executable, "-m", "vigil.cli", "bench", "--videos", str(videos)]
        + ["--fps", "2", "--warmup", "6", "--json", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


@pytest.mark.slow
@pytest.mark.needs_rtsp
def test_bench_reports_what_the_worker_did(videos: Path, tmp_path: Path):
    result = _bench(videos, tmp_path, "--cameras", "2", "--seconds", "15")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["cameras"] == 2 and list(report["videos"]) == ["cam0", "cam1"]
    gated = report["pipelines"]["gated"]
    assert set(gated["analysed_fps_per_camera"]) == {"cam0", "cam1"}
    assert all(n > 0 for n in gated["analysed_fps_per_camera"].values())
    assert gated["analysed"] > 0 and gated["cpu_seconds"] > 0 and gated["peak_rss_mb"] > 0
    for stage in ("decode", "motion", "tracking", "rules", "gap"):
        assert gated["stages"][stage]["n"] > 0, stage
        assert gated["stages"][stage]["p50_ms"] <= gated["stages"][stage]["p95_ms"]
    # Every model ran, and on no more frames than were analysed (give or take the analysis in
    # progress on each camera at either edge of the window).
    assert gated["model_passes"] and all(
        0 < n <= gated["analysed"] + 2 for n in gated["model_passes"].values()
    )
    for camera in ("cam0", "cam1"):
        skipped = gated["skipped"][camera]
        assert "late" in skipped and all(n >= 0 for n in skipped.values())
        for key in set(skipped) - {"late"}:
            model, why = key.split(":")
            assert model in gated["model_passes"] and why in ("still", "rate")
    # The fire card serves only smoke and fire, analysed at 1 fps by default: never more often
    # than the helmet model, which runs at the camera's 2 fps.
    passes = gated["model_passes"]
    assert passes["fire"] <= passes["site_ppe"] + 2
    assert set(gated["alert_latency"]) == {"n", "p50_ms", "p95_ms"}
    assert "naive" not in report["pipelines"] and "throughput_ratio" not in report


def test_bench_refuses_bad_input_in_one_line(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "vigil.cli", "bench", "--videos", str(tmp_path), "--cameras", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --videos {tmp_path}: no .mp4 video in it"
    ]


@pytest.mark.slow
@pytest.mark.needs_rtsp
def test_bench_detects_on_a_substream_when_asked(videos: Path, tmp_path: Path):
    result = _bench(videos, tmp_path, "--cameras", "1", "--seconds", "8", "--substream", "320x180")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["substream"] == "320x180" and list(report["videos"]) == ["cam0"]
    gated = report["pipelines"]["gated"]
    assert gated["analysed_fps_per_camera"]["cam0"] > 0
    assert gated["stages"]["decode"]["n"] > 0


@pytest.mark.parametrize("size", ["320", "0x0", "321x180", "axb"])
def test_bench_refuses_a_bad_substream_size_in_one_line(tmp_path: Path, size: str):
    result = subprocess.run(
        [sys.executable, "-m", "vigil.cli", "bench", "--substream", size],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --substream '{size}': ")
