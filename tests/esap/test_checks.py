"""System checks of a production deployment (DEBUG off): what `manage.py check` says before it serves."""
import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.checks import run_checks

from esap.env import DEVELOPMENT_SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]


def esap_check_ids() -> list[str]:
    return [message.id for message in run_checks() if message.id.startswith("esap.")]


def test_production_without_a_secret_key_fails_the_check_naming_the_variable():
    unset = {"ESAP_SECRET_KEY", "ESAP_FIELD_ENCRYPTION_KEYS"}
    environ = {name: value for name, value in os.environ.items() if name not in unset}

    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**environ, "ESAP_DEBUG": "false"})

    assert done.returncode == 1, done.stderr
    assert "(esap.E001) ESAP_SECRET_KEY is not set" in done.stderr
    assert "(esap.W004) ESAP_FIELD_ENCRYPTION_KEYS is empty" in done.stderr


def test_production_with_keys_of_its_own_passes(settings):
    settings.DEBUG, settings.SECRET_KEY = False, "a-key-of-this-deployment-" + "x" * 40
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    assert not {"esap.E001", "esap.W004"} & set(esap_check_ids())


def test_development_may_use_the_development_keys(settings):
    settings.DEBUG, settings.SECRET_KEY, settings.FIELD_ENCRYPTION_KEYS = True, DEVELOPMENT_SECRET_KEY, []

    assert not {"esap.E001", "esap.W004"} & set(esap_check_ids())


def test_production_with_only_a_secret_key_is_warned_about_the_derived_encryption_key(settings):
    settings.DEBUG, settings.SECRET_KEY = False, "a-key-of-this-deployment-" + "x" * 40
    settings.FIELD_ENCRYPTION_KEYS = []

    ids = esap_check_ids()

    assert "esap.W004" in ids and "esap.E001" not in ids


def test_production_harvesting_over_plaintext_git_transports_is_warned_about(settings):
    settings.DEBUG, settings.ESAP_GIT_SCHEMES = False, ["https", "http", "git"]

    [warning] = [message for message in run_checks() if message.id == "esap.W005"]

    assert warning.msg.startswith("ESAP_GIT_SCHEMES allows http://, git://: ")
    settings.ESAP_GIT_SCHEMES = ["https"]
    assert "esap.W005" not in esap_check_ids()
