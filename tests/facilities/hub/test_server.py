"""ServerClient against a real single-user server, through the hub's proxy with a server-scoped token:
notebook contents, kernel sessions, and cells executed over the kernel websocket."""
import copy
import time

import nbformat
import pytest

from facilities.hub import RetryPolicy, ServerClient, ServerNotRunning

pytestmark = pytest.mark.hub


def code_cell(cell_id: str, source: str) -> dict:
    return {"cell_type": "code", "id": cell_id, "metadata": {}, "outputs": [], "execution_count": None,
            "source": source}


NOTEBOOK = {
    "cells": [
        code_cell("prints", "answer = 21 * 2\nprint('hello from the kernel')"),
        code_cell("result", "answer"),
        code_cell("displays", "from IPython.display import Markdown, display\ndisplay(Markdown('**done**'))"),
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def kernel_state(server: ServerClient, kernel_id: str) -> str:
    return server.http.request("GET", f"{server.base}/api/kernels/{kernel_id}").json()["execution_state"]


def eventually(condition, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s"
        time.sleep(0.2)


def with_outputs(notebook: dict, results: list) -> dict:
    executed = copy.deepcopy(notebook)
    for cell, result in zip(executed["cells"], results):
        cell["outputs"], cell["execution_count"] = result.outputs, result.execution_count
    return executed


def test_upload_open_a_kernel_session_execute_and_write_the_outputs_back(running):
    running.ensure_directory("esap/deep")
    running.ensure_directory("esap/deep")  # already there: fine
    running.put_notebook("esap/deep/flow.ipynb", NOTEBOOK)
    session_id, kernel_id = running.create_session("esap/deep/flow.ipynb", "python3")

    results = running.execute(kernel_id, session_id, [cell["source"] for cell in NOTEBOOK["cells"]],
                              timeout_per_cell=60)

    assert [result.status for result in results] == ["ok", "ok", "ok"]
    assert results[0].outputs == [{"output_type": "stream", "name": "stdout", "text": "hello from the kernel\n"}]
    assert results[1].outputs == [{"output_type": "execute_result", "data": {"text/plain": "42"},
                                   "metadata": {}, "execution_count": results[1].execution_count}]
    assert results[2].outputs[0]["output_type"] == "display_data"
    assert results[2].outputs[0]["data"]["text/markdown"] == "**done**"
    assert results[0].execution_count < results[1].execution_count < results[2].execution_count

    running.put_notebook("esap/deep/flow.ipynb", with_outputs(NOTEBOOK, results))

    saved = running.get_notebook("esap/deep/flow.ipynb")
    nbformat.validate(nbformat.from_dict(saved))
    assert [cell["outputs"] for cell in saved["cells"]] == [result.outputs for result in results]
    assert saved["cells"][1]["execution_count"] == results[1].execution_count


def test_a_second_session_for_the_same_path_joins_the_same_kernel(running):
    running.put_notebook("shared.ipynb", NOTEBOOK)
    first = running.create_session("shared.ipynb", "python3")
    running.execute(first.kernel_id, first.session_id, ["kept = 'state'"])

    second = running.create_session("shared.ipynb", "python3")

    assert (second.session_id, second.kernel_id) == (first.session_id, first.kernel_id)
    assert any(s.path == "shared.ipynb" and s.kernel_id == first.kernel_id for s in running.list_sessions())
    [result] = running.execute(second.kernel_id, second.session_id, ["kept"])
    assert result.outputs[0]["data"]["text/plain"] == "'state'"


def test_a_raising_cell_reports_the_error_and_stops_the_run(running):
    running.put_notebook("fails.ipynb", NOTEBOOK)
    session = running.create_session("fails.ipynb", "python3")

    results = running.execute(session.kernel_id, session.session_id,
                              ["x = 1", "raise ValueError('bad input data')", "print('never')"])

    assert [result.status for result in results] == ["ok", "error"]
    failed = results[1]
    assert (failed.ename, failed.evalue) == ("ValueError", "bad input data") and failed.traceback
    assert failed.outputs[0]["output_type"] == "error" and failed.outputs[0]["ename"] == "ValueError"


def test_a_cell_running_past_its_timeout_is_reported_as_such(running):
    running.put_notebook("slow.ipynb", NOTEBOOK)
    session = running.create_session("slow.ipynb", "python3")

    results = running.execute(session.kernel_id, session.session_id, ["import time; time.sleep(5)", "1"],
                              timeout_per_cell=1)

    assert [result.status for result in results] == ["timeout"]


def test_a_cell_past_its_timeout_is_interrupted_so_its_kernel_goes_idle_and_takes_the_next_cell(running):
    running.put_notebook("stuck.ipynb", NOTEBOOK)
    session = running.create_session("stuck.ipynb", "python3")

    [stuck] = running.execute(session.kernel_id, session.session_id, ["import time; time.sleep(600)"],
                              timeout_per_cell=1)

    assert stuck.status == "timeout"
    # Without the interrupt the kernel would stay busy for ten minutes: no idle culler would stop the
    # server, and the next execution would wait 30 s for a kernel that cannot answer.
    eventually(lambda: kernel_state(running, session.kernel_id) == "idle", timeout=10)
    [after] = running.execute(session.kernel_id, session.session_id, ["'free again'"], timeout_per_cell=10)
    assert after.outputs[0]["data"]["text/plain"] == "'free again'"


def test_deleting_a_session_ends_its_kernel_and_its_path_then_gets_a_fresh_one(running):
    running.put_notebook("again.ipynb", NOTEBOOK)
    first = running.create_session("again.ipynb", "python3")

    running.delete_session(first.session_id)
    running.delete_session(first.session_id)  # already gone: fine

    assert all(s.kernel_id != first.kernel_id for s in running.list_sessions())
    second = running.create_session("again.ipynb", "python3")
    assert second.kernel_id != first.kernel_id


def test_a_server_that_is_not_running_is_server_not_running(jupyterhub, user):
    never = ServerClient(jupyterhub.url, user, "never-started", jupyterhub.service_token,
                         retry=RetryPolicy(attempts=1))

    with pytest.raises(ServerNotRunning) as gone:
        never.list_sessions()

    assert (gone.value.status, gone.value.code) == (424, "hub.server_not_running")
