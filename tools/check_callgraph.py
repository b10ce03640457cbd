#!/usr/bin/env python3
"""Check that the engine's call graph between csrc/*.c files has no cycle.

The graph comes from the compiled objects, not from reading the source: each
csrc/*.c is compiled to an object (or the objects given on the command line
are used) and `nm` lists what it defines (T, D, B, R: external symbols) and
what it needs (U). File A calls file B when A needs a symbol B defines.
Static functions never appear (they are the file's own business), and
whatever the compiler inlined across a header (static inline) is not a call
between files either: this is the graph the linker sees.

The platform layer has two implementations of one interface (tl_sync.c for
POSIX, tl_sync_win32.c for Win32, each compiled empty on the other platform),
so only the one that defines symbols here takes part.

The objects are built twice: plain and with -DTL_DEBUG (debug builds call
extra validators and print through tl_strerror), so a cycle that only a
debug build links is caught too.

On success it prints the layers: a topological order, lowest first, each
file with the files it calls (the map docs/architecture.md shows). On a
cycle it prints each strongly connected component with the symbols that
close it and exits 1.

Usage: tools/check_callgraph.py [--cc CC] [--nm NM] [--quiet] [--src DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
DEFINED = set("TDBRVWGS")  # nm letters of defined external symbols


def compile_objects(cc: str, csrc: Path, out: Path, extra: list[str]) -> dict[str, Path]:
    objs = {}
    for src in sorted(csrc.glob("*.c")):
        obj = out / (src.stem + ".o")
        cmd = [
            cc,
            "-std=c17",
            "-O2",
            "-pthread",
            f"-I{csrc}",
            *extra,
            "-c",
            str(src),
            "-o",
            str(obj),
        ]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit(f"check_callgraph: compiling {src.name} failed:\n{res.stderr}")
        objs[src.name] = obj
    return objs


def symbols(nm: str, obj: Path) -> tuple[set[str], set[str]]:
    res = subprocess.run(
        [nm, "--defined-only", "-g", str(obj)], capture_output=True, text=True, check=True
    )
    defined = set()
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[-2] in DEFINED:
            defined.add(parts[-1])
    res = subprocess.run([nm, "-u", str(obj)], capture_output=True, text=True, check=True)
    undefined = {line.split()[-1] for line in res.stdout.splitlines() if line.strip()}
    return defined, undefined


def build_graph(nm: str, objs: dict[str, Path]) -> tuple[dict[str, dict[str, set[str]]], list[str]]:
    defs: dict[str, set[str]] = {}
    needs: dict[str, set[str]] = {}
    for name, obj in objs.items():
        defs[name], needs[name] = symbols(nm, obj)
    # An alternative platform file compiled empty here defines nothing.
    files = [f for f in objs if defs[f] or needs[f]]
    owner: dict[str, str] = {}
    for f in files:
        for s in defs[f]:
            if s in owner:
                sys.exit(f"check_callgraph: {s} is defined by both {owner[s]} and {f}")
            owner[s] = f
    graph: dict[str, dict[str, set[str]]] = {f: defaultdict(set) for f in files}
    for f in files:
        for s in needs[f]:
            g = owner.get(s)
            if g is not None and g != f:
                graph[f][g].add(s)
    return graph, files


def sccs(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def one_cycle(graph: dict[str, dict[str, set[str]]], comp: list[str]) -> list[str]:
    """A shortest cycle through the component's first file (BFS)."""
    start, inside = comp[0], set(comp)
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for f in frontier:
            for g in sorted(graph[f]):
                if g not in inside:
                    continue
                if g == start:
                    path = [f]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return (
                        [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, f, start]
                    )
                if g not in prev:
                    prev[g] = f
                    nxt.append(g)
        frontier = nxt
    return comp


def layers(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """Level 0 calls no other file; level k calls only files below k."""
    level: dict[str, int] = {}

    def depth(f: str) -> int:
        if f not in level:
            level[f] = 1 + max((depth(g) for g in graph[f]), default=-1)
        return level[f]

    for f in graph:
        depth(f)
    by: dict[int, list[str]] = defaultdict(list)
    for f, k in level.items():
        by[k].append(f)
    return [sorted(by[k]) for k in sorted(by)]


def check(cc: str, nm: str, csrc: Path, extra: list[str], label: str, quiet: bool) -> bool:
    with tempfile.TemporaryDirectory(prefix="callgraph-") as tmp:
        objs = compile_objects(cc, csrc, Path(tmp), extra)
        graph, files = build_graph(nm, objs)
    cyclic = [c for c in sccs(graph) if len(c) > 1]
    if cyclic:
        print(
            f"check_callgraph ({label}): the call graph between csrc/*.c files has {len(cyclic)} cycle(s):"
        )
        for comp in cyclic:
            print("  cycle among: " + ", ".join(comp))
            cyc = one_cycle(graph, comp)
            print("  for example: " + " -> ".join(cyc))
            for f in comp:
                for g in sorted(graph[f]):
                    if g in comp:
                        syms = sorted(graph[f][g])
                        more = f" (+{len(syms) - 4} more)" if len(syms) > 4 else ""
                        print(f"    {f} -> {g}: {', '.join(syms[:4])}{more}")
        return False
    edges = sum(len(v) for v in graph.values())
    print(
        f"check_callgraph ({label}): {len(files)} files, {edges} file-to-file call edges, no cycle"
    )
    if not quiet:
        print("layers, lowest first (each file calls only files on lower lines):")
        for k, files_k in enumerate(layers(graph)):
            for f in files_k:
                callees = ", ".join(sorted(graph[f])) or "-"
                print(f"  {k:2d}  {f:<18} -> {callees}")
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cc", default=os.environ.get("CC") or "gcc")
    ap.add_argument("--nm", default=os.environ.get("NM") or "nm")
    ap.add_argument("--quiet", action="store_true", help="do not print the layers")
    ap.add_argument("--src", type=Path, default=CSRC, help="engine sources (default: csrc/)")
    args = ap.parse_args()
    for tool in (args.cc, args.nm):
        if shutil.which(tool) is None:
            sys.exit(f"check_callgraph: {tool} not found")
    ok = check(args.cc, args.nm, args.src, [], "plain", args.quiet)
    ok = check(args.cc, args.nm, args.src, ["-DTL_DEBUG"], "TL_DEBUG", True) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
