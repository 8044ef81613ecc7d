"""The docker/ files cannot be built here (no Docker engine, no compose plugin, no hadolint), so they are
checked for what can drift from the code: YAML that parses, Dockerfiles that exist, COPY sources that
exist, and settings that the code really reads."""
import re
from pathlib import Path

import yaml

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


def test_every_esap_setting_the_stack_passes_is_read_by_the_code():
    read = set(re.findall(r'"(ESAP_[A-Z_]+)"', (ROOT / "esap" / "settings.py").read_text()))
    hub_config = (ROOT / "tests" / "servers" / "jupyterhub" / "jupyterhub_config.py").read_text()
    read |= set(re.findall(r'"(ESAP_HUB_[A-Z_]+)"', hub_config))
    passed = set()
    for service in COMPOSE["services"].values():
        passed |= {key for key in (service.get("environment") or {}) if key.startswith("ESAP_")}
    dockerfiles = " ".join(p.read_text() for p in (ROOT / "docker").glob("*Dockerfile"))
    passed |= set(re.findall(r"(ESAP_[A-Z_]+)=", dockerfiles))
    assert passed and passed <= read, passed - read
