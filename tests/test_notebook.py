"""docs/examples/exploring.ipynb runs headless and produces its plot and HTML repr.

Needs nbclient, nbformat, ipykernel and matplotlib (all in
requirements-dev.txt); skipped only when one of them cannot be imported.
The kernel runs in a temporary directory with this tree on PYTHONPATH, so it
imports the in-place build and writes nothing into the repository.
"""

import os
import pathlib
import warnings

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "docs" / "examples" / "exploring.ipynb"

# jupyter_core warns about its path migration unless this is set.
os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")

for _name in ("nbclient", "nbformat", "ipykernel", "matplotlib"):
    pytest.importorskip(_name)

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    workdir = tmp_path_factory.mktemp("notebook")
    env_before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + env_before if env_before else "")
    os.environ["MPLBACKEND"] = "Agg"
    try:
        with warnings.catch_warnings():
            # Jupyter's machinery (zmq, traitlets, asyncio loops) raises
            # deprecation and resource warnings that are not ours.
            warnings.simplefilter("ignore")
            client = NotebookClient(
                nb,
                timeout=300,
                kernel_name="python3",
                resources={"metadata": {"path": str(workdir)}},
            )
            client.execute()
    finally:
        if env_before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = env_before
        os.environ.pop("MPLBACKEND", None)
    return nb


def outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            yield from cell.get("outputs", [])


def test_every_cell_ran_without_error(executed):
    code_cells = [c for c in executed.cells if c.cell_type == "code"]
    assert code_cells and all(c.get("execution_count") for c in code_cells)
    errors = [o for o in outputs(executed) if o.get("output_type") == "error"]
    assert not errors, "\n".join("%s: %s" % (e["ename"], e["evalue"]) for e in errors)


def test_plot_is_in_the_outputs(executed):
    pngs = [
        o["data"]["image/png"]
        for o in outputs(executed)
        if o.get("output_type") in ("display_data", "execute_result")
        and "image/png" in o.get("data", {})
    ]
    assert len(pngs) == 1
    import base64

    raw = base64.b64decode(pngs[0])
    assert raw.startswith(b"\x89PNG") and len(raw) > 5_000


def test_html_repr_is_in_the_outputs(executed):
    html = [o["data"]["text/html"] for o in outputs(executed) if "text/html" in o.get("data", {})]
    tables = [h for h in html if 'class="timelog-repr"' in h]
    assert len(tables) >= 2
    first = tables[0]
    assert '<th style="text-align:left">records</th>' in first
    assert "2024-03-01T09:" in first and "min" in first  # time span, human units
    assert "L1 segments" in first and "memtable" in first
    assert "<td>closed</td>" in tables[-1]  # the closed log, last cell


def test_counts_and_slices_printed(executed):
    text = "".join(o.get("text", "") for o in outputs(executed) if o.get("output_type") == "stream")
    assert "events in that minute:" in text
    assert "purchases in 2 s" in text
    assert "True" in text  # histogram sums to len(log)
