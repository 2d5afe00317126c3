"""Regenerate the shipped clinical pack from the raw eval data (deterministic: same input, same bytes).

    python -m edgeslm.clinical.build_pack ../shared/eval            # writes edgeslm/clinical/pack/

Selection per set: every record that parses, whose prompt text is at most MAX_CHARS characters (keeps the
pack small and every prompt inside a 512-token context), ordered by sha256(set/id), the first PER_SET taken.
The order is the pack order: `--clinical-n N` scores the first N of each set.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import shutil
import sys
from pathlib import Path

from edgeslm.clinical.pack import PACK_DIR, PACK_VERSION, SETS

PER_SET = 200
MAX_CHARS = 1500
LETTERS = ("A", "B", "C", "D")
MMLU_SUBJECTS = ("anatomy", "clinical_knowledge", "college_biology", "college_medicine", "medical_genetics",
                 "professional_medicine")
SOURCES = {  # set -> (folder under the eval root, upstream, citation)
    "medqa": ("medqa_us_4opt", "MedQA (USMLE, 4 options), test split, via MIRAGE (Teddy-XiongGZ/MIRAGE)",
              "Jin et al., What Disease does this Patient Have? A Large-scale Open Domain Question Answering "
              "Dataset from Medical Exams, Applied Sciences 2021"),
    "medmcqa": ("medmcqa_dev", "MedMCQA dev split, via MIRAGE (Teddy-XiongGZ/MIRAGE)",
                "Pal et al., MedMCQA: A Large-scale Multi-Subject Multi-Choice Dataset for Medical domain "
                "Question Answering, CHIL 2022"),
    "pubmedqa": ("pubmedqa", "PubMedQA PQA-L test set (pubmedqa/pubmedqa)",
                 "Jin et al., PubMedQA: A Dataset for Biomedical Research Question Answering, EMNLP 2019"),
    "mmlu": ("mmlu_medical", "MMLU medical subjects, test split (hendrycks/test), via MIRAGE",
             "Hendrycks et al., Measuring Massive Multitask Language Understanding, ICLR 2021"),
}


def _mc(set_name, rid, question, options, answer) -> dict:
    return {"set": set_name, "id": rid, "question": question.strip(), "context": None,
            "labels": list(LETTERS), "choices": [str(o).strip() for o in options], "answer": answer}


def read_medqa(root: Path):
    for i, line in enumerate((root / "test.jsonl").read_text().splitlines()):
        r = json.loads(line)
        yield _mc("medqa", f"test-{i}", r["question"], [r["options"][k] for k in LETTERS], r["answer_idx"])


def read_medmcqa(root: Path):
    for line in (root / "dev.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r.get("cop") not in (1, 2, 3, 4):
            continue
        yield _mc("medmcqa", r["id"], r["question"], [r["opa"], r["opb"], r["opc"], r["opd"]], LETTERS[r["cop"] - 1])


def read_mmlu(root: Path):
    for subject in MMLU_SUBJECTS:
        rows = csv.reader(io.StringIO((root / f"{subject}_test.csv").read_text()))
        for i, row in enumerate(rows):
            if len(row) == 6 and row[5] in LETTERS:
                yield _mc("mmlu", f"{subject}-{i}", row[0], row[1:5], row[5])


def read_pubmedqa(root: Path):
    records = json.loads((root / "pqal_test_set.json").read_text())
    truth = json.loads((root / "test_ground_truth.json").read_text())
    for pmid in sorted(records):
        r = records[pmid]
        yield {"set": "pubmedqa", "id": pmid, "question": r["QUESTION"].strip(),
               "context": " ".join(c.strip() for c in r["CONTEXTS"]), "labels": ["yes", "no", "maybe"],
               "choices": None, "answer": truth[pmid]}


READERS = {"medqa": read_medqa, "medmcqa": read_medmcqa, "pubmedqa": read_pubmedqa, "mmlu": read_mmlu}


def _chars(record: dict) -> int:
    return len(record["question"]) + len(record["context"] or "") + sum(len(c) for c in record["choices"] or [])


def select(records, per_set: int = PER_SET) -> list[dict]:
    kept = [r for r in records if _chars(r) <= MAX_CHARS]
    kept.sort(key=lambda r: hashlib.sha256(f"{r['set']}/{r['id']}".encode()).hexdigest())
    return kept[:per_set]


def _gzip_jsonl(records: list[dict]) -> bytes:
    raw = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records).encode()
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as f:
        f.write(raw)
    return buf.getvalue()


def build(eval_root: Path, out: Path = PACK_DIR) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    (out / "licenses").mkdir(exist_ok=True)
    index = {"version": PACK_VERSION, "per_set_max_chars": MAX_CHARS, "sets": {}}
    for name in SETS:
        folder, upstream, citation = SOURCES[name]
        chosen = select(READERS[name](eval_root / folder))
        data = _gzip_jsonl(chosen)
        (out / f"{name}.jsonl.gz").write_bytes(data)
        shutil.copyfile(eval_root / folder / "LICENSE", out / "licenses" / f"{name}.LICENSE")
        index["sets"][name] = {"file": f"{name}.jsonl.gz", "questions": len(chosen),
                               "sha256": hashlib.sha256(data).hexdigest(), "upstream": upstream,
                               "citation": citation, "license": "MIT", "license_file": f"licenses/{name}.LICENSE"}
    (out / "pack.json").write_text(json.dumps(index, indent=2) + "\n")
    return index


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/eval")
    result = build(root)
    print(json.dumps({k: v["questions"] for k, v in result["sets"].items()}))
