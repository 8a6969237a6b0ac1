"""Every relative link in the Markdown pages resolves: the file or folder exists, and a
#fragment names a heading of the page it points to (GitHub's anchors)."""

from __future__ import annotations

import os
import re

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SKIP_DIRS = {".git", ".venv", ".collections", ".cache", "node_modules"}

# [text](target) and ![alt](target); the target ends at whitespace or ")" (an optional "title" may follow).
INLINE_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$")
FENCE = re.compile(r"^\s{0,3}(```|~~~)")
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def markdown_files(root: str = ROOT) -> list[str]:
    found = []
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        found += [os.path.join(top, f) for f in sorted(files) if f.endswith(".md")]
    return found


def prose_lines(text: str):
    """The lines outside fenced code blocks, with their numbers."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower case, punctuation dropped, spaces as '-'."""
    text = CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: str) -> set[str]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    seen: dict[str, int] = {}
    result = set()
    for _number, line in prose_lines(text):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else "%s-%d" % (base, count))
    return result


def broken_links(path: str, root: str = ROOT) -> list[str]:
    """'<file>:<line>: <target>: <why>' for each relative link of the page that does not resolve."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    problems = []
    for number, line in prose_lines(text):
        line = CODE_SPAN.sub("", line)
        targets = INLINE_LINK.findall(line)
        reference = REFERENCE_LINK.match(line)
        if reference:
            targets.append(reference.group(1))
        for target in targets:
            if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # empty, or http:, https:, mailto: ...: not a file here
            file_part, _hash, fragment = target.partition("#")
            resolved = path if not file_part else os.path.normpath(os.path.join(os.path.dirname(path), file_part))
            where = "%s:%d: %s" % (os.path.relpath(path, root), number, target)
            if not os.path.exists(resolved):
                problems.append("%s: %s does not exist" % (where, os.path.relpath(resolved, root)))
            elif fragment and resolved.endswith(".md") and fragment not in anchors(resolved):
                problems.append("%s: no heading with the anchor #%s" % (where, fragment))
    return problems


def test_the_pages_are_found():
    pages = [os.path.relpath(p, ROOT) for p in markdown_files()]
    assert "README.md" in pages
    assert os.path.join("docs", "roles.md") in pages


@pytest.mark.parametrize("page", [os.path.relpath(p, ROOT) for p in markdown_files()])
def test_relative_links_resolve(page):
    assert broken_links(os.path.join(ROOT, page)) == []


def test_readme_is_a_newcomers_page():
    # The limit: about 12 KB; the long tables live in docs/.
    assert os.path.getsize(os.path.join(ROOT, "README.md")) <= 12 * 1024


@pytest.mark.parametrize("heading, expected", [
    ("LINUX_AGENT", "linux_agent"),
    ("Log bundle", "log-bundle"),
    ("The modules' check mode, diff, idempotence, failure messages", "the-modules-check-mode-diff-idempotence-failure-messages"),
    ("Windows: WinRM round trips per host and cause", "windows-winrm-round-trips-per-host-and-cause"),
    ("`make test` and [CI](x.md)", "make-test-and-ci"),
])
def test_slug_follows_github(heading, expected):
    assert slug(heading) == expected


def test_broken_links_are_reported(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other page\n\n## Same\n\n## Same\n", encoding="utf-8")
    page = tmp_path / "README.md"
    page.write_text(
        "# Title\n\n"
        "[fine](docs/other.md) [fine too](docs/other.md#same-1) [here](#title) [folder](docs/)\n"
        "[web](https://example.com/missing) `[in code](missing.md)`\n"
        "```\n[in a block](missing.md)\n```\n"
        "[gone](docs/gone.md)\n"
        "![picture](img/chart.png)\n"
        "[no such heading](docs/other.md#nowhere)\n"
        "[ref]: docs/also-gone.md\n",
        encoding="utf-8")
    problems = broken_links(str(page), root=str(tmp_path))
    assert [p.split(": ")[0] for p in problems] == ["README.md:8", "README.md:9", "README.md:10", "README.md:11"]
    assert "docs/gone.md does not exist" in problems[0]
    assert "img/chart.png does not exist" in problems[1]
    assert "no heading with the anchor #nowhere" in problems[2]
    assert "docs/also-gone.md does not exist" in problems[3]


def test_the_action_group_holds_every_module():
    # module_defaults: {group/azure_backup.remediation.remediation: ...} must reach every module, new ones too.
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as handle:
        group = yaml.safe_load(handle)["action_groups"]["remediation"]
    modules = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "plugins", "modules")) if f.endswith(".py") and f != "__init__.py")
    assert sorted(group) == modules
