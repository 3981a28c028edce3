"""Site files for `vigil run`: cameras, sources, zones by name, one clear line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.config import ConfigError, SiteConfig, load_site_config
from vigil.streams.file import SourceError
from vigil.streams.sources import parse_source, redact

ZONE = {"name": "pit", "polygon": [[0, 0], [100, 0], [100, 100]]}


def site_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_site_config(site_file(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_full_site_loads(tmp_path: Path):
    video = tmp_path / "cam.mp4"
    video.write_bytes(b"not checked here")
    images = tmp_path / "stills"
    images.mkdir()
    (images / "a.jpg").write_bytes(b"")
    site = load_site_config(
        site_file(
            tmp_path,
            f"""
cameras:
  - id: gate-3
    name: Gate 3
    source: rtsp://admin:secret@10.0.0.7:554/stream1
    transport: udp
    fps: 1
    zones: [{{name: pit, polygon: [[0, 0], [100, 0], [100, 100]]}}]
    rules:
      restricted_zone: {{zones: [pit], dwell: 1}}
      no_helmet: {{zones: [pit]}}
  - {{id: yard, source: "http://10.0.0.8/mjpeg"}}
  - {{id: replay, source: {video}, loop: true, evidence: {{pre_seconds: 1}}}}
  - {{id: stills, source: {images}}}
  - {{id: usb, source: "webcam:0", enabled: false}}
reconnect: {{stall_seconds: 3}}
""",
        )
    )
    gate, yard, replay, stills, usb = site.cameras
    assert gate.spec.kind == "rtsp" and gate.spec.transport == "udp"
    assert gate.spec.display == "rtsp://admin:***@10.0.0.7:554/stream1"
    assert gate.rules.restricted_zone.zones[0].name == "pit"
    assert sorted(gate.rules.enabled()) == ["no_helmet", "restricted_zone"]
    assert sorted(yard.rules.enabled()) == ["fall", "fire", "no_helmet", "smoke"]  # defaults
    assert replay.spec.kind == "file" and replay.spec.live
    assert site.evidence_of(replay).pre_seconds == 1 and site.evidence_of(yard).pre_seconds == 3
    assert site.reconnect_of(yard).stall_seconds == 3
    assert stills.spec.kind == "images" and not stills.spec.live
    assert [c.id for c in site.enabled_cameras] == ["gate-3", "yard", "replay", "stills"]
    assert usb.spec.url == "/dev/video0"


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("ftp://cam/x", ["cameras.gate-3", "unsupported scheme 'ftp'"]),
        ("rtsp://", ["URL has no host"]),
        ("rtsp://cam:99999/x", ["not a valid URL"]),
        ("/no/such/file.mp4", ["no such file or folder"]),
        ("rtsp://admin:hunter2@cam:notaport/x", ["not a valid URL"]),
    ],
)
def test_bad_sources_give_one_line_naming_the_camera(tmp_path: Path, source: str, words):
    message = load_error(tmp_path, f"cameras: [{{id: gate-3, source: '{source}'}}]")
    for word in words:
        assert word in message
    assert "hunter2" not in message


def test_other_site_mistakes(tmp_path: Path):
    assert "cameras: List should have at least 1 item" in load_error(tmp_path, "cameras: []")
    dup = "cameras: [{id: a, source: 'rtsp://h/x'}, {id: a, source: 'rtsp://h/y'}]"
    assert "camera id 'a' is used twice" in load_error(tmp_path, dup)
    bad_id = "cameras: [{id: 'a b', source: 'rtsp://h/x'}]"
    assert "cameras.0.id: camera id 'a b': use 1 to 64 letters" in load_error(tmp_path, bad_id)
    unknown_zone = (
        "cameras: [{id: a, source: 'rtsp://h/x', rules: {restricted_zone: {zones: [nope]}}}]"
    )
    assert "no camera zone named 'nope'" in load_error(tmp_path, unknown_zone)
    extra = "cameras: [{id: a, source: 'rtsp://h/x', colour: red}]"
    assert "cameras.a.colour: Extra inputs are not permitted" in load_error(tmp_path, extra)
    backoff = (
        "cameras: [{id: a, source: 'rtsp://h/x'}]\nreconnect: {backoff_initial: 9, backoff_max: 1}"
    )
    assert "backoff_initial (9) exceeds backoff_max (1)" in load_error(tmp_path, backoff)
    assert "transport 'udp' applies to rtsp only" in load_error(
        tmp_path, "cameras: [{id: a, source: 'http://h/x', transport: udp}]"
    )


def test_zone_defined_inline_still_works():
    site = SiteConfig.model_validate(
        {
            "cameras": [
                {"id": "a", "source": "rtsp://h/x", "rules": {"restricted_zone": {"zones": [ZONE]}}}
            ]
        }
    )
    assert site.cameras[0].rules.restricted_zone.zones[0].name == "pit"


def test_sources_parse_and_redact():
    assert parse_source("0").kind == "webcam"
    assert parse_source("https://h/live.m3u8").kind == "http"
    assert redact("rtsp://u:p@h:554/x") == "rtsp://u:***@h:554/x"
    assert redact("rtsp://h/x") == "rtsp://h/x"
    with pytest.raises(SourceError, match="empty"):
        parse_source("  ")


def test_the_example_site_is_valid(monkeypatch: pytest.MonkeyPatch, videos: Path):
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)  # its replay camera names ../shared/data/videos/fall_01.mp4
    site = load_site_config(root / "examples" / "site.yaml")
    assert [c.id for c in site.enabled_cameras] == ["gate-3", "yard-mjpeg", "replay"]


def test_alert_channels_in_a_site(tmp_path: Path):
    site = load_site_config(
        site_file(
            tmp_path,
            """
cameras: [{id: gate-3, source: "rtsp://10.0.0.7/s1"}]
alerts:
  public_url: https://vigil.plant.example/
  channels:
    - {name: scada, kind: webhook, url: "https://scada.example/hook", secret: k}
    - name: phones
      kind: apprise
      urls: ["ntfy://ntfy.example/fire"]
      filter: {rules: [fire], min_severity: high, quiet_hours: ["12:00-13:00"], cooldown: 300}
""",
        )
    )
    assert [c.kind for c in site.alerts.channels] == ["webhook", "apprise"]
    assert site.alerts.public_url == "https://vigil.plant.example"
    assert site.alerts.channels[1].filter.cooldown == 300
    assert SiteConfig.model_validate({"cameras": [{"id": "a", "source": "0"}]}).alerts is None
    bad = 'cameras: [{id: a, source: "0"}]\nalerts: {channels: [{name: x, kind: webhook}]}'
    assert "alerts.channels.0.webhook.url: Field required" in load_error(tmp_path, bad)
