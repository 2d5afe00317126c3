"""The shipped clinical pack: versioned medical QA questions inside the package (see pack/README.md)."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from edgeslm.errors import InternalError, UserError

PACK_DIR = Path(__file__).parent / "pack"
PACK_VERSION = "1"
SETS = ("medqa", "medmcqa", "pubmedqa", "mmlu")


@dataclass(frozen=True)
class Question:
    set: str
    id: str
    question: str
    context: str | None  # PubMedQA: the abstract the question is about
    labels: tuple[str, ...]  # the answer tokens scored: A-D, or yes/no/maybe
    choices: tuple[str, ...] | None  # option texts for multiple choice
    answer: str  # the gold label

    @property
    def key(self) -> str:
        return f"{self.set}/{self.id}"


def pack_index() -> dict:
    return json.loads((PACK_DIR / "pack.json").read_text())


def load_set(name: str) -> list[Question]:
    info = pack_index()["sets"].get(name)
    if info is None:
        raise UserError(f"no clinical set {name!r}", hint=f"Sets: {', '.join(SETS)}.")
    data = (PACK_DIR / info["file"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != info["sha256"]:
        raise InternalError(f"the clinical pack file {info['file']} does not match pack.json",
                            hint="Reinstall edgeslm, or regenerate with python -m edgeslm.clinical.build_pack.")
    out = []
    for line in gzip.decompress(data).decode().splitlines():
        r = json.loads(line)
        out.append(Question(r["set"], r["id"], r["question"], r["context"], tuple(r["labels"]),
                            tuple(r["choices"]) if r["choices"] else None, r["answer"]))
    return out


def load_pack(per_set: int | None = None, sets: tuple[str, ...] = SETS) -> list[Question]:
    """The first `per_set` questions of each set (all when None), sets in pack order."""
    if per_set is not None and per_set < 1:
        raise UserError(f"--clinical-n must be at least 1, got {per_set}")
    return [q for name in sets for q in load_set(name)[:per_set]]
