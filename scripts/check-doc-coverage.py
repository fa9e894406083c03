#!/usr/bin/env python3
"""Every public or open symbol of every library product has a doc comment of its own.

Reads the symbol graphs `swift package dump-symbol-graph` writes (public and open symbols,
synthesized members skipped) for the modules that a library product offers, and lists each symbol
declared in this package's sources that has no doc comment, or only one inherited from a protocol
of another package (such as `description` showing the standard library's words; a requirement's
words inherited from this package's own protocol, `SASLMechanism` say, count as documented). Sorted by file
and line, so two runs print the same list. Exit 1 if any.

  scripts/check-doc-coverage.py              build the symbol graphs, then check
  scripts/check-doc-coverage.py --no-build   check the graphs already in .build
  scripts/check-doc-coverage.py --docc SINCE check the graphs `swift package generate-documentation`
                                             extracted after SINCE (seconds since 1970), as
                                             scripts/docs.sh does, instead of extracting them again
"""

import json
import pathlib
import subprocess
import sys
import time
import urllib.parse

repo = pathlib.Path(__file__).resolve().parents[1]


def swift(*arguments):
    return subprocess.run(["swift", "package", *arguments], cwd=repo, capture_output=True, text=True)


described = swift("describe", "--type", "json")
if described.returncode != 0:
    sys.exit(f"check-doc-coverage: swift package describe failed:\n{described.stderr}")
package = json.loads(described.stdout[described.stdout.index("{"):])
modules = sorted({t for p in package["products"] if "library" in p["type"] for t in p["targets"]})
local = {t["name"] for t in package["targets"]}

fresh_since = None
arguments = sys.argv[1:]
docc_since = float(arguments[arguments.index("--docc") + 1]) if "--docc" in arguments else None


def graphs_of(module):
    """The module's symbol graph files: its own, and one per module whose types it extends."""
    if docc_since is not None:
        own = [f / f"{module}.symbols.json" for f in repo.glob(f".build/*/extracted-symbols/*/{module}")]
        folders = [g.parent for g in own if g.exists() and g.stat().st_mtime >= docc_since - 1]
        if not folders:
            sys.exit(f"check-doc-coverage: generate-documentation extracted no symbol graph for {module} "
                     f"(in .build/*/extracted-symbols/*/{module})")
        folder = max(folders, key=lambda f: (f / f"{module}.symbols.json").stat().st_mtime)
        return sorted(folder.glob(f"{module}.symbols.json")) + sorted(folder.glob(f"{module}@*.symbols.json"))
    return sorted(directory.glob(f"{module}.symbols.json")) + sorted(directory.glob(f"{module}@*.symbols.json"))


if docc_since is not None:
    directory = None
elif "--no-build" not in arguments:
    fresh_since = time.time()
    # It exits 1 when the test modules were not built (it tries them too): what counts is that
    # every library module's graph was written by this run, which is checked below.
    dumped = swift("dump-symbol-graph", "--skip-synthesized-members", "--minimum-access-level", "public")
    lines = [line for line in dumped.stdout.splitlines() if line.startswith("Files written to ")]
    if not lines:
        sys.exit(f"check-doc-coverage: dump-symbol-graph failed:\n{dumped.stdout}{dumped.stderr}")
    directory = pathlib.Path(lines[-1].removeprefix("Files written to ").strip())
else:
    found = sorted(repo.glob(".build/*/symbolgraph"))
    if not found:
        sys.exit("check-doc-coverage: no symbol graphs in .build; run without --no-build")
    directory = found[0]


def path_of(uri):
    return pathlib.Path(urllib.parse.unquote(urllib.parse.urlparse(uri).path))


missing = []
counted = 0
for module in modules:
    # SMTPTLS.symbols.json, and SMTPTLS@SMTPCore.symbols.json for its extensions of SMTPCore's types.
    files = graphs_of(module)
    if not files or (fresh_since is not None and files[0].stat().st_mtime < fresh_since - 1):
        sys.exit(f"check-doc-coverage: dump-symbol-graph wrote no symbol graph for {module} in {directory}:\n"
                 f"{dumped.stdout}{dumped.stderr}" if fresh_since is not None else
                 f"check-doc-coverage: no symbol graph for {module} in {directory}")
    for file in files:
        graph = json.loads(file.read_text())
        for symbol in graph["symbols"]:
            if symbol.get("accessLevel") not in ("public", "open"):
                continue
            if symbol["kind"]["identifier"] == "swift.extension":
                continue  # an extension block: its members are checked one by one
            if "::SYNTHESIZED::" in symbol["identifier"]["precise"]:
                continue  # a default implementation, checked where it is declared
            location = symbol.get("location")
            if location is None:
                continue  # synthesized: no declaration in the sources
            source = path_of(location["uri"])
            if repo not in source.parents:
                continue
            counted += 1
            comment = symbol.get("docComment")
            own = comment is not None and comment.get("module", module) in local and any(
                line["text"].strip() for line in comment.get("lines", []))
            if not own:
                name = ".".join(symbol["pathComponents"])
                where = f"{source.relative_to(repo)}:{location['position']['line'] + 1}"
                missing.append((where, module, symbol["kind"]["displayName"].lower(), name))

missing = sorted(set(missing), key=lambda m: (m[0].rsplit(":", 1)[0], int(m[0].rsplit(":", 1)[1]), m[3]))
for where, module, kind, name in missing:
    print(f"{where}: {module} {kind} {name} has no doc comment")
print(f"check-doc-coverage: {counted - len(missing)} of {counted} public symbols documented in "
      f"{len(modules)} modules; {len(missing)} missing")
sys.exit(1 if missing else 0)
