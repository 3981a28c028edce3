"""Site files for `vigil run`: cameras, sources, zones by name, one clear line per problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vigil.config import ConfigError, SiteConfig, load_detect_site, load_site_config
from vigil.detector.cards import CardError, load_card
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


def test_the_example_site_is_valid(videos: Path):
    root = Path(__file__).resolve().parents[2]
    # Its replay camera names ../../shared/data/videos/fall_01.mp4, from the file's folder.
    site = load_site_config(root / "examples" / "site.yaml")
    assert [c.id for c in site.enabled_cameras] == ["gate-3", "yard-mjpeg", "replay"]
    assert Path(site.cameras[2].spec.url).resolve() == (videos / "fall_01.mp4").resolve()


# --- issue 12, finding 2: credentials masked whatever their shape, and read from the env ---


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://viewer:PASS@host/s?token=T", "rtsp://viewer:***@host/s?token=***"),
        ("rtsp://APIKEY@host/s", "rtsp://***@host/s"),
        ("rtsp://u:p@ss@host:554/s", "rtsp://u:***@host:554/s"),  # '@' in the password
        ("rtsp://u:pa/ss@host/s", "rtsp://u:***@host/s"),  # an unescaped '/' in it
        (
            "https://cdn/live.m3u8?api_key=K&Signature=S&X-Amz-Credential=C&page=2",
            "https://cdn/live.m3u8?api_key=***&Signature=***&X-Amz-Credential=***&page=2",
        ),
        (
            "http://cam/video.cgi?user=admin&pwd=P&resolution=720",
            "http://cam/video.cgi?user=admin&pwd=***&resolution=720",
        ),
        ("http://cam/user=admin&password=P/stream", "http://cam/user=admin&password=***/stream"),
        ("rtsp://u:p@[::1/x", "rtsp://u:***@[::1/x"),  # unparseable: masked all the same
        ("rtsp://10.0.0.7/s?channel=1", "rtsp://10.0.0.7/s?channel=1"),
    ],
)
def test_redact_masks_credentials_whatever_their_shape(url: str, shown: str):
    assert redact(url) == shown


def test_a_camera_source_is_masked_wherever_it_is_shown():
    camera = SiteConfig.model_validate(
        {"cameras": [{"id": "a", "source": "rtsp://APIKEY@10.0.0.7/s?token=T0K3N"}]}
    ).cameras[0]
    assert camera.spec.display == "rtsp://***@10.0.0.7/s?token=***"
    assert "APIKEY" in camera.spec.url  # what the reader opens keeps them


def test_status_json_masks_a_source_stored_unmasked():
    from vigil.status import health_json
    from vigil.streams.health import CameraState, HealthSnapshot

    row = HealthSnapshot(
        camera="a",
        name=None,
        source="rtsp://viewer:PASS@h/s?token=T0K3N",
        state=CameraState.LIVE,
        state_since=0.0,
        fps_in=0.0,
        fps_analysed=0.0,
        last_frame_wall=None,
        reconnects=0,
        skipped=0,
        last_error=None,
        worker="w",
        updated_at=0.0,
    )
    shown = json.dumps(health_json(row))
    assert "PASS" not in shown and "T0K3N" not in shown


def test_an_unparseable_url_never_prints_its_password(tmp_path: Path):
    message = load_error(tmp_path, "cameras: [{id: a, source: 'rtsp://admin:hunter2@[::1/x'}]")
    assert "not a valid URL" in message and "hunter2" not in message


def test_secrets_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CAM_PASS", "hunter2")
    monkeypatch.setenv("CAM_TOKEN", "T0K3N")
    path = site_file(
        tmp_path,
        "cameras: [{id: gate-3, source: 'rtsp://viewer:${CAM_PASS}@h/s?token=${CAM_TOKEN}'}]\n"
        "storage: {database_url: 'postgresql://vigil:${CAM_PASS}@db/vigil', data_dir: '$${x}'}\n",
    )
    site = load_site_config(path)
    assert site.cameras[0].spec.url == "rtsp://viewer:hunter2@h/s?token=T0K3N"
    assert site.cameras[0].spec.display == "rtsp://viewer:***@h/s?token=***"
    assert site.storage.database_url == "postgresql://vigil:hunter2@db/vigil"
    assert site.storage.data_dir.name == "${x}"  # $${ is a literal ${


def test_an_unset_variable_is_one_line_naming_it_and_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("CAM_PASS", raising=False)
    monkeypatch.setenv("CAM_USER", "viewer-secret-name")
    message = load_error(
        tmp_path,
        "cameras:\n  - {id: a, source: 'rtsp://h/x'}\n"
        "  - {id: gate-3, source: 'rtsp://${CAM_USER}:${CAM_PASS}@h/s'}\n",
    )
    assert message.endswith("cameras.gate-3.source: environment variable CAM_PASS is not set")
    assert "viewer-secret-name" not in message


# --- issue 12, finding 7: YAML nested past Python's recursion limit ---


@pytest.mark.parametrize("nesting", ["[" * 5000 + "]" * 5000, "{a: " * 5000 + "1" + "}" * 5000])
def test_deeply_nested_yaml_is_one_line(tmp_path: Path, nesting: str):
    message = load_error(tmp_path, f"cameras: {nesting}\n")
    assert message.endswith("site.yaml: not readable YAML (nested too deeply)")
    path = tmp_path / "card.yaml"
    path.write_text(f"name: {nesting}\n")
    with pytest.raises(CardError, match="card.yaml: not readable YAML .nested too deeply"):
        load_card(path)


def test_yaml_aliases_are_expanded_once(tmp_path: Path):
    """A 'billion laughs' file: aliases nest 9 levels of 10 (1e9 leaves) in a few lines."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    message = load_error(tmp_path, "\n".join(lines) + "\ncameras: []\n")
    assert "a9: Extra inputs are not permitted" in message


# --- code health: one error type, one config schema, paths from the file's folder ---


def test_every_user_error_is_a_vigil_error_with_exit_status_2():
    from vigil import VigilError
    from vigil.evaluate.dataset import DatasetError
    from vigil.evaluate.groundtruth import GroundTruthError
    from vigil.events.evidence import EvidenceError

    for error in (ConfigError, CardError, SourceError, EvidenceError, DatasetError):
        assert issubclass(error, VigilError) and error("x").exit_code == 2
    assert issubclass(GroundTruthError, VigilError)


def test_detect_short_form_is_a_one_camera_site(tmp_path: Path):
    path = site_file(
        tmp_path,
        "camera: gate-3\nfps: 1\nzones: [{name: pit, polygon: [[0, 0], [100, 0], [100, 100]]}]\n"
        "rules: {restricted_zone: {zones: [pit]}}\nevidence: {pre_seconds: 1}\n",
    )
    site = load_detect_site(path, default_id="ignored")
    assert isinstance(site, SiteConfig) and [c.id for c in site.cameras] == ["gate-3"]
    assert site.camera.fps == 1 and site.camera.source is None
    assert site.camera.rules.restricted_zone.zones[0].name == "pit"
    assert site.evidence_of(site.camera).pre_seconds == 1
    defaults = load_detect_site(None, default_id="clip")
    assert defaults.camera.id == "clip"
    assert sorted(defaults.camera.rules.enabled()) == ["fall", "fire", "no_helmet", "smoke"]


def test_detect_short_form_errors_name_the_fields_as_written(tmp_path: Path):
    def error(text: str) -> str:
        with pytest.raises(ConfigError) as info:
            load_detect_site(site_file(tmp_path, text))
        return str(info.value)

    assert "rules.no_hardhat: Extra inputs are not permitted" in error("rules: {no_hardhat: {}}")
    assert error("fps: 0").endswith("site.yaml: fps: Input should be greater than 0")
    assert "camera: camera id 'a b'" in error("camera: 'a b'")
    assert "colour: Extra inputs are not permitted" in error("colour: red")


def test_detect_takes_a_site_and_its_camera_by_id(tmp_path: Path):
    text = (
        "cameras:\n  - {id: gate-3, source: 'rtsp://h/1', fps: 1}\n"
        "  - {id: yard, source: 'rtsp://h/2', rules: {fire: {}}}\n"
    )
    path = site_file(tmp_path, text)
    yard = load_detect_site(path, camera="yard")
    assert yard.camera.id == "yard" and sorted(yard.camera.rules.enabled()) == ["fire"]
    assert yard.camera.source is None  # the recording comes from the command line
    with pytest.raises(ConfigError, match="2 cameras; choose one with --camera .gate-3, yard."):
        load_detect_site(path)
    with pytest.raises(ConfigError, match="no camera 'dock'"):
        load_detect_site(path, camera="dock")


def test_a_site_for_run_needs_every_source(tmp_path: Path):
    assert "cameras.a.source: Field required" in load_error(tmp_path, "cameras: [{id: a}]")


def test_relative_paths_are_taken_from_the_config_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    folder = tmp_path / "site"
    (folder / "cards").mkdir(parents=True)
    (folder / "dock.mp4").write_bytes(b"checked when read")
    monkeypatch.chdir(tmp_path)  # elsewhere: a path taken from here would not exist
    path = folder / "site.yaml"
    path.write_text(
        "cameras: [{id: dock, source: dock.mp4}]\n"
        "storage: {data_dir: data}\nmodels: {card_dirs: [cards]}\n"
    )
    site = load_site_config(path)
    assert Path(site.cameras[0].spec.url) == folder / "dock.mp4"
    assert site.storage.data_dir == folder / "data"
    assert site.models.card_dirs == [folder / "cards"]
    assert load_detect_site(path).storage.data_dir == folder / "data"
    relative = load_site_config(Path("site/site.yaml"))  # a relative config path, too
    assert relative.storage.data_dir.resolve() == folder / "data"
    assert SiteConfig.model_validate(
        {"cameras": [{"id": "a", "source": "rtsp://h/x"}], "storage": {"data_dir": "d"}}
    ).storage.data_dir == Path("d")  # no file: as given


def test_reader_options_come_from_the_config():
    site = SiteConfig.model_validate(
        {
            "cameras": [
                {"id": "a", "source": "rtsp://h/x", "fps": 3, "reconnect": {"stall_seconds": 9}},
                {"id": "b", "source": "rtsp://h/y"},
            ],
            "reconnect": {"open_timeout": 4, "fail_after": 5},
        }
    )
    a = site.reader_options(site.cameras[0], ring_seconds=12.5)
    b = site.reader_options(site.cameras[1], ring_seconds=7)
    assert (a.analysis_fps, a.stall_seconds, a.open_timeout, a.ring_seconds) == (3, 9, 10, 12.5)
    assert (b.analysis_fps, b.open_timeout, b.fail_after, b.stall_seconds) == (2, 4, 5, 5)


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


def test_one_public_url_for_the_api_and_the_alert_links(tmp_path: Path):
    camera = 'cameras: [{id: a, source: "0"}]\n'
    hook = "alerts: {channels: [{name: h, kind: webhook, url: 'http://127.0.0.1:9/h'}]"
    site = load_site_config(
        site_file(tmp_path, camera + "api: {public_url: 'https://vigil.plant/'}\n" + hook + "}")
    )
    assert site.alerts.public_url == "https://vigil.plant"  # alert links follow the API's
    old = load_site_config(site_file(tmp_path, camera + hook + ", public_url: 'https://v.old'}"))
    assert old.api.public_url == old.alerts.public_url == "https://v.old"
    same = camera + "api: {public_url: 'https://v.x/'}\n" + hook + ", public_url: 'https://v.x'}"
    assert load_site_config(site_file(tmp_path, same)).alerts.public_url == "https://v.x"
    differ = camera + "api: {public_url: 'https://a.x'}\n" + hook + ", public_url: 'https://b.x'}"
    assert "public_url differs in api: and alerts:" in load_error(tmp_path, differ)
    none = load_site_config(site_file(tmp_path, camera + hook + "}"))
    assert none.api.public_url is None and none.alerts.public_url is None


def test_worker_leases_are_checked(tmp_path: Path):
    camera = "cameras: [{id: a, source: 'rtsp://10.0.0.7/s'}]\n"
    message = load_error(tmp_path, camera + "worker: {lease_ttl_s: 4, heartbeat_s: 3}")
    assert "heartbeat_s (3) must be at most half of worker.lease_ttl_s (4)" in message
    assert "max_cameras" in load_error(tmp_path, camera + "worker: {max_cameras: 0}")
    site = load_site_config(site_file(tmp_path, camera + "worker: {max_cameras: 8}"))
    assert (site.worker.max_cameras, site.worker.lease_ttl_s, site.worker.heartbeat_s) == (8, 6, 2)


def test_a_detect_source_is_validated_and_masked_like_the_source(tmp_path: Path):
    site = load_site_config(
        site_file(
            tmp_path,
            """
cameras:
  - id: gate-3
    source: rtsp://admin:hunter2@10.0.0.7/main
    detect_source: rtsp://admin:hunter2@10.0.0.7/sub?token=T0K3N&channel=2
    transport: udp
  - {id: yard, source: "rtsp://10.0.0.8/s"}
""",
        )
    )
    gate, yard = site.cameras
    assert gate.detect_spec.kind == "rtsp" and gate.detect_spec.transport == "udp"
    assert gate.detect_spec.display == "rtsp://admin:***@10.0.0.7/sub?token=***&channel=2"
    assert "hunter2" in gate.detect_spec.url and "T0K3N" in gate.detect_spec.url
    assert yard.detect_spec is None  # without it, the source is decoded as before


@pytest.mark.parametrize(
    ("source", "detect", "words"),
    [
        ("rtsp://h/main", "ftp://admin:hunter2@h/sub", ["detect_source 'ftp://admin:***@h/sub'"]),
        ("rtsp://h/main", "rtsp://admin:hunter2@h:0/sub", ["detect_source", "port 0"]),
        ("rtsp://h/main", "rtsp://admin:hunter2@[::1/x", ["detect_source", "not a valid URL"]),
        ("rtsp://h/main", "webcam:0", ["detect_source '/dev/video0': must be a network"]),
        ("webcam:0", "rtsp://admin:hunter2@h/sub", ["needs a network source", "webcam"]),
        ("rtsp://admin:hunter2@h/m", "rtsp://admin:hunter2@h/m", ["same stream as source"]),
        ("rtsp://h/main", "", ["detect_source is empty"]),
    ],
)
def test_a_bad_detect_source_is_one_line_naming_the_camera_and_field(
    tmp_path: Path, source: str, detect: str, words: list[str]
):
    message = load_error(
        tmp_path, f"cameras: [{{id: gate-3, source: '{source}', detect_source: '{detect}'}}]"
    )
    assert message.startswith("config ") and "cameras.gate-3: " in message
    for word in words:
        assert word in message
    assert "hunter2" not in message


def test_the_health_source_shows_both_streams_masked():
    from vigil.streams.reader import sources_shown

    camera = SiteConfig.model_validate(
        {
            "cameras": [
                {"id": "a", "source": "rtsp://u:PASS@h/main", "detect_source": "rtsp://KEY@h/sub"}
            ]
        }
    ).cameras[0]
    shown = sources_shown(camera.spec, camera.detect_spec)
    assert shown == "rtsp://u:***@h/main (detect: rtsp://***@h/sub)"
