"""No secret in any log line of the suite: the test process's records and the worker's log file are
collected for the whole run and, at its end, searched for every secret a server fixture registered (the
hub's service tokens, the IdP's client secrets)."""
import logging
from pathlib import Path

SECRETS: set[str] = set()
LOG_FILES: list[Path] = []


def register_secrets(*secrets: str) -> None:
    SECRETS.update(secret for secret in secrets if secret)


def register_log_file(path: Path) -> None:
    LOG_FILES.append(path)


class CollectingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(record.getMessage())
        except Exception:  # a record whose arguments do not format is no secret
            pass


def leaked(handler: CollectingHandler) -> list[str]:
    """Where a registered secret appears: '<source>: <first 8 characters of the secret>…'."""
    texts = {"test process": "\n".join(handler.lines)}
    texts |= {str(path): path.read_text(errors="replace") for path in LOG_FILES if path.exists()}
    return [f"{source}: {secret[:8]}…" for source, text in texts.items() for secret in SECRETS if secret in text]
