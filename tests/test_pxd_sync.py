"""timelog/_core.pxd must mirror csrc/timelog.h.

Fails when a public function of the header is missing from the .pxd, when a
prototype drifts (different return or parameter types), or when a public
struct's fields or an enum's values differ. Parsing is textual: the header
is written in a regular style (one declaration per statement).
"""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
HEADER = ROOT / "csrc" / "timelog.h"
PXD = ROOT / "timelog" / "_core.pxd"


def _strip_c_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def _strip_py_comments(text):
    return re.sub(r"#[^\n]*", " ", text)


def _norm(sig):
    sig = sig.replace("TL_NODISCARD", " ")
    sig = re.sub(r"\s+", " ", sig).strip()
    sig = re.sub(r"\s*([(),*])\s*", r"\1", sig)
    return sig


def header_functions():
    """name -> normalized prototype, for every function the header declares."""
    text = _strip_c_comments(HEADER.read_text())
    text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)  # preprocessor lines
    out = {}
    for stmt in text.split(";"):
        stmt = stmt.strip()
        if not stmt or stmt.startswith("typedef") or "{" in stmt or "}" in stmt:
            # typedefs (incl. the on_drop function pointer) and struct bodies
            stmt = stmt.split("}")[-1].strip()
            if not stmt or stmt.startswith("typedef") or "{" in stmt:
                continue
        m = re.search(r"\b(tl_\w+)\s*\(", stmt)
        if m and not re.search(r"\(\s*\*", stmt):
            out[m.group(1)] = _norm(stmt)
    return out


def pxd_functions():
    text = _strip_py_comments(PXD.read_text())
    block = text.split('cdef extern from "timelog.h" nogil:', 1)[1]
    block = re.split(r"\n(?=\S)", block, maxsplit=1)[0]  # until dedent
    # Join continuation lines of wrapped prototypes.
    joined = re.sub(r",\s*\n\s*", ", ", block)
    out = {}
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith(("ctypedef", "const int64_t TL_")):
            continue
        m = re.search(r"\b(tl_\w+)\s*\(", line)
        if m and not re.search(r"\(\s*\*", line):
            out[m.group(1)] = _norm(line)
    return out


def _field(tokens, base=None):
    """(type, name) from a declaration's tokens; base = type of a comma group."""
    name = tokens[-1]
    words = [t for t in tokens[:-1] if t != "*"]
    stars = "*" * tokens.count("*")
    if not words and base is not None:
        words = base
    return (" ".join(words) + stars, name), words


def header_struct_fields(name):
    """[(type, field)] of a public struct; function pointers as ("fnptr", name)."""
    text = _strip_c_comments(HEADER.read_text())
    m = re.search(r"typedef struct \w+ \{([^{}]*)\}\s*" + name + r"\s*;", text, flags=re.S)
    assert m, name
    fields = []
    for decl in m.group(1).split(";"):
        decl = decl.strip()
        if not decl:
            continue
        fp = re.search(r"\(\s*\*\s*(\w+)\s*\)", decl)
        if fp:
            fields.append(("fnptr", fp.group(1)))
            continue
        base = None
        for part in decl.split(","):
            field, words = _field(re.findall(r"\w+|\*", part), base)
            base = base or words
            fields.append(field)
    return fields


def _pxd_body(kind, name):
    """The lines indented under ``ctypedef <kind> <name>:`` in the .pxd."""
    lines = _strip_py_comments(PXD.read_text()).splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "ctypedef %s %s:" % (kind, name):
            indent = len(line) - len(line.lstrip())
            body = []
            for nxt in lines[i + 1 :]:
                if not nxt.strip():
                    continue
                if len(nxt) - len(nxt.lstrip()) <= indent:
                    break
                body.append(nxt.strip())
            return body
    raise AssertionError("ctypedef %s %s not found in _core.pxd" % (kind, name))


def pxd_struct_fields(name):
    fields = []
    for line in _pxd_body("struct", name):
        if line == "pass":
            continue
        fp = re.search(r"\(\s*\*\s*(\w+)\s*\)", line)
        if fp:
            fields.append(("fnptr", fp.group(1)))
        else:
            fields.append(_field(re.findall(r"\w+|\*", line))[0])
    return fields


def header_enum(name):
    text = _strip_c_comments(HEADER.read_text())
    m = re.search(r"typedef enum \w+ \{([^{}]*)\}\s*" + name + r"\s*;", text, flags=re.S)
    assert m, name
    return [re.findall(r"\w+", part)[0] for part in m.group(1).split(",") if part.strip()]


def pxd_enum(name):
    return [re.findall(r"\w+", line)[0] for line in _pxd_body("enum", name)]


def test_parser_finds_the_header_api():
    # Guards the parser itself: an empty parse would make every check pass.
    funcs = header_functions()
    assert len(funcs) >= 40
    for name in (
        "tl_open",
        "tl_close",
        "tl_append_batch",
        "tl_spans_next",
        "tl_strerror",
        "tl_config_init",
    ):
        assert name in funcs


def test_every_public_function_is_declared():
    missing = sorted(set(header_functions()) - set(pxd_functions()))
    assert not missing, "missing from timelog/_core.pxd: %s" % ", ".join(missing)


def test_no_function_declared_that_the_header_lacks():
    extra = sorted(set(pxd_functions()) - set(header_functions()))
    assert not extra, "declared in _core.pxd but not in timelog.h: %s" % ", ".join(extra)


@pytest.mark.parametrize("name", sorted(header_functions()))
def test_prototype_has_not_drifted(name):
    pxd = pxd_functions()
    assert name in pxd, "%s missing from _core.pxd" % name
    assert pxd[name] == header_functions()[name]


def test_functions_in_header_order():
    header_order = list(header_functions())
    pxd_order = [n for n in pxd_functions() if n in header_functions()]
    assert pxd_order == header_order


@pytest.mark.parametrize("struct", ["tl_config_t", "tl_stats_t", "tl_span_t", "tl_allocator_t"])
def test_struct_fields_match(struct):
    assert pxd_struct_fields(struct) == header_struct_fields(struct)


@pytest.mark.parametrize("enum", ["tl_status_t", "tl_time_unit_t", "tl_maintenance_t"])
def test_enum_values_match(enum):
    assert pxd_enum(enum) == header_enum(enum)


@pytest.mark.parametrize("opaque", ["tl_log_t", "tl_snapshot_t", "tl_iter_t", "tl_span_iter_t"])
def test_opaque_structs_declare_no_fields(opaque):
    assert pxd_struct_fields(opaque) == []
