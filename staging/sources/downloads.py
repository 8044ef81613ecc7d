"""Writing downloads into a facility's storage, which every launch of every user shares: one writer per
target at a time, so that a second launch of the same dataset waits and then finds the finished copy, and
each writer's bytes in a temporary file of its own that takes the target's name only once complete.
No Django here."""
import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO


@contextmanager
def exclusive(target: Path) -> Iterator[None]:
    """Held by one thread or process at a time per target (its parent folder is created), through a lock
    file `.<name>.lock` beside the target that the holder removes as it leaves, so that the user's folder
    keeps only the copies."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.with_name(f".{target.name}.lock")
    while True:
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed, whatever happens
            if not _still_named(lock, lock_path):
                continue  # the holder we waited for removed this one: lock the new file instead
            try:
                yield
            finally:
                lock_path.unlink()
            return


def _still_named(lock: IO, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(lock.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


@contextmanager
def written_whole(target: Path) -> Iterator[BinaryIO]:
    """A new file to write `target`'s bytes into, renamed to `target` once the block ends without error and
    removed otherwise. Not mkstemp: its files are private to the worker's account, and the user's server
    (often another account) must read the copy."""
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        with partial.open("xb") as out:
            yield out
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
