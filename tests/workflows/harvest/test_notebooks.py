"""Reading what a notebook declares: title, description, kernel and its papermill parameters."""
import json
import time

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from workflows.harvest.notebooks import (
    DESCRIPTION_LIMIT, NotebookError, Parameter, ParameterCellError, load_notebook, parse_parameters,
    read_notebook_info,
)


def notebook_of(*cells: dict, kernelspec: dict | None = None, language_info: dict | None = None) -> dict:
    notebook = new_notebook(cells=list(cells))
    if kernelspec is not None:
        notebook.metadata["kernelspec"] = kernelspec
    if language_info is not None:
        notebook.metadata["language_info"] = language_info
    return json.loads(json.dumps(notebook))


def parameters(source: str) -> dict:
    return new_code_cell(source, metadata={"tags": ["parameters"]})


PYTHON3 = {"name": "python3", "display_name": "Python 3", "language": "python"}


# --- title, description, kernel ---------------------------------------------------------------------

def test_title_is_the_first_heading_and_description_the_paragraph_after_it():
    info = read_notebook_info(notebook_of(
        new_markdown_cell("Some preface.\n\n# My analysis\n\nDoes things.\n\nMore."), kernelspec=PYTHON3))

    assert (info.title, info.description) == ("My analysis", "Does things.")
    assert (info.kernel_name, info.language) == ("python3", "python")


def test_the_description_may_be_in_a_later_markdown_cell_and_skips_subheadings():
    info = read_notebook_info(notebook_of(
        new_markdown_cell("# Crab timing"), new_code_cell("import numpy"),
        new_markdown_cell("## Overview\n\nFolds the light curve\nof the Crab pulsar.")))

    assert (info.title, info.description) == ("Crab timing", "Folds the light curve of the Crab pulsar.")


def test_title_and_description_are_plain_text():
    info = read_notebook_info(notebook_of(new_markdown_cell(
        "[![Binder](https://mybinder.org/badge.svg)](https://mybinder.org/v2/x)\n\n"
        "# **Crab** _pulsar_ `timing` #\n\n"
        "<img src='logo.png'>\n\n"
        "> Fits the [light curve](https://example.org) of *PSR B0531+21* &amp; `snake_case_name`.")))

    assert info.title == "Crab pulsar timing"
    assert info.description == "Fits the light curve of PSR B0531+21 & snake_case_name."


def test_headings_inside_code_fences_do_not_count_and_setext_headings_do():
    info = read_notebook_info(notebook_of(
        new_markdown_cell("```bash\n# install first\npip install x\n```\n\nVela glitches\n=============\n\nFinds them.")))

    assert (info.title, info.description) == ("Vela glitches", "Finds them.")


def test_html_in_a_title_is_kept_as_text_for_the_page_to_escape():
    info = read_notebook_info(notebook_of(new_markdown_cell("# <script>alert('t')</script>")))

    assert info.title == "<script>alert('t')</script>"


def test_a_long_description_is_cut_at_a_word_with_an_ellipsis():
    info = read_notebook_info(notebook_of(new_markdown_cell("# T\n\n" + "pulsar " * 200)))

    assert len(info.description) <= DESCRIPTION_LIMIT
    assert info.description.endswith("pulsar…")


def test_without_a_heading_the_first_paragraph_is_the_description():
    info = read_notebook_info(notebook_of(new_markdown_cell("Just prose."), new_code_cell("x = 1")))

    assert (info.title, info.description) == (None, "Just prose.")


def test_a_notebook_without_markdown_or_kernelspec_has_defaults():
    info = read_notebook_info(notebook_of(new_code_cell("x = 1")))

    assert (info.title, info.description, info.kernel_name, info.language, info.parameters) == (
        None, None, "python3", "python", ())


def test_kernel_and_language_come_from_the_kernelspec_or_language_info():
    julia = read_notebook_info(notebook_of(kernelspec={"name": "julia-1.10", "display_name": "Julia"},
                                           language_info={"name": "julia"}))

    assert (julia.kernel_name, julia.language) == ("julia-1.10", "julia")


def test_pathological_markdown_is_read_in_bounded_time():
    started = time.monotonic()

    read_notebook_info(notebook_of(new_markdown_cell("# " + "a #" * 300_000 + "\n\n" + "**a _b " * 300_000)))

    assert time.monotonic() - started < 5


# --- parameters -------------------------------------------------------------------------------------

def test_parameters_have_defaults_types_annotations_and_comments():
    info = read_notebook_info(notebook_of(parameters(
        'name = "crab"  # the source # with a hash\n'
        "radius: float = 0.5\n"
        "count = -3\n"
        "offset: float = -1e3  # seconds\n"
        "flags = [1, 'a#b']\n"
        "options: dict[str, int] = {'bins': 10}\n"
        "extra = None\n"
        "ok = True\n")))

    assert info.parameters == (
        Parameter("name", "crab", "str", None, "the source # with a hash"),
        Parameter("radius", 0.5, "float", "float", None),
        Parameter("count", -3, "int", None, None),
        Parameter("offset", -1000.0, "float", "float", "seconds"),
        Parameter("flags", [1, "a#b"], "list", None, None),
        Parameter("options", {"bins": 10}, "dict", "dict[str, int]", None),
        Parameter("extra", None, "NoneType", None, None),
        Parameter("ok", True, "bool", None, None),
    )


def test_a_comment_belongs_to_the_statement_ending_on_its_line_and_own_line_comments_to_none():
    declared = parse_parameters("# Inputs\nsources = [\n    'crab',  # first\n    'vela',\n]  # which pulsars\nn = 2\n")

    assert [(p.name, p.comment) for p in declared] == [("sources", "which pulsars"), ("n", None)]


def test_the_parameters_cell_is_the_first_code_cell_tagged_parameters():
    tagged_markdown = new_markdown_cell("x = 0", metadata={"tags": ["parameters"]})
    info = read_notebook_info(notebook_of(tagged_markdown, new_code_cell("y = 1"), parameters("x = 1"),
                                          parameters("x = 2")))

    assert [(p.name, p.default) for p in info.parameters] == [("x", 1)]


def test_a_notebook_without_a_parameters_cell_declares_no_parameters():
    info = read_notebook_info(notebook_of(new_code_cell("x = 1", metadata={"tags": ["setup"]})))

    assert info.parameters == ()


def test_an_empty_or_comment_only_parameters_cell_declares_no_parameters():
    assert read_notebook_info(notebook_of(parameters(""))).parameters == ()
    assert read_notebook_info(notebook_of(parameters("# nothing yet\n"))).parameters == ()


def test_a_parameters_cell_stored_as_a_list_of_lines_is_read():
    cell = parameters("")
    cell["source"] = ["a = 1\n", "b = 'two'"]

    assert [p.name for p in read_notebook_info(notebook_of(cell)).parameters] == ["a", "b"]


@pytest.mark.parametrize("source, named", [
    pytest.param("x = compute()", "a function call", id="call"),
    pytest.param("import os", "an import", id="import"),
    pytest.param("from os import system", "an import", id="from-import"),
    pytest.param("a, b = 1, 2", "tuple unpacking", id="tuple-unpacking"),
    pytest.param("[a, b] = [1, 2]", "tuple unpacking", id="list-unpacking"),
    pytest.param("x += 1", "an augmented assignment", id="augmented-assignment"),
    pytest.param("print('hi')", "an expression statement", id="expression-statement"),
    pytest.param("'a docstring'", "an expression statement", id="bare-string"),
    pytest.param("x = y", "a reference to another name", id="name-reference"),
    pytest.param("x = os.sep", "an attribute access", id="attribute-value"),
    pytest.param("x = 1 + 2", "an expression", id="arithmetic"),
    pytest.param("x = f'{y}'", "an f-string", id="f-string"),
    pytest.param("x = y = 1", "a chained assignment", id="chained-assignment"),
    pytest.param("os.sep = '/'", "an assignment to something other than a plain name", id="attribute-target"),
    pytest.param("x: int", "an annotation without a value", id="bare-annotation"),
    pytest.param("def f():\n    pass", "a function definition", id="function-definition"),
    pytest.param("if True:\n    x = 1", "a control-flow statement", id="if-statement"),
])
def test_a_parameters_cell_that_is_not_plain_assignments_is_refused_naming_the_line(source, named):
    with pytest.raises(ParameterCellError) as refused:
        parse_parameters(f"ok = 1\n# a comment\n{source}\nlater = 2")

    assert "line 3" in str(refused.value) and named in str(refused.value)


@pytest.mark.parametrize("literal, found", [
    ("(1, 2)", "tuple"), ("{1, 2}", "set"), ("b'raw'", "bytes"), ("1j", "complex"), ("1e999", "inf"),
    ("{1: 'a'}", "keys are not all strings"), ("[1, [2, (3,)]]", "tuple"),
])
def test_a_default_that_is_not_json_data_is_refused(literal, found):
    with pytest.raises(ParameterCellError, match=rf"line 2: the default of 'x' must be JSON data.*{found}"):
        parse_parameters(f"ok = 1\nx = {literal}")


def test_a_parameter_assigned_twice_is_refused_naming_both_lines():
    with pytest.raises(ParameterCellError, match="line 3: 'x' is already assigned on line 1"):
        parse_parameters("x = 1\ny = 2\nx = 3")


def test_a_parameters_cell_that_is_not_python_is_refused_naming_the_line():
    with pytest.raises(ParameterCellError, match="line 2: not valid Python"):
        parse_parameters("x = 1\ny = (")
    with pytest.raises(ParameterCellError, match="line 1: not valid Python"):
        parse_parameters("%matplotlib inline")
    with pytest.raises(ParameterCellError, match="not valid Python"):
        parse_parameters("x = 1\ny = 'nul\x00byte'")


def test_a_parameter_cell_error_is_a_notebook_error():
    assert issubclass(ParameterCellError, NotebookError) and issubclass(NotebookError, ValueError)


def test_a_notebook_in_another_language_is_refused_only_if_it_asks_for_parameters():
    r_kernel = {"name": "ir", "display_name": "R", "language": "R"}

    with pytest.raises(ParameterCellError, match="this R notebook has a cell tagged 'parameters'.* Python notebooks only"):
        read_notebook_info(notebook_of(parameters('datasets <- c("a.csv")'), kernelspec=r_kernel))
    assert read_notebook_info(notebook_of(new_code_cell("summary(cars)"), kernelspec=r_kernel)).parameters == ()


def test_reading_info_reports_a_bad_parameters_cell():
    with pytest.raises(ParameterCellError, match="line 1: an import"):
        read_notebook_info(notebook_of(parameters("import os")))


# --- loading ----------------------------------------------------------------------------------------

def test_load_notebook_returns_a_plain_dict_of_a_valid_notebook_from_bytes_or_text():
    document = json.dumps(notebook_of(new_markdown_cell("# Hi"), parameters("x = 1"), kernelspec=PYTHON3))

    for text in (document, document.encode(), b"\xef\xbb\xbf" + document.encode()):
        notebook = load_notebook(text)
        assert type(notebook) is dict and type(notebook["cells"][0]) is dict
        assert notebook == json.loads(document)
        assert read_notebook_info(notebook).parameters == (Parameter("x", 1, "int"),)


def test_load_notebook_refuses_invalid_json():
    with pytest.raises(NotebookError, match="not valid JSON"):
        load_notebook("{not json")


def test_load_notebook_refuses_bytes_that_are_not_utf8():
    with pytest.raises(NotebookError, match="not UTF-8"):
        load_notebook(b'{"cells": "\xff"}')


def test_load_notebook_refuses_json_that_is_not_an_object():
    with pytest.raises(NotebookError, match="JSON is a list"):
        load_notebook("[1, 2]")


@pytest.mark.parametrize("version", [3, 5, None, "4"])
def test_load_notebook_refuses_anything_but_nbformat_4(version):
    document = {"cells": [], "metadata": {}, "nbformat": version, "nbformat_minor": 0}

    with pytest.raises(NotebookError, match="only nbformat 4"):
        load_notebook(json.dumps(document))


@pytest.mark.parametrize("document", [
    pytest.param({"cells": "nope", "nbformat": 4, "nbformat_minor": 5, "metadata": {}}, id="cells-not-a-list"),
    pytest.param({"cells": [], "nbformat": 4, "nbformat_minor": 5}, id="no-metadata"),
    pytest.param({"cells": [{"cell_type": "code", "id": "a", "source": "x", "metadata": {}}],
                  "nbformat": 4, "nbformat_minor": 5, "metadata": {}}, id="code-cell-without-outputs"),
    pytest.param({"cells": [{"cell_type": "raw", "id": "bad id!", "source": "", "metadata": {}}],
                  "nbformat": 4, "nbformat_minor": 5, "metadata": {}}, id="malformed-cell-id"),
])
def test_load_notebook_refuses_a_notebook_that_nbformat_finds_invalid(document):
    with pytest.raises(NotebookError, match="not a valid nbformat 4 notebook"):
        load_notebook(json.dumps(document))


def test_load_notebook_gives_cells_missing_an_id_one_as_jupyter_does():
    document = notebook_of(new_code_cell("x = 1"))
    del document["cells"][0]["id"]

    with pytest.warns(Warning, match="missing an id"):
        notebook = load_notebook(json.dumps(document))

    assert notebook["cells"][0]["id"]
