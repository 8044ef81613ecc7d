"""The suite-wide watch for secrets in log lines finds one when it is there."""
import logging

from tests import secret_watch


def test_a_registered_secret_in_a_log_line_or_log_file_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(secret_watch, "SECRETS", set())
    monkeypatch.setattr(secret_watch, "LOG_FILES", [])
    handler = secret_watch.CollectingHandler()
    logger = logging.getLogger("tests.secret_watch.demo")
    logger.addHandler(handler)
    secret_watch.register_secrets("token-in-a-line-123", "token-in-a-file-456", "never-logged-789")
    (tmp_path / "worker.log").write_text("authorization: token-in-a-file-456\n")
    secret_watch.register_log_file(tmp_path / "worker.log")

    logger.warning("calling the hub with %s", "token-in-a-line-123")
    logger.removeHandler(handler)

    assert sorted(secret_watch.leaked(handler)) == [f"{tmp_path / 'worker.log'}: token-in…",
                                                    "test process: token-in…"]
