"""The documentation a comment points at exists: every `docs/….md#anchor`
cited in the code, and every relative link between the Markdown files,
names a file of the repository and a heading (or an explicit anchor) in it.
A renamed heading or a moved file otherwise leaves a reader at a dead end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CODE_FOLDERS = ("shared", "web", "worker", "client", "tests", "bench", "fuzz")
CODE_SUFFIXES = {".py", ".html", ".js", ".mako"}
CITATION = re.compile(r"\b(docs/[a-z_-]+\.md)(?:#([a-z0-9-]+))?")
MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+\.md)?(?:#([^)\s]+))?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
EXPLICIT_ANCHOR = re.compile(r'<a id="([^"]+)"')
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped,
    spaces as hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors_of(markdown: Path) -> set[str]:
    text = FENCE.sub("", markdown.read_text())
    return {slug(heading) for heading in HEADING.findall(text)} | set(EXPLICIT_ANCHOR.findall(text))


def _code_files() -> list[Path]:
    return [
        path
        for folder in CODE_FOLDERS
        for path in sorted((REPO / folder).rglob("*"))
        if path.suffix in CODE_SUFFIXES and ".venv" not in path.parts
    ]


def _markdown_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))] + [
        REPO / folder / "README.md" for folder in ("bench", "tests", "fuzz")
    ]


def test_the_slug_is_the_one_github_makes() -> None:
    assert slug("Failures, and what holds") == "failures-and-what-holds"
    assert slug("What `make run` starts") == "what-make-run-starts"
    assert slug("The REST API") == "the-rest-api"


def test_every_citation_in_the_code_names_a_document_and_a_heading_that_exist() -> None:
    broken = []
    for path in _code_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            for document, anchor in CITATION.findall(line):
                target = REPO / document
                if not target.exists() or (anchor and anchor not in anchors_of(target)):
                    broken.append(f"{path.relative_to(REPO)}:{number}: {document}#{anchor}")
    assert broken == []


@pytest.mark.parametrize("markdown", _markdown_files(), ids=lambda path: str(path.relative_to(REPO)))
def test_every_link_between_the_documents_leads_somewhere(markdown: Path) -> None:
    broken = []
    for document, anchor in MARKDOWN_LINK.findall(FENCE.sub("", markdown.read_text())):
        if document.startswith(("http:", "https:")):
            continue
        target = (markdown.parent / document).resolve() if document else markdown
        if not target.exists() or (anchor and anchor not in anchors_of(target)):
            broken.append(f"{document}#{anchor}")
    assert broken == []


def test_the_readme_is_a_page() -> None:
    assert len((REPO / "README.md").read_text().splitlines()) <= 150


OUTSIDE = re.compile(r"\b(?:PRODUCT|RELIABILITY|EMBEDDED|STYLE)\.md|\b[Ii]ssue [0-9]")


def test_no_code_cites_a_document_outside_the_repository_or_an_issue() -> None:
    """A reader can open neither: what a comment needs is in docs/."""
    cited = [
        f"{path.relative_to(REPO)}:{number}"
        for path in _code_files()
        if path != Path(__file__)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if OUTSIDE.search(line)
    ]
    assert cited == []
