"""Every shell block of README.md and docs/*.md is run by a test, or says why not.

A block is either marked (its first line starts with walkthrough.NOT_RUN, e.g. "needs Docker") or
claimed by exactly one entry of walkthrough.CLAIMS, whose test runs it as written. So a block added
to the docs fails here until a test runs it or it says why none can.
"""

from __future__ import annotations

import re

from support import REPO
from walkthrough import CLAIMS, DOCS, NOT_RUN, blocks

# a command a user is told to run, in a block not marked ```sh (so it would escape the check)
COMMAND = re.compile(r"^(\.venv/bin/|scripts/|export LETHE_|docker )", re.M)


def test_every_shell_block_is_run_by_a_test_or_marked_not_run() -> None:
    problems = []
    for document in DOCS:
        name = str(document.relative_to(REPO))
        claims = {text: test for (doc, text), test in CLAIMS.items() if doc == name}
        for number, body in enumerate(blocks(document), start=1):
            first = body.splitlines()[0] if body.strip() else ""
            claimed = [text for text in claims if text in body]
            where = f"{name}, shell block {number} ({first.strip()[:60]!r})"
            if first.startswith(NOT_RUN):
                if claimed:
                    problems.append(f"{where} is marked not run but claimed by {claimed}")
            elif not claimed:
                problems.append(f"{where} is run by no test: add a test that runs it (tests/e2e/test_docs.py "
                                f"shows how) and claim it in tests/e2e/walkthrough.py CLAIMS, or make its "
                                f"first line `{NOT_RUN} <why>`")
            elif len(claimed) > 1 and len({claims[text] for text in claimed}) > 1:
                problems.append(f"{where} is claimed by several tests: {[claims[t] for t in claimed]}")
    assert not problems, "\n".join(problems)


def test_every_claim_names_exactly_one_block_and_a_test_that_exists() -> None:
    problems = []
    for (name, text), test in CLAIMS.items():
        found = [body for body in blocks(REPO / name) if text in body]
        if len(found) != 1:
            problems.append(f"{name}: {len(found)} shell blocks contain {text!r} (claimed by {test})")
        module, _, function = test.partition("::")
        source = (REPO / "tests" / "e2e" / module).read_text()
        if f"def {function}(" not in source or text not in source:
            problems.append(f"{test} does not exist or does not run the block it claims ({name}: {text!r})")
    assert not problems, "\n".join(problems)


def test_commands_are_in_sh_blocks() -> None:
    """A command in a ```bash, ```console or unmarked block would escape the check above."""
    offenders = []
    for document in DOCS:
        for language, body in re.findall(r"^```(\w*)\n(.*?)^```", document.read_text(encoding="utf-8"), re.S | re.M):
            if language != "sh" and (command := COMMAND.search(body)):
                offenders.append(f"{document.relative_to(REPO)}: a ```{language} block runs {command[0]!r}")
    assert not offenders, "\n".join(offenders) + "\nmake them ```sh blocks (then run or mark them)"
