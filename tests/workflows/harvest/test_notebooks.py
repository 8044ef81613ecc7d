"""Reading what a notebook declares: title, description, kernel and its papermill parameters."""
import json

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from workflows.harvest.notebooks import (
    NotebookError, ParameterCellError, load_notebook, parse_parameters, read_notebook_info,
)


def notebook_with(parameters_source: str | None, *, title: str = "# My analysis\n\nDoes things.\n\nMore."):
    notebook = new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [new_markdown_cell(title)]
    if parameters_source is not None:
        cell = new_code_cell(parameters_source)
        cell.metadata["tags"] = ["parameters"]
        cells.append(cell)
    cells.append(new_code_cell("print(1)"))
    notebook.cells = cells
    return json.loads(json.dumps(notebook))


def test_title_is_the_first_heading_and_description_the_paragraph_after_it():
    info = read_notebook_info(notebook_with(None))

    assert (info.title, info.description, info.kernel_name) == ("My analysis", "Does things.", "python3")
    assert info.parameters == ()


def test_parameters_have_defaults_types_annotations_and_comments():
    info = read_notebook_info(notebook_with(
        'name = "crab"  # the source\nradius: float = 0.5\ncount = -3\nflags = [1, "a"]\nextra = None\nok = True'))

    assert [(p.name, p.default, p.type_name) for p in info.parameters] == [
        ("name", "crab", "str"), ("radius", 0.5, "float"), ("count", -3, "int"),
        ("flags", [1, "a"], "list"), ("extra", None, "NoneType"), ("ok", True, "bool")]
    assert info.parameters[0].comment == "the source"
    assert info.parameters[1].annotation == "float"


@pytest.mark.parametrize("source, fault", [
    ("import os", "import"),
    ("x = compute()", "call"),
    ("a, b = 1, 2", "tuple unpacking"),
    ("x += 1", "augmented assignment"),
    ("print('hi')", "expression statement"),
    ("x = y", "name reference"),
    ("def f():\n    pass", "function definition"),
])
def test_a_parameters_cell_that_is_not_plain_assignments_is_refused_with_its_line(source, fault):
    with pytest.raises(ParameterCellError, match="line 2"):
        parse_parameters("ok = 1\n" + source)


def test_a_parameters_cell_that_is_not_python_is_refused():
    with pytest.raises(ParameterCellError, match="not valid Python"):
        parse_parameters("x = (")


def test_load_notebook_reports_invalid_json_and_invalid_nbformat():
    with pytest.raises(NotebookError, match="not valid JSON"):
        load_notebook("{not json")
    with pytest.raises(NotebookError, match="nbformat"):
        load_notebook(json.dumps({"cells": "nope", "nbformat": 4, "nbformat_minor": 5, "metadata": {}}))


def test_load_notebook_returns_a_plain_dict_of_a_valid_notebook():
    notebook = load_notebook(json.dumps(notebook_with("x = 1")).encode())

    assert isinstance(notebook, dict) and notebook["nbformat"] == 4
    assert read_notebook_info(notebook).parameters[0].name == "x"
