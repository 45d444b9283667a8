"""#27 item 14: streamflow-retrain decides without promoting (--dry-run), moves the champion back (--rollback)
or to a named version (--promote), finds the registry where the API does, and the README's example holds
when run as written, in order, on a fresh cache — and leaves the registry as it found it."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from conftest import REPO
from test_registry import model, record  # noqa: F401  (model: the fixture, a trained bundled model)
from test_schemas import assert_valid

from api.registry import CHAMPION, LocalRegistry, promote


def streamflow_retrain(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    """The command as typed (``streamflow-retrain`` run by this Python), seeing only the API variables in
    ``env``: exit code, stdout's JSON, stderr."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STREAMFLOW_API_")}
    done = subprocess.run(
        [sys.executable, "-m", "api.retrain_cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment | (env or {}),
        stdin=subprocess.DEVNULL,
    )
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}, done.stderr


def said(stderr: str) -> str:
    return (stderr.strip().splitlines() or [""])[-1]


def readme_example() -> list[tuple[list[str], str]]:
    """The README's streamflow-retrain lines: (the words after the command, the comment)."""
    lines = [line for line in (REPO / "README.md").read_text().splitlines() if line.startswith("streamflow-retrain ")]
    return [(shlex.split(command)[1:], comment.strip()) for command, comment in (x.split("#", 1) for x in lines)]


def contents(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_readme_example_holds_as_written(tmp_path):
    steps = [(args, comment) for args, comment in readme_example() if "live" not in args]  # live needs an API
    assert [args for args, _ in steps] == [
        ["--data", "month_003"],
        ["--data", "month_004", "--dry-run"],
        ["--data", "month_004"],
        ["--rollback"],
    ]
    # A fresh cache, nothing named: the registry every API of the account serves by default.
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    root = tmp_path / "streamflow" / "registry"
    docs = []
    for args, comment in steps:
        before = contents(root) if root.exists() else {}
        code, doc, err = streamflow_retrain(*args, env=env)
        assert code == 0, err
        assert_valid("retrain", doc)
        line = said(err)
        assert line.startswith(comment.split(":")[0].split(",")[0]), (comment, line)  # KEPT, PROMOTED, rolled back
        for gain in re.findall(r"\+\d+\.\d %", comment):
            assert f"{doc['log_loss_gain']:+.1%}" == gain.replace(" ", ""), (comment, doc["log_loss_gain"])
        for quoted in re.findall(r'"([^"]+)"', comment):
            assert quoted in line, (quoted, line)
        if "--dry-run" in args:
            assert doc["dry_run"] is True and doc["serving"] == doc["champion"]["version"]
            assert contents(root) == before  # nothing registered, no alias moved
        docs.append(doc)
    kept, dry, promoted, back = docs
    first = kept["champion"]["version"]
    assert first.startswith("month_000-") and promoted["champion"]["version"] == first
    assert dry["challenger"]["version"] == promoted["challenger"]["version"]  # the dry run said what then happened
    assert (back["action"], back["from"], back["to"], back["serving"]) == (
        "rollback",
        promoted["challenger"]["version"],
        first,
        first,
    )
    # Where it started: the same champion and history, so the block, run again, says the same.
    registry = LocalRegistry(root)
    assert registry.alias(CHAMPION) == first and registry.champions() == [first]


def versions(model, tmp_path: Path) -> tuple[LocalRegistry, list[str]]:  # noqa: F811 (the fixture)
    """A registry with three versions: a (the first champion), b and c (both trained to replace a)."""
    registry = LocalRegistry(tmp_path / "shared")
    names = ["a-1", "b-2", "c-3"]
    for name in names:
        stored = type(model)(**{**model.__dict__, "version": name})
        registry.register(record(stored, parent=None if name == "a-1" else "a-1"))
    promote(registry, "a-1")
    return registry, names


def test_promote_and_rollback_by_hand(model, tmp_path):  # noqa: F811
    registry, (a, b, c) = versions(model, tmp_path)
    # Named the way the API is told: its own variable, no flag.
    env = {"STREAMFLOW_API_REGISTRY_LOCATION": registry.location}

    def move(*args: str, to: str) -> dict:
        code, doc, err = streamflow_retrain(*args, env=env)
        assert code == 0, err
        assert_valid("retrain", doc)
        assert doc["to"] == to and doc["registry"]["location"] == registry.location
        return doc

    assert move("--promote", c, to=c)["from"] == a
    assert move("--promote", b, to=b)["from"] == c
    dry = move("--rollback", "--dry-run", to=c)
    assert dry["serving"] == b and registry.alias(CHAMPION) == b  # said, not done
    assert "dry run: the champion did not move" in said(streamflow_retrain("--rollback", "--dry-run", env=env)[2])
    # Back one champion at a time — to c, the one before b (not b's parent a), then to a.
    assert move("--rollback", to=c)["serving"] == c and registry.alias(CHAMPION) == c
    move("--rollback", to=a)
    code, doc, err = streamflow_retrain("--rollback", env=env)
    assert code == 1 and doc["decision"] is None and f"{a} is the first champion" in err
    code, doc, err = streamflow_retrain("--promote", "nope-0", env=env)
    assert code == 1 and "nope-0 is not in the registry" in err and registry.alias(CHAMPION) == a
    code, _, err = streamflow_retrain("--dry-run", env=env)
    assert code == 2 and "one of the arguments --data --rollback --promote is required" in err


def test_rollback_of_a_registry_without_history_follows_the_lineage(model, tmp_path):  # noqa: F811
    """A registry promoted by an older streamflow-retrain has no history: the champion's parent serves again."""
    registry, (a, b, _) = versions(model, tmp_path)
    registry.set_alias(CHAMPION, b)  # as the older command did: the alias alone
    (tmp_path / "shared" / "champions.json").unlink()
    code, doc, err = streamflow_retrain("--rollback", "--registry-location", registry.location)
    assert code == 0 and (doc["from"], doc["to"]) == (b, a), err
    assert registry.alias(CHAMPION) == a and registry.champions() == [a]
