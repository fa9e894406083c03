#!/usr/bin/env python3
"""Every ```swift block of README.md and of the DocC catalogs' pages (Sources/*/*.docc,
Drivers/*/*.docc) must appear verbatim in a file of Tests/Downstream (the package `make test`
builds and runs against the rig), and import only modules that a library product of the main
package offers. Exit 1 with what is missing."""

import json
import pathlib
import re
import subprocess
import sys

repo = pathlib.Path(__file__).resolve().parents[1]
pages = [repo / "README.md"] + sorted(p for root in ("Sources", "Drivers") for p in (repo / root).glob("*/*.docc/**/*.md"))
sources = {p: p.read_text() for p in (repo / "Tests/Downstream/Sources").rglob("*.swift")}
problems = []
blocks = []
for page in pages:
    found = re.findall(r"```swift\n(.*?)```", page.read_text(), re.S)
    if page.name == "README.md" and not found:
        problems.append("README.md has no ```swift block")
    for number, block in enumerate(found, 1):
        blocks.append(block)
        if not any(block in text for text in sources.values()):
            problems.append(f"{page.relative_to(repo)} swift block {number} (starting {block.splitlines()[0]!r}) "
                            "is not verbatim in Tests/Downstream")

described = subprocess.run(["swift", "package", "describe", "--type", "json"], cwd=repo,
                           capture_output=True, text=True, check=True).stdout
package = json.loads(described[described.index("{"):])
libraries = {t for p in package["products"] if "library" in p["type"] for t in p["targets"]}
for product in package["products"]:
    if "fuzz" in product["name"].lower():
        problems.append(f"a fuzz oracle is a product: {product['name']}")
local = {t["name"] for t in package["targets"]}
for block in blocks:
    for module in re.findall(r"^\s*import\s+(\w+)", block, re.M):
        if module in local and module not in libraries:
            problems.append(f"a snippet imports {module}, which no library product offers")

for problem in problems:
    print(f"check-readme-snippets: {problem}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"check-readme-snippets: {len(blocks)} swift blocks (README.md and {len(pages) - 1} DocC pages) verbatim in "
      "Tests/Downstream; imports are products")
