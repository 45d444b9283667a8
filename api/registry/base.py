"""The model registry: versioned models with their lineage, and the aliases ``champion`` / ``challenger``.

Two backends behind one interface (``Registry``): an embedded one (a directory:
one JSON file per version, one for the aliases, one for the champions' history,
every write atomic) and MLflow's model registry (``api/registry_mlflow.py``, the
optional ``[mlflow]`` extra). The API serves ``champion`` and polls for a new
one; ``streamflow-retrain`` registers challengers and moves the alias
(``promote``), or moves it back (``rollback``). A version is complete on disk
before any alias can name it, so nothing half-written ever becomes champion.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from streamflow_data.files import write_atomically

from ..errors import RegistryError
from ..model import ChurnModel

CHAMPION, CHALLENGER = "champion", "challenger"
ALIASES = (CHAMPION, CHALLENGER)
RECORD_FORMAT = 1
HISTORY_LENGTH = 50  # champions remembered for --rollback: far more than anyone rolls back, and a small tag in MLflow


@dataclass(frozen=True)
class ModelRecord:
    model: ChurnModel
    data: str  # what it was trained on: a bundled month, a file, or "live"
    data_hash: str  # sha256 of the training rows (features and labels)
    rows: int  # training rows
    parent: str | None = None  # the champion it was compared against (None: the first model)
    metrics: dict[str, Any] = field(default_factory=dict)  # held-out evaluation when it was registered
    # Its scores on its own training rows in 0.01-wide bins: the reference the API serves
    # (api_reference_probability) while this model is champion.
    reference_counts: tuple[int, ...] = ()
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def version(self) -> str:
        return self.model.version

    def to_json(self) -> dict[str, Any]:
        return {"record_format": RECORD_FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ModelRecord:
        if doc.get("record_format") != RECORD_FORMAT:
            raise ValueError(f"record format {doc.get('record_format')!r}, expected {RECORD_FORMAT}")
        fields = {k: v for k, v in doc.items() if k != "record_format"}
        fields["model"] = ChurnModel(**fields["model"])
        fields["reference_counts"] = tuple(fields.get("reference_counts") or ())
        return cls(**fields)

    def lineage(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "data": self.data,
            "data_hash": self.data_hash,
            "rows": self.rows,
            "parent": self.parent,
            "created": self.created,
            "metrics": self.metrics,
        }


class Registry(Protocol):
    """Where versions live and which one each alias names."""

    kind: str
    location: str

    def register(self, record: ModelRecord) -> None:
        """Store a version (idempotent: the same version twice is one)."""

    def get(self, version: str) -> ModelRecord:
        """A stored version; RegistryError if it is missing or unreadable."""

    def alias(self, name: str) -> str | None:
        """The version an alias names, None if it names none yet."""

    def set_alias(self, name: str, version: str) -> None:
        """Point an alias at a stored version (checked readable first)."""

    def champions(self) -> list[str]:
        """The versions that were champion, oldest first ([] when none was recorded)."""

    def set_champions(self, versions: list[str]) -> None:
        """Replace that history (``promote`` and ``rollback`` keep it)."""


def champion(registry: Registry) -> ModelRecord | None:
    version = registry.alias(CHAMPION)
    return registry.get(version) if version else None


@dataclass(frozen=True)
class ChampionChange:
    """A move of the champion alias: from one version to another (``before`` None: the registry had none)."""

    before: str | None
    after: str


def _ending_with(history: list[str], current: str | None) -> list[str]:
    """The history, ending with the current champion. When it does not (a registry from before the history
    was kept, or an alias moved and the history write then failed), the current one is put at its end: the
    entry before it is then still the champion that served before it."""
    if current is None or (history and history[-1] == current):
        return list(history)
    return [*history, current]


def promote(registry: Registry, version: str) -> ChampionChange:
    """Make ``version`` the champion and record it, so that ``rollback`` can go back to the one before."""
    before = registry.alias(CHAMPION)
    registry.set_alias(CHAMPION, version)  # first: the alias is what the APIs serve; the history only explains it
    if before != version:
        registry.set_champions(_ending_with(registry.champions(), before)[-(HISTORY_LENGTH - 1) :] + [version])
    return ChampionChange(before, version)


def rollback_target(registry: Registry) -> tuple[str, list[str]]:
    """(the champion before the current one, the history once it serves again); RegistryError when there is
    none. Without a recorded history (a registry from before it was kept), the current champion's parent —
    the champion it was compared against and promoted over."""
    current = registry.alias(CHAMPION)
    if current is None:
        raise RegistryError(f"nothing to roll back: the registry {registry.location} has no champion")
    history = _ending_with(registry.champions(), current)
    if len(history) >= 2:
        return history[-2], history[:-1]
    parent = registry.get(current).parent
    if parent is None:
        raise RegistryError(f"nothing to roll back to: {current} is the first champion of {registry.location}")
    return parent, [parent]


def rollback(registry: Registry) -> ChampionChange:
    """Serve the champion before the current one again; the next rollback goes one further back."""
    before = registry.alias(CHAMPION)
    target, history = rollback_target(registry)
    registry.set_alias(CHAMPION, target)
    registry.set_champions(history)
    return ChampionChange(before, target)


class LocalRegistry:
    """A directory: ``models/<version>.json`` per version, ``aliases.json`` for the aliases."""

    kind = "local"

    def __init__(self, root: Path):
        self.root = Path(root)
        self.location = str(self.root)

    def _models(self) -> Path:
        return self.root / "models"

    def _path(self, version: str) -> Path:
        if not version or "/" in version or version.startswith("."):
            raise RegistryError(f"{version!r} is not a model version")
        return self._models() / f"{version}.json"

    def _writable(self, action: str):
        try:
            self._models().mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RegistryError(
                f"cannot {action}: the registry directory {self.root} cannot be created ({exc.strerror})"
            ) from None

    def register(self, record: ModelRecord) -> None:
        self._writable(f"register {record.version}")
        path = self._path(record.version)
        if path.exists():
            self.get(record.version)  # an unreadable file with this name is an error, not "already there"
            return
        try:
            write_atomically(path, json.dumps(record.to_json(), indent=1), durable=True)
        except OSError as exc:
            raise RegistryError(f"cannot register {record.version} in {self.root}: {exc.strerror or exc}") from None

    def get(self, version: str) -> ModelRecord:
        path = self._path(version)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise RegistryError(f"model version {version} is not in the registry {self.root}") from None
        except OSError as exc:
            raise RegistryError(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            return ModelRecord.from_json(json.loads(text))
        except (ValueError, TypeError, KeyError) as exc:
            raise RegistryError(
                f"{path} is corrupted ({type(exc).__name__}: {exc}); that version cannot be served"
            ) from None

    def _aliases(self) -> dict[str, str]:
        path = self.root / "aliases.json"
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise RegistryError(f"cannot read {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise RegistryError(f"{path} is corrupted ({exc}); fix or remove it to choose a champion again") from None
        if not isinstance(doc, dict) or not all(isinstance(v, str) for v in doc.values()):
            raise RegistryError(f"{path} is corrupted (not a mapping of alias to version)")
        return doc

    def alias(self, name: str) -> str | None:
        return self._aliases().get(name)

    def set_alias(self, name: str, version: str) -> None:
        self.get(version)  # complete and readable, or no alias names it
        aliases = self._aliases() | {name: version}
        try:
            write_atomically(self.root / "aliases.json", json.dumps(aliases, indent=1, sort_keys=True), durable=True)
        except OSError as exc:
            raise RegistryError(f"cannot set {name} → {version} in {self.root}: {exc.strerror or exc}") from None

    def champions(self) -> list[str]:
        # Its own file, not a key of aliases.json: an older API reading this registry still finds only aliases there.
        path = self.root / "champions.json"
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise RegistryError(f"cannot read {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise RegistryError(f"{path} is corrupted ({exc}); remove it to roll back by lineage instead") from None
        if not isinstance(doc, list) or not all(isinstance(v, str) for v in doc):
            raise RegistryError(f"{path} is corrupted (not a list of versions)")
        return doc

    def set_champions(self, versions: list[str]) -> None:
        try:
            write_atomically(self.root / "champions.json", json.dumps(versions, indent=1), durable=True)
        except OSError as exc:
            raise RegistryError(f"cannot record the champions in {self.root}: {exc.strerror or exc}") from None


class UnavailableRegistry:
    """A registry that could not be opened (MLflow not installed, no tracking URI): every call says why,
    so the API serving its bundled model keeps saying it in /health and /admin/reload."""

    def __init__(self, kind: str, location: str | None, error: str):
        self.kind, self.location, self.error = kind, location or "–", error

    def _fail(self, *args, **kwargs):
        raise RegistryError(self.error)

    register = get = alias = set_alias = champions = set_champions = _fail
