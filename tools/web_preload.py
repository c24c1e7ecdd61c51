#!/usr/bin/env python3
"""Writes web/index.html's module preload hints from the page's import graph.

The page is unbundled ES modules: without hints the browser finds them level by level (app.js,
then what it imports, then what those import), one round trip per level. A
<link rel="modulepreload"> per module lets it fetch them all at once. The hints sit between the
markers <!-- modulepreload:begin --> and <!-- modulepreload:end --> in index.html.

  tools/web_preload.py          rewrite the hints
  tools/web_preload.py --check  exit 1 (naming the difference) when they are not current

No network and no build step: the browser test runs --check's logic by loading the page (every
module it requests must have a hint), and ctest web_preload_current runs --check.
"""
import pathlib
import re
import sys

WEB = pathlib.Path(__file__).resolve().parent.parent / "web"
ENTRY = "js/app.js"
BEGIN, END = "<!-- modulepreload:begin -->", "<!-- modulepreload:end -->"
IMPORT = re.compile(r"""^\s*(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}/[^'"]+)['"]""", re.M)


def modules():
    """Every module reachable from the entry, in a stable order (breadth first, then by name)."""
    seen, queue = [], [ENTRY]
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.append(path)
        text = (WEB / path).read_text(encoding="utf-8")
        base = pathlib.PurePosixPath(path).parent
        for spec in sorted(IMPORT.findall(text)):
            target = pathlib.PurePosixPath(base / spec)
            parts = []
            for part in target.parts:
                if part == "..":
                    parts.pop()
                elif part != ".":
                    parts.append(part)
            queue.append("/".join(parts))
    return seen


def hints(indent):
    return "\n".join(f'{indent}<link rel="modulepreload" href="{m}">' for m in modules())


def main():
    index = WEB / "index.html"
    html = index.read_text(encoding="utf-8")
    m = re.search(r"([ \t]*)" + re.escape(BEGIN) + r"\n.*?" + re.escape(END), html, re.S)
    if not m:
        sys.exit(f"{index}: no {BEGIN} ... {END} markers")
    indent = m.group(1)
    block = f"{indent}{BEGIN}\n{hints(indent)}\n{indent}{END}"
    updated = html[: m.start()] + block + html[m.end():]
    if "--check" in sys.argv[1:]:
        if updated != html:
            sys.exit(f"{index}: the modulepreload hints are not current; run tools/web_preload.py")
        print(f"{index}: {len(modules())} module hints, current")
        return
    index.write_text(updated, encoding="utf-8")
    print(f"{index}: {len(modules())} module hints")


if __name__ == "__main__":
    main()
