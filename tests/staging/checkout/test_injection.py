"""Injecting the cart's values into a notebook: where the cell goes, what it may hold, and that no
value, however hostile, can do anything but arrive as the same data."""
import ast
import copy
import json
import keyword
import math
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings, strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from staging.checkout.injection import (
    HEADER, INJECTED_TAG, MAX_DEPTH, PythonTranslator, UndeclaredParameterError, apply_outputs,
    code_cells_to_execute, inject_parameters,
)

ROOT = Path(__file__).resolve().parents[3]
DECLARED = {"datasets", "dataset_paths", "facility", "profile"}
CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def notebook(with_parameters: bool = True, **metadata) -> dict:
    cells = [new_markdown_cell("# Title"), new_code_cell("import math")]
    if with_parameters:
        cells.append(new_code_cell('datasets = []\nfacility = "x"', metadata={"tags": ["parameters"]}))
    cells += [new_code_cell("print(datasets)"), new_code_cell("print('later')")]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "P"}, **metadata})
    return json.loads(json.dumps(nb))


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def injected_cells(nb: dict) -> list[dict]:
    return [cell for cell in nb["cells"] if INJECTED_TAG in tags(cell)]


def valid(nb: dict) -> bool:
    nbformat.validate(nbformat.from_dict(copy.deepcopy(nb)))
    return True


# --- placement --------------------------------------------------------------------------------------

def test_injected_cell_goes_right_after_the_parameters_cell():
    result = inject_parameters(notebook(), {"datasets": ["a"], "facility": "f"}, declared=DECLARED)

    assert [tags(cell) for cell in result["cells"]] == [[], [], ["parameters"], [INJECTED_TAG], [], []]
    injected = result["cells"][3]
    assert injected["source"] == HEADER + '\ndatasets = ["a"]\nfacility = "f"'
    assert HEADER == "# Parameters injected by esap"
    assert (injected["cell_type"], injected["outputs"], injected["execution_count"]) == ("code", [], None)
    assert CELL_ID.match(injected["id"]) and valid(result)


def test_injecting_again_replaces_the_earlier_injected_cell_wherever_it_was():
    once = inject_parameters(notebook(), {"datasets": ["a"]}, declared=DECLARED)
    once["cells"].insert(0, once["cells"].pop(3))  # a user moved it to the top

    twice = inject_parameters(once, {"datasets": ["b"]}, declared=DECLARED)

    assert len(injected_cells(twice)) == 1 and len(twice["cells"]) == len(once["cells"])
    assert tags(twice["cells"][2]) == ["parameters"] and tags(twice["cells"][3]) == [INJECTED_TAG]
    assert twice["cells"][3]["source"].endswith('datasets = ["b"]')
    assert valid(twice)


def test_without_a_parameters_cell_the_injected_cell_comes_first():
    result = inject_parameters(notebook(with_parameters=False), {"facility": "f"}, declared=DECLARED)

    assert tags(result["cells"][0]) == [INJECTED_TAG] and len(result["cells"]) == 5
    assert valid(result)


def test_a_markdown_cell_tagged_parameters_is_not_the_parameters_cell():
    nb = notebook(with_parameters=False)
    nb["cells"][0]["metadata"]["tags"] = ["parameters"]

    assert tags(inject_parameters(nb, {}, declared=DECLARED)["cells"][0]) == [INJECTED_TAG]


def test_no_values_still_gives_an_injected_cell_with_only_the_header():
    result = inject_parameters(notebook(), {}, declared=DECLARED)

    assert result["cells"][3]["source"] == HEADER and result["metadata"]["esap"]["parameters"] == {}


# --- cell ids and nbformat versions -----------------------------------------------------------------

def test_injected_cell_ids_are_fresh_and_unique_on_every_injection():
    once = inject_parameters(notebook(), {"datasets": []}, declared=DECLARED)
    twice = inject_parameters(once, {"datasets": []}, declared=DECLARED)

    ids = [cell["id"] for cell in twice["cells"]]
    assert len(set(ids)) == len(ids) and injected_cells(once)[0]["id"] != injected_cells(twice)[0]["id"]
    assert all(CELL_ID.match(cell_id) for cell_id in ids)


def test_an_nbformat_4_4_notebook_is_upgraded_to_4_5_with_ids_on_every_cell():
    old = notebook()
    old["nbformat_minor"] = 4
    for cell in old["cells"]:
        del cell["id"]

    result = inject_parameters(old, {"datasets": ["a"]}, declared=DECLARED)

    assert result["nbformat_minor"] == 5 and all(CELL_ID.match(cell["id"]) for cell in result["cells"])
    assert valid(result)


# --- metadata and copies ----------------------------------------------------------------------------

def test_a_copy_of_the_values_goes_into_metadata_keeping_the_other_metadata():
    original = notebook(esap={"launch": {"checkout": "c1"}}, custom={"k": 1})
    values = {"datasets": ["a", "b"], "profile": "small", "dataset_paths": ("p",)}

    result = inject_parameters(original, values, declared=DECLARED)
    values["datasets"].append("changed later")

    assert result["metadata"]["esap"] == {
        "launch": {"checkout": "c1"},
        "parameters": {"datasets": ["a", "b"], "profile": "small", "dataset_paths": ["p"]}}
    assert result["metadata"]["custom"] == {"k": 1}
    assert result["metadata"]["kernelspec"]["name"] == "python3"


def test_the_input_notebook_and_values_are_not_mutated():
    original = notebook(esap={"launch": {}})
    values = {"datasets": ["a"], "facility": "f"}
    before = copy.deepcopy((original, values))

    result = inject_parameters(original, values, declared=DECLARED)
    result["cells"][2]["source"] = "changed"
    result["metadata"]["esap"]["launch"]["x"] = 1

    assert (original, values) == before


def test_a_value_that_is_not_strict_json_is_refused_naming_the_parameter():
    with pytest.raises(ValueError, match="'facility' cannot be stored in the notebook"):
        inject_parameters(notebook(), {"facility": math.nan}, declared=DECLARED)


# --- names ------------------------------------------------------------------------------------------

def test_an_undeclared_name_is_refused_naming_it():
    with pytest.raises(UndeclaredParameterError, match="does not declare a parameter named 'secret'"):
        inject_parameters(notebook(), {"datasets": [], "secret": 1}, declared=DECLARED)


@pytest.mark.parametrize("name", [
    "class", "None", "a b", "", "1abc", "os.system", "x=1;import os", "x\n__import__('os')", "ｐrint", 3,
])
def test_a_name_that_is_not_a_plain_python_variable_is_refused_even_when_declared(name):
    with pytest.raises(UndeclaredParameterError, match="not a valid parameter name"):
        inject_parameters(notebook(), {name: 1}, declared=DECLARED | {name})


def test_declared_must_be_a_collection_of_names_not_a_string():
    with pytest.raises(TypeError, match="not a single string"):
        inject_parameters(notebook(), {"datasets": []}, declared="datasets")


def test_the_translator_itself_refuses_names_that_are_not_variables():
    with pytest.raises(ValueError, match="not a valid Python variable name"):
        PythonTranslator().render({"x = 1\nimport os\ny": 1})


# --- what runs --------------------------------------------------------------------------------------

def test_cells_to_execute_default_to_every_code_cell_up_to_the_injected_cell():
    result = inject_parameters(notebook(), {"datasets": []}, declared=DECLARED)

    assert code_cells_to_execute(result, None) == [1, 2, 3]


@pytest.mark.parametrize("first_cells, indexes", [
    (0, []), (1, [1]), (4, [1, 2, 3, 4]), (5, [1, 2, 3, 4, 5]), (99, [1, 2, 3, 4, 5]),
])
def test_cells_to_execute_with_an_explicit_count_are_the_first_code_cells(first_cells, indexes):
    result = inject_parameters(notebook(), {"datasets": []}, declared=DECLARED)

    assert code_cells_to_execute(result, first_cells) == indexes


def test_cells_to_execute_refuses_a_negative_or_non_integer_count():
    result = inject_parameters(notebook(), {"datasets": []}, declared=DECLARED)

    with pytest.raises(ValueError, match="negative"):
        code_cells_to_execute(result, -1)
    with pytest.raises(TypeError):
        code_cells_to_execute(result, True)


def test_cells_to_execute_by_default_needs_an_injected_cell():
    with pytest.raises(ValueError, match="no injected-parameters cell"):
        code_cells_to_execute(notebook(), None)


def test_outputs_are_written_back_into_a_copy():
    result = inject_parameters(notebook(), {"datasets": []}, declared=DECLARED)
    output = {"output_type": "stream", "name": "stdout", "text": "[]\n"}

    executed = apply_outputs(result, {3: (1, []), 4: (2, [output])})

    assert executed["cells"][4]["outputs"] == [output] and executed["cells"][4]["execution_count"] == 2
    assert executed["cells"][3]["execution_count"] == 1
    assert result["cells"][4]["outputs"] == [] and result["cells"][4]["execution_count"] is None
    assert valid(executed)


@pytest.mark.parametrize("index", [0, 99, -1])
def test_outputs_are_refused_for_a_cell_that_is_not_a_code_cell_of_the_notebook(index):
    with pytest.raises(ValueError, match=f"cell {index} is not a code cell"):
        apply_outputs(notebook(), {index: (1, [])})


# --- the translator ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value, literal", [
    (None, "None"), (True, "True"), (False, "False"), (0, "0"), (-5, "-5"), (2 ** 70, str(2 ** 70)),
    (1.5, "1.5"), (-0.0, "-0.0"), (1e300, "1e+300"), (math.inf, "float('inf')"), (-math.inf, "float('-inf')"),
    (math.nan, "float('nan')"), ("", '""'), ([], "[]"), ((1, "a"), '[1, "a"]'), ({}, "{}"),
    ({"k": [None, {"n": -1}]}, '{"k": [None, {"n": -1}]}'),
])
def test_values_render_as_python_literals(value, literal):
    assert PythonTranslator().render_value(value) == literal


@pytest.mark.parametrize("text, literal", [
    ('say "hi"', r'"say \"hi\""'), ("it's", '"it\'s"'), ("back\\slash\\", r'"back\\slash\\"'),
    ("a\nb\rc\td", r'"a\nb\rc\td"'), ("\x00\x1b\x7f", r'"\x00\x1b\x7f"'), ("\x85\xa0\xad", r'"\x85\xa0\xad"'),
    ("\u2028\u2029", r'"\u2028\u2029"'), ("\u202eevil", r'"\u202eevil"'), ("\ud800", r'"\ud800"'),
    ("\U000e0001", r'"\U000e0001"'), ("é漢字🚀", '"é漢字🚀"'), ("{} %s", '"{} %s"'),
])
def test_strings_are_double_quoted_with_every_dangerous_character_escaped(text, literal):
    assert PythonTranslator().render_value(text) == literal


def test_huge_integers_render_in_hex_beyond_the_decimal_conversion_limit():
    huge = -(10 ** 5000)

    assert literal_values(PythonTranslator().render({"n": huge})) == {"n": huge}


@pytest.mark.parametrize("value, type_name", [
    (object(), "object"), ({1, 2}, "set"), (b"raw", "bytes"), (1j, "complex"), ({1: "a"}, "int"),
    ([Path("/")], "PosixPath"),
])
def test_values_of_other_types_are_refused_naming_the_type(value, type_name):
    with pytest.raises(TypeError, match=type_name):
        PythonTranslator().render({"x": value})


def test_values_nested_deeper_than_the_parser_allows_are_refused():
    deep: list = []
    for _ in range(MAX_DEPTH):
        deep = [deep]
    assert literal_values(PythonTranslator().render({"x": deep})) == {"x": deep}
    deep = [deep]
    cyclic: list = []
    cyclic.append(cyclic)

    for value in (deep, cyclic):
        with pytest.raises(ValueError, match="nested more than"):
            PythonTranslator().render({"x": value})


def test_subclasses_cannot_substitute_their_own_text():
    class Sneaky(str):
        def __str__(self):
            return '"; import os; "'

        def __repr__(self):
            return "__import__('os')"

    class SneakyFloat(float):
        def __repr__(self):
            return "__import__('os')"

    class SneakyInt(int):
        def __repr__(self):
            return "__import__('os')"

    source = PythonTranslator().render({"s": Sneaky("ok"), "f": SneakyFloat(2.5), "i": SneakyInt(7),
                                        "d": {Sneaky("k"): Sneaky("v")}})

    assert literal_values(source) == {"s": "ok", "f": 2.5, "i": 7, "d": {"k": "v"}}


# --- hostile values ---------------------------------------------------------------------------------

PWN = "__import__('os').system('touch PWNED')"
HOSTILE_CORPUS = [
    "'", '"', '"""', "'''", "\\", "trailing backslash\\", "\\\\", '\\"', "\\'", "line\nbreak", "carriage\rreturn",
    "crlf\r\n", "nul\x00byte", "sep\u2028arator", "para\u2029graph", "\x0b\x0c\x1c\x1d\x1e\x85", "lone \ud800",
    "\udfff lone low", "{}{0}{name}{{", "%s%d%%", PWN,
    '"); import os; os.system("touch PWNED"); ("',
    "'); import os; os.system('touch PWNED'); ('",
    '\\"\n__import__("os").system("touch PWNED")',
    '\\"\n__import__("os")',
    '"""\nimport os\nos.system("touch PWNED")\n"""',
    "'''; __import__('os').system('touch PWNED'); '''",
    "\\N{LATIN SMALL LETTER A}", "\\x41\\u0041", "f'{__import__(\"os\")}'", "# comment\nx = 1",
    "%system touch PWNED", "!touch PWNED", "\n!touch PWNED", "\n%time __import__('os')", "x?", "?x", "os.system??",
    "🚀 emoji ✓ 漢字 👩‍👩‍👧", "\u202eright-to-left override\u202c", "\u200f\u200e\u2066\u2069\ufeff",
    "\t\x1b[31mred\x1b[0m", "x" * 100_000, "\\" * 9_999 + '"' + PWN,
]


def literal_values(source: str) -> dict:
    """The variables a rendered cell defines, after checking it holds nothing but `name = literal`."""
    tree = ast.parse(source)
    for statement in tree.body:
        assert isinstance(statement, ast.Assign) and len(statement.targets) == 1
        assert isinstance(statement.targets[0], ast.Name)
        assert_literal(statement.value)
    namespace: dict = {}
    # Only after every statement was checked to be `name = literal`, and with no builtins but float.
    exec(compile(tree, "<injected>", "exec"), {"__builtins__": {"float": float}}, namespace)  # noqa: S102
    return namespace


def assert_literal(node: ast.expr) -> None:
    if isinstance(node, ast.Constant):
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        assert isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float))
        return
    if isinstance(node, ast.List):
        return all(assert_literal(item) is None for item in node.elts)
    if isinstance(node, ast.Dict):
        return all(isinstance(key, ast.Constant) and assert_literal(value) is None
                   for key, value in zip(node.keys, node.values, strict=True))
    special_float = (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float"
                     and not node.keywords and len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
                     and node.args[0].value in ("nan", "inf", "-inf"))
    assert special_float, f"not a literal: {ast.dump(node)[:200]}"


def hostile_values(text: str) -> dict:
    return {"datasets": [text, [text]], "dataset_paths": {text: {"nested": [text, None]}}, "facility": text}


MARKER = "\n--- variables ---\n"
RUNNER = "import sys\nexec(compile(sys.stdin.read(), '<injected>', 'exec'))\n"
IPYTHON_RUNNER = ("import sys\nfrom IPython.core.interactiveshell import InteractiveShell\n"
                  "InteractiveShell.instance().run_cell(sys.stdin.read(), store_history=False).raise_error()\n")


def run_cell(python: str, runner: str, source: str, names: list[str], workdir: Path) -> dict:
    """Run the cell in a fresh isolated interpreter in `workdir`; it prints its variables as JSON."""
    variables = ", ".join(f"{name!r}: {name}" for name in names)
    trailer = f"\nimport json as _json\nprint({MARKER!r} + _json.dumps({{{variables}}}))\n"
    environment = {"PATH": os.environ.get("PATH", ""), "IPYTHONDIR": str(workdir.parent / "ipython")}
    run = subprocess.run([python, "-I", "-c", runner], input=(source + trailer).encode(), cwd=workdir,
                         capture_output=True, timeout=120, env=environment, check=False)
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-2000:]
    return json.loads(run.stdout.decode().split(MARKER, 1)[1])


def rendered_cell(values: dict) -> str:
    result = inject_parameters(notebook(), values, declared=DECLARED)
    json.dumps(result, allow_nan=False)  # the notebook as the hub client sends it
    (injected,) = injected_cells(result)
    return injected["source"]


@pytest.mark.parametrize("text", HOSTILE_CORPUS, ids=[f"{i}:{t[:24]!r}" for i, t in enumerate(HOSTILE_CORPUS)])
def test_each_hostile_value_stays_data_when_the_injected_cell_really_runs(text, tmp_path):
    values = hostile_values(text)
    source = rendered_cell(values)
    workdir = tmp_path / "work"
    workdir.mkdir()

    assert len(source.splitlines()) == 1 + len(values)
    assert literal_values(source) == values
    assert run_cell(sys.executable, RUNNER, source, list(values), workdir) == values
    assert list(workdir.iterdir()) == [] and not (tmp_path / "PWNED").exists()


def test_the_whole_hostile_corpus_nested_together_round_trips_in_one_cell(tmp_path):
    values = {"datasets": HOSTILE_CORPUS, "dataset_paths": [{text: HOSTILE_CORPUS} for text in HOSTILE_CORPUS[:8]],
              "facility": PWN, "profile": {"deep": [[[HOSTILE_CORPUS]]]}}
    source = rendered_cell(values)
    workdir = tmp_path / "work"
    workdir.mkdir()

    assert literal_values(source) == values
    assert run_cell(sys.executable, RUNNER, source, list(values), workdir) == values
    assert list(workdir.iterdir()) == []


def hub_python() -> str:
    """The kernel environment of the test hub, whose IPython rewrites cells (magics, `!`, `?`) before running."""
    python = Path(os.environ.get("ESAP_HUB_VENV", ROOT / ".venv-hub")) / "bin" / "python"
    if not python.exists() or subprocess.run([str(python), "-c", "import IPython"], capture_output=True,
                                             check=False).returncode:
        pytest.skip("no IPython environment (.venv-hub); bin/dev creates it")
    return str(python)


def test_the_hostile_corpus_stays_data_through_ipython_as_the_kernel_runs_it(tmp_path):
    values = {"datasets": HOSTILE_CORPUS, "dataset_paths": [{"k": HOSTILE_CORPUS}], "facility": PWN}
    source = rendered_cell(values)
    workdir = tmp_path / "work"
    workdir.mkdir()

    assert run_cell(hub_python(), IPYTHON_RUNNER, source, list(values), workdir) == values
    assert list(workdir.iterdir()) == []


# --- properties -------------------------------------------------------------------------------------

DANGEROUS = st.sampled_from(['"', "'", "\\", "\n", "\r", "\x00", "\u2028", "\u2029", "\ud800", "\udfff",
                             "\u202e", "\x85", "{", "}", "%", "#", "!", "?", "\ufeff"])
TEXT = st.text(st.one_of(st.characters(categories=["L", "M", "N", "P", "S", "Z", "C"]), DANGEROUS), max_size=60)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_any_text_is_one_line_of_literal_that_evaluates_to_itself(text):
    source = PythonTranslator().render({"value": text})

    assert len(source.splitlines()) == 2
    assert literal_values(source) == {"value": text}


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_any_json_value_round_trips_through_the_injected_cell_and_metadata(value):
    result = inject_parameters(notebook(), {"datasets": value}, declared=DECLARED)

    assert literal_values(injected_cells(result)[0]["source"]) == {"datasets": value}
    assert json.loads(json.dumps(result["metadata"]["esap"]["parameters"])) == {"datasets": value}


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[A-Za-z_\u00c0-\uffff][\w\u00b7\u2160-\u217f]{0,8}", fullmatch=True) | TEXT)
def test_any_name_is_either_refused_or_defines_exactly_that_variable(name):
    plain_variable = (name.isidentifier() and not keyword.iskeyword(name)
                      and unicodedata.normalize("NFKC", name) == name)

    if not plain_variable:
        with pytest.raises(UndeclaredParameterError):
            inject_parameters(notebook(), {name: 1}, declared={name})
    else:
        result = inject_parameters(notebook(), {name: 1}, declared={name})
        assert literal_values(injected_cells(result)[0]["source"]) == {name: 1}


def test_special_floats_render_as_floats():
    defined = literal_values(PythonTranslator().render({"a": math.inf, "b": -math.inf, "c": math.nan}))

    assert defined["a"] == math.inf and defined["b"] == -math.inf and math.isnan(defined["c"])
