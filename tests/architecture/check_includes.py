#!/usr/bin/env python3
"""Checks src/ includes against the stage link graph (docs/ARCHITECTURE.md).

A file in src/<stage>/ may `#include "<other>/..."` only when <other> is a stage that
<stage> can reach in the link graph, and never another stage's `detail/` header (detail/
is private to its stage; tests may include it, so only src/ is checked).

The graph is read from the target_link_libraries calls of src/*/CMakeLists.txt (n2v_<stage>
names), so it cannot drift from the build. A stage S may use stage X when S links X
directly (PUBLIC, PRIVATE or INTERFACE) or through a chain whose later edges are PUBLIC or
INTERFACE: what CMake itself passes on as usage requirements.

Usage: check_includes.py [SOURCE_DIR]   (default: the repository holding this script)
Exit 0 when every include is allowed, 1 otherwise (each violation as file:line: include).
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"/]+)/([^"]*)"')
LINK_CALL = re.compile(r'target_link_libraries\s*\(([^)]*)\)', re.S)
STAGE_LIB = re.compile(r'^n2v_(\w+)$')
SCOPES = {"PUBLIC", "PRIVATE", "INTERFACE"}


def strip_cmake_comments(text):
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def read_graph(src, stages):
    """{stage: {dep: 'direct'|'public'}}: edges from target_link_libraries."""
    edges = {s: {} for s in stages}  # stage -> {dep: set of scopes}
    for stage in stages:
        cmake = src / stage / "CMakeLists.txt"
        if not cmake.is_file():
            continue
        for call in LINK_CALL.finditer(strip_cmake_comments(cmake.read_text())):
            words = call.group(1).split()
            scope = "PUBLIC"  # the plain signature passes usage requirements on
            for word in words[1:]:
                if word in SCOPES:
                    scope = word
                    continue
                m = STAGE_LIB.match(word)
                if m and m.group(1) in stages and m.group(1) != stage:
                    edges[stage].setdefault(m.group(1), set()).add(scope)
    return edges


def reachable(edges, stage):
    """Stages whose headers `stage` may include: direct deps, then PUBLIC/INTERFACE chains."""
    seen = set(edges[stage])
    todo = list(seen)
    while todo:
        dep = todo.pop()
        for nxt, scopes in edges.get(dep, {}).items():
            if scopes & {"PUBLIC", "INTERFACE"} and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def main():
    root = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2]
    src = root / "src"
    stages = sorted(p.name for p in src.iterdir() if p.is_dir())
    edges = read_graph(src, stages)
    print("stage link graph (from src/*/CMakeLists.txt):")
    allowed = {}
    for stage in stages:
        allowed[stage] = reachable(edges, stage)
        direct = ", ".join(f"{d}({'/'.join(sorted(s)).lower()})" for d, s in sorted(edges[stage].items()))
        print(f"  {stage:12} links {direct or '-'}")
        print(f"  {'':12} may include {', '.join(sorted(allowed[stage])) or '-'}")

    violations = []
    files = 0
    cross = 0
    for stage in stages:
        for path in sorted((src / stage).rglob("*")):
            if path.suffix not in (".h", ".cpp") or not path.is_file():
                continue
            files += 1
            rel = path.relative_to(root)
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                m = INCLUDE.match(line)
                if not m or m.group(1) not in stages:
                    continue
                target, rest = m.group(1), m.group(2)
                include = f'"{target}/{rest}"'
                if target == stage:
                    continue
                cross += 1
                if rest.startswith("detail/"):
                    violations.append(f"{rel}:{number}: #include {include}: "
                                      f"{target}/detail/ is private to stage {target}")
                elif target not in allowed[stage]:
                    violations.append(f"{rel}:{number}: #include {include}: stage {stage} does not "
                                      f"link n2v_{target} (directly or through PUBLIC links)")

    print(f"checked {files} files in {len(stages)} stages under {src}: "
          f"{cross} includes of another stage, {len(violations)} not allowed")
    for v in violations:
        print(v)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
