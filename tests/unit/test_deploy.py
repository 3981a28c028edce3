"""deploy/compose.yaml (a 3-worker site, docs/SCALE.md) is a valid Compose file, and the
site file it mounts is a valid Vigil site.

Validated against the Compose Specification's JSON schema (tests/compose_spec.json, as Debian's
docker-compose 1.29.2 ships it; Apache-2.0, github.com/compose-spec/compose-spec), and by
`docker compose config` (or Debian's `docker-compose config`) when one of them is installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from vigil.config import load_site_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCHEMA = Path(__file__).resolve().parents[1] / "compose_spec.json"
ENV = {
    "POSTGRES_PASSWORD": "pg-test",
    "MINIO_ROOT_USER": "minio-test",
    "MINIO_ROOT_PASSWORD": "minio-secret-test",
    "VIGIL_SESSION_SECRET": "s" * 40,
    "VIGIL_CAMERA_PASSWORD": "cam-test",
}


def compose_command() -> list[str] | None:
    """`docker compose` if its plugin works here, else `docker-compose`, else None."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_the_compose_file_matches_the_compose_spec_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    document = yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # merges the x- anchors
    schema = json.loads(SCHEMA.read_text())
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(document)]
    assert errors == []
    services = document["services"]
    assert set(services) == {
        "postgres",
        "minio",
        "mosquitto",
        "api",
        *(f"worker-{i}" for i in (1, 2, 3)),
    }
    for name in ("worker-1", "worker-2", "worker-3"):
        assert services[name]["command"][:2] == ["vigil", "run"]
        assert services[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert services["api"]["command"][:2] == ["vigil", "serve"]
    # Each worker stages on its own volume: a staged file is one worker's to upload.
    staging = [
        v
        for n in ("worker-1", "worker-2", "worker-3")
        for v in services[n]["volumes"]
        if "staging" in v
    ]
    assert len(set(staging)) == 3


def test_compose_config_accepts_it_with_secrets_and_refuses_it_without(tmp_path: Path) -> None:
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    base = [*command, "-f", str(DEPLOY / "compose.yaml"), "config", "-q"]
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path)}
    ok = subprocess.run(base, env={**env, **ENV}, capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run(base, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert missing.returncode != 0 and "POSTGRES_PASSWORD" in missing.stderr


def test_the_mounted_site_is_a_valid_site_with_media_in_the_object_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIGIL_DATABASE_URL", "postgresql+psycopg://vigil:x@postgres:5432/vigil")
    monkeypatch.setenv("VIGIL_S3_ACCESS_KEY", "minio-test")
    monkeypatch.setenv("VIGIL_S3_SECRET_KEY", "minio-secret-test")
    monkeypatch.setenv("VIGIL_CAMERA_PASSWORD", "cam-test")
    site = load_site_config(DEPLOY / "site.yaml")
    settings = site.storage.object_store()
    assert settings is not None and settings.endpoint_url == "http://minio:9000"
    assert settings.secret_key == "minio-secret-test"
    assert "minio-secret-test" not in repr(site.storage) + repr(settings)
