"""docs/examples/exploring.ipynb runs headless, and its committed outputs are complete and current.

Needs nbclient, nbformat, ipykernel, matplotlib, pandas, polars and duckdb
(all in requirements-dev.txt); skipped only when one of them cannot be
imported. The execution is tools/run_notebook.py's (what `make notebook`
saves): a fresh python3 kernel in a temporary directory with this tree on
PYTHONPATH, so it imports the in-place build and writes nothing into the
repository.

Staleness: the committed outputs must equal a fresh run's in everything
the notebook itself computes (tools/run_notebook.py ``comparable``): per
cell, the kinds and MIME types of the outputs, every printed line, and
timelog's own HTML reprs (engine memory masked). Other libraries' rich
output (pandas and Polars tables, the PNG bytes) is compared by kind only,
so a new pandas or matplotlib release does not fail the suite.
"""

import base64
import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

for _name in ("nbclient", "nbformat", "ipykernel", "matplotlib", "pandas", "polars", "duckdb"):
    pytest.importorskip(_name)

import nbformat  # noqa: E402

_spec = importlib.util.spec_from_file_location("run_notebook", ROOT / "tools" / "run_notebook.py")
run_notebook = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_notebook)
NOTEBOOK = run_notebook.NOTEBOOK


@pytest.fixture(scope="module")
def executed():
    return run_notebook.execute(NOTEBOOK)


@pytest.fixture(scope="module")
def committed():
    return nbformat.read(str(NOTEBOOK), as_version=4)


def outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            yield from cell.get("outputs", [])


def rich(nb, mime):
    return [
        o["data"][mime]
        for o in outputs(nb)
        if o.get("output_type") in ("display_data", "execute_result") and mime in o.get("data", {})
    ]


def test_every_cell_ran_without_error(executed):
    code_cells = [c for c in executed.cells if c.cell_type == "code"]
    assert code_cells and all(c.get("execution_count") for c in code_cells)
    assert not run_notebook.errors(executed)


@pytest.mark.parametrize("which", ["executed", "committed"])
def test_plot_is_in_the_outputs(which, request):
    pngs = rich(request.getfixturevalue(which), "image/png")
    assert len(pngs) == 1
    raw = base64.b64decode(pngs[0])
    assert raw.startswith(b"\x89PNG") and len(raw) > 5_000


@pytest.mark.parametrize("which", ["executed", "committed"])
def test_dataframe_html_tables_are_in_the_outputs(which, request):
    html = rich(request.getfixturevalue(which), "text/html")
    assert any('class="dataframe"' in h and "<table" in h for h in html)  # pandas
    assert sum("shape: (" in h and "<table" in h for h in html) >= 2  # Polars


@pytest.mark.parametrize("which", ["executed", "committed"])
def test_html_repr_is_in_the_outputs(which, request):
    html = rich(request.getfixturevalue(which), "text/html")
    tables = [h for h in html if 'class="timelog-repr"' in h]
    assert len(tables) >= 3
    first = tables[0]
    assert '<th style="text-align:left">records</th>' in first
    assert "2024-03-01T09:" in first and "min" in first  # time span, human units
    assert "L1 segments" in first and "memtable" in first
    # the preview: first and last records with ISO times, the count between
    assert 'class="timelog-preview"' in first and "more records" in first
    assert "2024-03-01T09:00:00.120Z" in first and "&#x27;kind&#x27;" in first
    assert any("TimelogIter" in h for h in tables)  # an iterator's table
    assert "<td>closed</td>" in tables[-1] and "timelog-preview" not in tables[-1]


@pytest.mark.parametrize("which", ["executed", "committed"])
def test_counts_slices_and_queries_printed(which, request):
    nb = request.getfixturevalue(which)
    text = "".join(o.get("text", "") for o in outputs(nb) if o.get("output_type") == "stream")
    assert "events in that minute:" in text
    assert "purchases in 2 s" in text
    assert "True" in text  # histogram sums to len(log)
    assert "09:12 (" in text  # DuckDB's per-minute rows over the iterator


def test_committed_file_has_outputs_and_no_timing(committed):
    code_cells = [c for c in committed.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code_cells), "run `make notebook`"
    assert sum(bool(c.get("outputs")) for c in code_cells) >= len(code_cells) - 1
    assert not any("execution" in c.metadata for c in committed.cells)
    assert committed.metadata.get("language_info") == {"name": "python"}
    assert NOTEBOOK.stat().st_size < 200_000


def test_committed_outputs_are_not_stale(executed, committed):
    fresh = run_notebook.comparable(executed)
    saved = run_notebook.comparable(committed)
    assert len(fresh) == len(saved), "code cells added or removed: run `make notebook`"
    for i, (a, b) in enumerate(zip(fresh, saved)):
        assert a == b, "code cell %d: committed outputs are stale; run `make notebook`" % (i,)
