"""bin/dev and the servers' install scripts recover from a venv that failed half-way, and the demo prints
the hub login it really uses."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers.jupyterhub.localhub import DEFAULT_USER_PASSWORD

ROOT = Path(__file__).resolve().parents[1]

# Like Debian's python3 without python3.11-venv: venv leaves bin/python behind, then fails at ensurepip.
NO_ENSUREPIP = f"""#!/bin/sh
if [ "$1" = -m ] && [ "$2" = venv ]; then {sys.executable} -m venv --without-pip "$3"; exit 1; fi
exec {sys.executable} "$@"
"""


@pytest.mark.parametrize("command, venv_variable", [
    (["bin/dev", "demo"], "ESAP_VENV"),
    (["bash", "tests/servers/jupyterhub/install.sh"], "ESAP_HUB_VENV"),
    (["bash", "tests/servers/rucio/install.sh"], "ESAP_RUCIO_VENV"),
])
def test_a_half_made_venv_is_made_again_and_the_missing_package_is_named(tmp_path, command, venv_variable):
    python = tmp_path / "python"
    python.write_text(NO_ENSUREPIP)
    python.chmod(0o755)
    env = {**os.environ, "PYTHON": str(python), venv_variable: str(tmp_path / "venv")}
    want = "apt-get install python%d.%d-venv" % sys.version_info[:2]

    for _ in range(2):  # the second run tries venv again instead of failing at a missing pip
        run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 1 and want in run.stderr, run.stderr
        assert (tmp_path / "venv" / "bin" / "python").exists()


def test_the_demo_prints_the_hub_login_the_demo_hub_uses():
    text = (ROOT / "bin" / "dev").read_text()
    assert f"ESAP_HUB_USER_PASSWORD:-{DEFAULT_USER_PASSWORD}" in text
    assert "your portal user name (demo) / $hub_password" in text
