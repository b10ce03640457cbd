"""The Python examples in docs/*.md run.

Each page's ```python blocks run top to bottom in one namespace (a page is a
script told in pieces). A block right after an HTML comment
``<!-- not run -->`` is skipped (none is at the time of writing).
"""

import pathlib
import re
import warnings

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"(<!-- not run -->\s*)?```python\n(.*?)```", re.S)
PAGES = sorted(p for p in DOCS.glob("*.md") if "```python" in p.read_text())


def test_pages_with_examples_exist():
    names = {p.name for p in PAGES}
    assert {"api.md", "getting-started.md", "numpy.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_run(page, capsys):
    namespace = {"__name__": "__docs__"}
    blocks = [code for skip, code in BLOCK.findall(page.read_text()) if not skip]
    assert blocks
    with warnings.catch_warnings():
        # The extend() example shows the RuntimeWarning on purpose.
        warnings.simplefilter("ignore", RuntimeWarning)
        for i, code in enumerate(blocks):
            try:
                exec(compile(code, "%s[block %d]" % (page.name, i), "exec"), namespace)
            except Exception as e:  # pragma: no cover - the failure message
                pytest.fail("%s, block %d raised %r:\n%s" % (page.name, i, e, code))
    for value in list(namespace.values()):
        close = getattr(value, "close", None)
        if type(value).__name__ == "Timelog" and close:
            close()
