"""What README.md and docs/ point at exists: relative links and their anchors, file paths in code
spans (under the repository, lambdas/batchlane/ or toolkit/batchlane/) and dotted module names
``batchlane.x.y`` (a module, or a name its source defines)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PACKAGE_ROOTS = (ROOT / "lambdas", ROOT / "toolkit")
PATH_BASES = (ROOT, ROOT / "lambdas" / "batchlane", ROOT / "toolkit" / "batchlane")

LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\n]+)`")
FILE_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*(\.(py|yaml|yml|json|md|txt)|/)$")
MODULE = re.compile(r"^batchlane(\.[A-Za-z_]\w*)+$")
LINKED = re.compile(r"\[([^\]]*)\]\([^)]*\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: links as their text, lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", LINKED.sub(r"\1", heading).strip().lower())
    return text.replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    text = FENCE.sub("", doc.read_text())
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def prose(doc: Path) -> str:
    return FENCE.sub("", doc.read_text())


def broken_links(doc: Path, root: Path = ROOT) -> list[str]:
    problems = []
    for target in LINK.findall(prose(doc)):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        if root not in resolved.parents:
            continue  # outside the repository (the seed guide beside it)
        if not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading #{anchor}")
    return problems


def module_exists(name: str) -> bool:
    """A module or package under lambdas/ or toolkit/, or one name its source mentions."""
    parts = name.split(".")
    for cut in range(len(parts), 1, -1):
        relative, rest = Path(*parts[:cut]), parts[cut:]
        for base in PACKAGE_ROOTS:
            source = base / relative.with_suffix(".py")
            if not source.is_file():
                if not (base / relative).is_dir():
                    continue
                source = base / relative / "__init__.py"
            if not rest:
                return True
            return len(rest) == 1 and source.is_file() and re.search(rf"\b{rest[0]}\b", source.read_text()) is not None
    return False


def broken_names(doc: Path) -> list[str]:
    problems = []
    for span in CODE.findall(LINKED.sub("", prose(doc))):  # a link's text is checked as the link
        if FILE_PATH.match(span) and "/" in span.rstrip("/"):
            if not any((base / span).exists() for base in (*PATH_BASES, doc.parent)):
                problems.append(f"{span}: no such file")
        elif MODULE.match(span) and not module_exists(span):
            problems.append(f"{span}: no such module or name")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_links_paths_and_modules_in_the_docs_exist(doc):
    problems = broken_links(doc) + broken_names(doc)
    assert not problems, f"{doc.relative_to(ROOT)}:\n" + "\n".join(problems)


def test_the_checker_reports_what_does_not_exist(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text(
        "# Title\n[a](x.md#title) [b](x.md#nope) [c](gone.md)\n"
        "`lambdas/batchlane/status/` `status/view.py` `batchlane.client.view` `batchlane.status.view`\n"
        "`batchlane.client.api.BatchlaneClient` `batchlane.client.api.Nothing`\n"
    )
    assert broken_links(doc, root=tmp_path) == ["x.md#nope: no heading #nope", "gone.md: no such file"]
    assert broken_names(doc) == [
        "status/view.py: no such file",
        "batchlane.status.view: no such module or name",
        "batchlane.client.api.Nothing: no such module or name",
    ]
