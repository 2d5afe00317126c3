"""The model catalog: healthcare LMs we know by a short id, with the facts of their real config.json.

The facts live in ``catalog.toml`` (data, shipped in the wheel beside this module) so that adding a model
is one table and no code. Each entry records where its numbers come from in ``status_note`` whenever they
were derived from a base model rather than read from the model's own config.json.

``plan`` uses these facts to answer "will it fit?" before anything is downloaded; ``export`` still reads the
real config.json of the checkpoint it loads and never trusts the catalog over it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import MISSING, dataclass, fields
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeslm.errors import UserError
from edgeslm.registry import Registry

if TYPE_CHECKING:  # fit imports nothing from here at runtime; the import is for type checkers only
    from edgeslm.fit import ModelFacts

# State-space models have no attention heads and no KV cache; they may leave the head fields at 0.
SSM_MODEL_TYPES = ("mamba", "mamba2")

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")
_HF_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    hf_id: str  # "" only when no weights are published (then supported must be False)
    model_type: str  # HF config.json model_type: the key of the architectures registry
    params: int  # total parameters of the (merged) model the export would see
    license: str
    gated: bool  # the hub asks you to accept terms before download
    commercial_use: bool  # conservative: False when the weights' or base model's terms are non-commercial
    tasks: tuple[str, ...]
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    max_context: int
    tie_word_embeddings: bool
    supported: bool
    status_note: str
    adapter_base: str = ""  # hub id of the base model when hf_id is a LoRA adapter (or an unreleased fine-tune)
    rope_theta: float = 0.0  # 0 = not recorded; set where a random-weight stand-in must match the real model

    def __post_init__(self) -> None:
        def bad(why: str) -> None:
            # InternalError would be wrong: a catalog file is input, possibly a user's own.
            raise UserError(f"catalog entry {self.id!r}: {why}",
                            hint="Fix the entry in the catalog file; every field is described in edgeslm/catalog.py.")

        if not _ID_RE.match(self.id):
            bad("id must be lowercase letters, digits, '.' and '-'")
        if self.hf_id and not _HF_ID_RE.match(self.hf_id):
            bad(f"hf_id {self.hf_id!r} is not an 'owner/name' hub id")
        if not self.hf_id and self.supported:
            bad("an entry without published weights (hf_id = \"\") cannot be supported")
        if self.adapter_base and not _HF_ID_RE.match(self.adapter_base):
            bad(f"adapter_base {self.adapter_base!r} is not an 'owner/name' hub id")
        if not self.model_type:
            bad("model_type is empty")
        if not self.tasks or not all(isinstance(t, str) and t for t in self.tasks):
            bad("tasks must be a non-empty list of names")
        for name in ("params", "layers", "hidden", "intermediate", "vocab", "max_context"):
            if getattr(self, name) <= 0:
                bad(f"{name} must be positive, got {getattr(self, name)}")
        if self.model_type in SSM_MODEL_TYPES:
            if (self.heads, self.kv_heads, self.head_dim) != (0, 0, 0):
                bad("a state-space model has no attention: heads, kv_heads and head_dim must be 0")
        else:
            if min(self.heads, self.kv_heads, self.head_dim) <= 0:
                bad("heads, kv_heads and head_dim must be positive for an attention model")
            if self.heads % self.kv_heads:
                bad(f"kv_heads ({self.kv_heads}) must divide heads ({self.heads})")
        if not self.supported and not self.status_note:
            bad("an unsupported entry must say why in status_note")

    @property
    def is_adapter(self) -> bool:
        return bool(self.adapter_base) and bool(self.hf_id)

    def facts(self) -> ModelFacts:
        """The size facts ``edgeslm.fit`` works from, derived analytically from this entry."""
        from edgeslm.fit import ModelFacts  # deferred: fit pulls in torch, the catalog must stay light

        return ModelFacts.from_catalog(self)


_FIELDS = {f.name: f for f in fields(CatalogEntry)}
_REQUIRED = {name for name, f in _FIELDS.items() if f.default is MISSING}
_INT_FIELDS = {"params", "layers", "hidden", "heads", "kv_heads", "head_dim", "intermediate", "vocab", "max_context"}
_BOOL_FIELDS = {"gated", "commercial_use", "tie_word_embeddings", "supported"}
_STR_FIELDS = {"id", "hf_id", "model_type", "license", "status_note", "adapter_base"}


def _entry_from_table(table: dict[str, Any], source: str, index: int) -> CatalogEntry:
    where = f"{source}: [[model]] #{index + 1}" + (f" ({table['id']!r})" if isinstance(table.get("id"), str) else "")
    unknown = sorted(set(table) - set(_FIELDS))
    if unknown:
        raise UserError(f"{where}: unknown key {unknown[0]!r}",
                        hint="Known keys: " + ", ".join(sorted(_FIELDS)) + ".")
    missing = sorted(_REQUIRED - set(table))
    if missing:
        raise UserError(f"{where}: missing key {missing[0]!r}", hint="Every entry needs: " + ", ".join(sorted(_REQUIRED)) + ".")
    values: dict[str, Any] = {}
    for key, value in table.items():
        # bool is a subclass of int: check it first so `layers = true` is refused.
        if key in _BOOL_FIELDS and not isinstance(value, bool):
            raise UserError(f"{where}: {key} must be true or false, got {value!r}")
        if key in _INT_FIELDS and (isinstance(value, bool) or not isinstance(value, int)):
            raise UserError(f"{where}: {key} must be an integer, got {value!r}")
        if key in _STR_FIELDS and not isinstance(value, str):
            raise UserError(f"{where}: {key} must be a string, got {value!r}")
        if key == "tasks":
            if not isinstance(value, list):
                raise UserError(f"{where}: tasks must be a list of strings, got {value!r}")
            value = tuple(value)
        if key == "rope_theta":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UserError(f"{where}: rope_theta must be a number, got {value!r}")
            value = float(value)
        values[key] = value
    try:
        return CatalogEntry(**values)
    except UserError as err:
        raise UserError(f"{source}: {err.message}", hint=err.hint) from None


def load_catalog(path: Path | None = None) -> Registry[CatalogEntry]:
    """Parse a catalog file (default: the one shipped with edgeslm) into a registry keyed by id."""
    if path is None:
        source = "edgeslm/catalog.toml"
        text = resources.files("edgeslm").joinpath("catalog.toml").read_text(encoding="utf-8")
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as err:
            raise UserError(f"cannot read catalog file {source}: {err.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{source} is not valid TOML: {err}") from None
    unknown = sorted(set(data) - {"model"})
    if unknown:
        raise UserError(f"{source}: unknown top-level key {unknown[0]!r}", hint="A catalog holds only [[model]] tables.")
    registry: Registry[CatalogEntry] = Registry("model", "edgeslm list models")
    for index, table in enumerate(data.get("model", [])):
        entry = _entry_from_table(table, source, index)
        if entry.id in registry:
            raise UserError(f"{source}: model id {entry.id!r} appears twice", hint="Ids must be unique; rename one.")
        registry.add(entry.id, entry)
    return registry


CATALOG: Registry[CatalogEntry] = load_catalog()

# The model an export uses when none is named: small, Apache-2.0, ungated, and a plain llama.
DEFAULT_MODEL_ID = "smollm2-135m"


def get_entry(model_id: str) -> CatalogEntry:
    return CATALOG.get(model_id)


def find_by_hf_id(hf_id: str) -> CatalogEntry | None:
    """The entry whose hub id matches (case-insensitive, as the hub is), or None."""
    wanted = hf_id.lower()
    for _, entry in CATALOG.items():
        if entry.hf_id.lower() == wanted:
            return entry
    return None
