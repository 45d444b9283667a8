"""The embedded model registry: versions with lineage, aliases, atomic writes, and clear errors for a
registry that is corrupted or read-only — nothing half-written ever becomes champion."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from api.model import load_or_train
from api.registry import CHAMPION, LocalRegistry, ModelRecord, RegistryError, champion


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_or_train("month_000", tmp_path_factory.mktemp("cache"))


def record(model, **kw) -> ModelRecord:
    return ModelRecord(model=model, data="month_000", data_hash="abc", rows=7000, reference_counts=(1,) * 100, **kw)


def test_register_get_and_aliases(tmp_path, model):
    registry = LocalRegistry(tmp_path / "r")
    assert registry.alias(CHAMPION) is None and champion(registry) is None
    registry.register(record(model))
    registry.register(record(model))  # the same version twice is one
    registry.set_alias(CHAMPION, model.version)
    back = champion(registry)
    assert back == record(model, created=back.created) and back.model == model
    assert back.lineage()["parent"] is None and back.reference_counts == (1,) * 100
    assert sorted(os.listdir(tmp_path / "r" / "models")) == [f"{model.version}.json"]  # no temporary files left


def test_an_alias_cannot_name_a_missing_or_broken_version(tmp_path, model):
    registry = LocalRegistry(tmp_path / "r")
    with pytest.raises(RegistryError, match="is not in the registry"):
        registry.set_alias(CHAMPION, "nope-1")
    (tmp_path / "r" / "models").mkdir(parents=True)
    (tmp_path / "r" / "models" / "half-1.json").write_text('{"record_format": 1, "model": {"vers')  # a torn write
    with pytest.raises(RegistryError, match="half-1.json is corrupted"):
        registry.set_alias(CHAMPION, "half-1")
    assert registry.alias(CHAMPION) is None


def test_corrupted_aliases_are_a_clear_error(tmp_path, model):
    registry = LocalRegistry(tmp_path / "r")
    registry.register(record(model))
    registry.set_alias(CHAMPION, model.version)
    (tmp_path / "r" / "aliases.json").write_text("[1, 2")
    with pytest.raises(RegistryError, match=r"aliases.json is corrupted .* fix or remove it"):
        registry.alias(CHAMPION)
    (tmp_path / "r" / "aliases.json").write_text('{"champion": 3}')
    with pytest.raises(RegistryError, match="not a mapping of alias to version"):
        registry.alias(CHAMPION)


def _writable(folder: Path) -> bool:
    probe = folder / f".probe-{uuid.uuid4().hex}"
    try:
        probe.write_text("")
    except OSError:
        return False
    probe.unlink()
    return True


@contextmanager
def read_only(*folders: Path):
    """Permissions first; root writes through those, so the immutable attribute then (ext4's chattr +i)."""
    for f in folders:
        os.chmod(f, 0o555)
    immutable = False
    if any(_writable(f) for f in folders):
        immutable = subprocess.run(["chattr", "+i", *map(str, folders)], capture_output=True).returncode == 0
    try:
        if any(_writable(f) for f in folders):
            pytest.skip("this machine cannot make a directory read-only for this user (no chmod effect, no chattr)")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", *map(str, folders)], check=True)
        for f in folders:
            os.chmod(f, 0o755)


def test_a_read_only_registry_changes_nothing(tmp_path, model):
    root = tmp_path / "r"
    registry = LocalRegistry(root)
    registry.register(record(model))
    registry.set_alias(CHAMPION, model.version)
    before = (root / "aliases.json").read_text()
    other = ModelRecord(
        model=type(model)(**{**model.__dict__, "version": "month_004-x"}), data="month_004", data_hash="d", rows=1
    )
    with read_only(root, root / "models"):
        with pytest.raises(RegistryError, match="cannot register month_004-x"):
            registry.register(other)
        with pytest.raises(RegistryError, match="is not in the registry"):
            registry.set_alias(CHAMPION, "month_004-x")
        with pytest.raises(RegistryError, match="cannot set champion"):
            registry.set_alias(CHAMPION, model.version)  # even a stored version: the aliases file cannot be replaced
    assert (root / "aliases.json").read_text() == before and json.loads(before)[CHAMPION] == model.version
