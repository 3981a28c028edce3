"""`vigil bench`'s parts that need no stream or model: the cameras, the sites, the report."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from vigil.bench import (
    AlertReceiver,
    BenchError,
    BenchPlan,
    format_report,
    naive_cards,
    pick_videos,
    site_for,
)


def test_videos_are_cycled_over_the_cameras(tmp_path: Path):
    for name in ("b.mp4", "a.mp4", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in pick_videos(tmp_path, 3)] == ["a.mp4", "b.mp4", "a.mp4"]
    with pytest.raises(BenchError, match="a.mp4: not a folder"):
        pick_videos(tmp_path / "a.mp4", 1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchError, match="no .mp4 video"):
        pick_videos(tmp_path / "empty", 1)
    with pytest.raises(BenchError, match="at least 1"):
        pick_videos(tmp_path, 0)


def plan(tmp_path: Path, config: Path | None = None) -> BenchPlan:
    return BenchPlan(2, 2.0, 10, 1, [tmp_path / "a.mp4"] * 2, threads=1, config=config)


def test_the_gated_site_keeps_the_configs_gating_and_the_naive_one_has_none(tmp_path: Path):
    config = tmp_path / "site.yaml"
    config.write_text(
        "cameras: [{id: x, source: rtsp://h/x, rules: {fall: {}}}]\n"
        "gating: {full_pass_seconds: 3, rule_fps: {fall: 1}}\n"
    )
    (tmp_path / "a.mp4").write_bytes(b"")
    urls = {"cam0": "rtsp://127.0.0.1:1/cam0", "cam1": str(tmp_path / "a.mp4")}
    hook = "http://127.0.0.1:9/alerts"
    gated = site_for(plan(tmp_path, config), urls, tmp_path, hook, "gated")
    naive = site_for(plan(tmp_path, config), urls, tmp_path, hook, "naive")
    assert [c.id for c in gated.cameras] == ["cam0", "cam1"]
    assert [c.loop for c in gated.cameras] == [False, True]  # files play as cameras
    assert all(sorted(c.rules.enabled()) == ["fall"] and c.fps == 2 for c in gated.cameras)
    assert gated.gating.full_pass_seconds == 3 and gated.gating.rule_fps == {"fall": 1}
    assert naive.gating.motion is False and naive.gating.rule_fps == {}
    assert gated.alerts.channels[0].url == hook
    assert all(card.imgsz == 640 for card in naive_cards(naive).values())


def test_the_alert_receiver_times_new_alerts_from_their_confirming_frame():
    receiver = AlertReceiver()
    try:
        now = time.time()
        for kind, frame in (("new", now - 0.5), ("updated", now - 0.2), ("new", now - 100)):
            body = json.dumps({"type": kind, "after": {"end_wall": frame}}).encode()
            urllib.request.urlopen(urllib.request.Request(receiver.url, body, method="POST"))
        latency = receiver.latency(since=now - 10)
    finally:
        receiver.close()
    assert latency["n"] == 1 and 500 <= latency["p50_ms"] == latency["p95_ms"]


def test_the_report_prints_every_pipeline_and_the_comparison():
    stage = {"n": 3, "p50_ms": 1.0, "p95_ms": 2.0, "max_ms": 3.0}
    pipeline = {
        "analysed_fps": 2.0,
        "analysed_fps_per_camera": {"cam0": 2.0},
        "kept_up": True,
        "cpu_seconds": 10.0,
        "cpu_per_second": 1.0,
        "analysed_per_cpu_second": 2.0,
        "peak_rss_mb": 900.0,
        "rss_mb": {"slope_mb_per_min": 0.5},
        "model_passes": {"fall": 3},
        "skipped": {"cam0": {"late": 1, "fall:still": 2}},
        "alert_latency": {"n": 1, "p50_ms": 300, "p95_ms": 300},
        "events_raised": 1,
        "stages": {"model:fall": stage, "gap_while_clips": stage},
    }
    report = {
        "cameras": 1,
        "fps": 2.0,
        "seconds": 10,
        "warmup": 1,
        "threads": 1,
        "cores": 2,
        "cpu": {"model": "AMD EPYC", "openvino_precisions": ["FP32", "INT8"]},
        "pipelines": {"gated": pipeline, "naive": pipeline},
        "throughput_ratio": 1.0,
        "recall": {"gated": {"fall": 1.0}, "naive": {"fall": None}},
    }
    text = format_report(report)
    assert "[gated]" in text and "[naive]" in text
    assert "CPU: AMD EPYC; OpenVINO computes in FP32, INT8 (no BF16: cards with precision " in text
    assert "skipped: late 1, fall:still 2" in text
    assert "while clips were written: 3.0 ms" in text
    assert "1.00× the naive stack" in text
    assert "event recall (naive): fall —" in text
