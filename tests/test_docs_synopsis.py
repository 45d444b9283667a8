"""#27 item 15: a command's synopsis in the README names every flag the command takes. The `streamflow-api`
synopsis had lost `--prediction-log`, `--registry*` and `--registry-poll` as they were added; this reads the
flags from the command's own `--help` and the synopsis from the README, so the next flag cannot be forgotten."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
# The commands whose README synopsis is a code block starting `<prog> [` that lists every flag (the console's
# names its connection and metric flags as a group, "as for --once"); their modules, run with --help.
COMMANDS = {"streamflow-api": "api.cli"}
FLAG = re.compile(r"--[a-z][a-z0-9-]*")


def synopsis(prog: str) -> str:
    """The README's synopsis block of ``prog``: its first line `prog [` and the indented lines after it."""
    lines = README.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{prog} ["))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        block.append(line)
    return "\n".join(block)


@pytest.mark.parametrize("prog", list(COMMANDS))
def test_the_readme_synopsis_names_every_flag(prog):
    help_text = subprocess.run(
        [sys.executable, "-m", COMMANDS[prog], "--help"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    flags = set(FLAG.findall(help_text)) - {"--help"}
    assert len(flags) >= 5, help_text
    missing = sorted(flags - set(FLAG.findall(synopsis(prog))))
    assert not missing, f"{prog}'s README synopsis lacks {missing}"
