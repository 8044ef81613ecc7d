"""Downloads share the facility's storage: one writer per target at a time, and nothing left beside the
copies, neither lock files nor partial files."""
import threading
import time

import pytest

from staging.sources.downloads import exclusive, written_whole


def test_writers_of_one_target_take_turns_and_leave_no_lock_file(tmp_path):
    target, inside, most_inside = tmp_path / "vo" / "image.fits", [], []

    def writer() -> None:
        with exclusive(target):
            inside.append(1)
            most_inside.append(len(inside))
            time.sleep(0.02)
            inside.pop()
    writers = [threading.Thread(target=writer) for _ in range(6)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(10)

    assert most_inside == [1] * 6
    assert list(target.parent.iterdir()) == []


def test_writers_of_different_targets_do_not_wait_for_each_other(tmp_path):
    entered = threading.Event()

    def other_writer() -> None:
        with exclusive(tmp_path / "b.fits"):
            entered.set()
    with exclusive(tmp_path / "a.fits"):
        other = threading.Thread(target=other_writer)
        other.start()
        assert entered.wait(5)
    other.join(5)


def test_a_copy_takes_its_name_only_once_written_whole(tmp_path):
    target = tmp_path / "image.fits"
    with written_whole(target) as out:
        out.write(b"SIMPLE")
        assert not target.exists()
    assert target.read_bytes() == b"SIMPLE"
    with pytest.raises(ValueError), written_whole(target) as out:
        out.write(b"half")
        raise ValueError("cut short")
    assert target.read_bytes() == b"SIMPLE" and [p.name for p in tmp_path.iterdir()] == ["image.fits"]
