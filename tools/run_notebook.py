"""Execute docs/examples/exploring.ipynb headless and (optionally) save it with outputs.

    .venv/bin/python tools/run_notebook.py          # run, write the outputs into the file
    .venv/bin/python tools/run_notebook.py --check  # run, write nothing, fail on a cell error

`make notebook` runs the first form (after `make build`). The notebook is
committed with its outputs so readers on a code host see the tables and the
plot; tests/test_notebook.py runs it again and checks those outputs are
not stale (see `comparable()` below).

The kernel is a fresh python3 kernel started in a temporary directory with
this tree first on PYTHONPATH, so it imports the in-place build and writes
nothing into the repository; MPLBACKEND=Agg makes matplotlib headless.
The saved file carries no wall-clock data: execution timing is not
recorded, and the kernel's language_info is reduced to its name.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "docs" / "examples" / "exploring.ipynb"


@contextlib.contextmanager
def _kernel_env() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "MPLBACKEND", "JUPYTER_PLATFORM_DIRS")}
    before = saved["PYTHONPATH"]
    os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + before if before else "")
    os.environ["MPLBACKEND"] = "Agg"
    # jupyter_core warns about its path migration unless this is set.
    os.environ["JUPYTER_PLATFORM_DIRS"] = "1"
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def execute(path: pathlib.Path = NOTEBOOK, timeout: int = 300) -> Any:
    """A fresh execution of the notebook at path (an nbformat node), normalized."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    with _kernel_env(), tempfile.TemporaryDirectory() as workdir, warnings.catch_warnings():
        # Jupyter's machinery (zmq, traitlets, asyncio loops) raises
        # deprecation and resource warnings that are not ours.
        warnings.simplefilter("ignore")
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            record_timing=False,
            resources={"metadata": {"path": workdir}},
        )
        client.execute()
    return normalize(nb)


def normalize(nb: Any) -> Any:
    """Drops what changes from run to run without the content changing."""
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    return nb


def errors(nb: Any) -> list[str]:
    return [
        "%s: %s" % (o["ename"], o["evalue"])
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]


# The engine's memory in a log's HTML repr depends on the allocator and the
# platform, not on what the notebook computes.
_VOLATILE = re.compile(r"(engine memory</th><td[^>]*>)[^<]*")


def comparable(nb: Any) -> list[list[tuple[str, str]]]:
    """Per code cell, what must not change between the committed run and a
    fresh one: every output's kind and MIME types, the exact text printed
    (stream output: numbers computed from the seeded data), and timelog's
    own HTML reprs (engine memory masked). Rich output of other libraries
    (pandas, Polars, matplotlib's PNG bytes) is compared by kind only: its
    formatting is theirs and moves between versions."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        items = []
        for o in cell.get("outputs", []):
            kind = o.get("output_type", "")
            if kind == "stream":
                items.append((kind + ":" + o.get("name", ""), o.get("text", "")))
                continue
            data = o.get("data", {})
            items.append((kind, ",".join(sorted(data))))
            page = data.get("text/html", "")
            if 'class="timelog-repr"' in page:
                items.append(("timelog-html", _VOLATILE.sub(r"\1*", page)))
        out.append(items)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="run only; do not write")
    parser.add_argument("path", nargs="?", default=str(NOTEBOOK))
    args = parser.parse_args(argv)
    path = pathlib.Path(args.path)
    nb = execute(path)
    bad = errors(nb)
    if bad:
        print("notebook cells raised:\n  " + "\n  ".join(bad), file=sys.stderr)
        return 1
    if not args.check:
        import nbformat

        nbformat.write(nb, str(path))
        print("wrote %s (%d bytes)" % (path.relative_to(ROOT), path.stat().st_size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
