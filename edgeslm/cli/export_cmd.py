"""`edgeslm export`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgeslm.pipeline.config import DEFAULT_DECODE_TOKENS, DEFAULT_MAX_SEQ_LEN, ExportConfig


@click.command("export")
@click.option("--model", "-m", default=None, metavar="ID|DIR|FILE.gguf",
              help="Hugging Face folder, .gguf file, catalog id (`edgeslm list models`) or hub id. "
                   "Default: the embedded SmolLM2-135M-Instruct.")
@click.option("--target", "-t", default="android", show_default=True,
              help="android | ios | linux, or a phone class: android-4gb | android-12gb | android-16gb | "
                   "iphone-8gb (`edgeslm list targets`).")
@click.option("--format", "fmt", default=None, help="onnx | executorch | coreml (default: the target's; `edgeslm list targets`).")
@click.option("--quant", "-q", default=None, help="int4 | int8 | fp16 | fp32 (default: the target's, int4; `edgeslm list quant`).")
@click.option("--output", "-o", default="out", show_default=True, type=click.Path(path_type=Path),
              help="Bundle folder to write (atomically).")
@click.option("--adapter", type=click.Path(path_type=Path), default=None, help="PEFT LoRA folder merged first.")
@click.option("--max-seq-len", default=DEFAULT_MAX_SEQ_LEN, show_default=True,
              help="Longest prompt + answer the bundle serves (sizes the KV cache and the fit check).")
@click.option("--force", is_flag=True, help="Replace an existing bundle at --output.")
@click.option("--allow-pickle", is_flag=True, help="Load pickle (.bin) weights. They can run code: trust the source.")
@click.option("--trust-remote-code", is_flag=True, help="Run the model repository's own Python code.")
@click.option("--strict", is_flag=True, help="Fail on any fallback (float layer, unfused attention).")
@click.option("--keep-unverified", is_flag=True,
              help="Write the bundle even if verification fails (marked unverified; exit code 4 all the same).")
@click.option("--verify-tokens", default=DEFAULT_DECODE_TOKENS, show_default=True,
              help="Greedy decode steps checked per verification prompt.")
@click.option("--no-gguf-carry", is_flag=True, help="Re-quantize a GGUF source instead of keeping its own blocks.")
@click.option("--threads", type=int, default=None, help="Threads for the verify run (default: all cores).")
@click.option("--clinical", is_flag=True,
              help="Also score the shipped clinical pack (MedQA, MedMCQA, PubMedQA, MMLU medical) through the "
                   "bundle and the float model; over the scheme's budget the export fails (exit 4).")
@click.option("--clinical-n", type=click.IntRange(1, 200), default=None, metavar="N",
              help="Questions per clinical set (default 50, at most 200): more is slower and narrows the CI.")
@click.option("--stream/--no-stream", default=None,
              help="Stream a safetensors model, never holding its float weights at once: ONNX writes weight by "
                   "weight; ExecuTorch and Core ML (int4, int8) quantize layer by layer while loading. "
                   "Default: stream when an in-memory export would not fit --max-memory.")
@click.option("--max-memory", default=None, metavar="SIZE",
              help="Memory the export may use, e.g. 16GB (default: what this host has available, minus 1 GB). "
                   "Decides between an in-memory and a streaming export.")
@click.pass_context
def command(ctx, model, target, fmt, quant, output, adapter, max_seq_len, force, allow_pickle, trust_remote_code,
            strict, keep_unverified, verify_tokens, no_gguf_carry, threads, stream, max_memory, clinical,
            clinical_n):
    """Export a model to a verified on-device bundle (model + tokenizer + manifest.json).

    \b
    Stages: resolve (fit check) -> load -> adapt -> lower + quantize -> verify -> package.
    The bundle is published only when it verifies against the full-precision model.

    \b
    Examples:
      edgeslm export --target android
      edgeslm export --model ./my-biogpt --quant int8 -o biogpt-int8 --force
      edgeslm export --model BioMistral/BioMistral-7B --target android   # refused: does not fit
      edgeslm export --model ./BioMistral-7B --target android-16gb --max-memory 16GB  # streams
      edgeslm export --model ./MedMobile --target android-12gb --format executorch --stream
    """
    from edgeslm.pipeline.export import run_export
    from edgeslm.pipeline.memory import parse_memory
    from edgeslm.pipeline.progress import StageLog

    cfg = ExportConfig(output=output, target=target, model=model, format=fmt, quant=quant, adapter=adapter,
                       max_seq_len=max_seq_len, force=force, allow_pickle=allow_pickle,
                       trust_remote_code=trust_remote_code, strict=strict, keep_unverified=keep_unverified,
                       verify_decode_tokens=verify_tokens, carry_gguf_grid=not no_gguf_carry, threads=threads,
                       stream=stream, max_memory=parse_memory(max_memory) if max_memory else None,
                       clinical=clinical or clinical_n is not None, clinical_n=clinical_n)
    log = StageLog(quiet=ctx.obj.get("json", False))
    result = run_export(cfg, log)
    m = result.manifest["verify"]["metrics"]
    if ctx.obj.get("json"):
        click.echo(json.dumps({"ok": True, "bundle": str(result.bundle), "verified": result.verified,
                               "metrics": m, "files": result.manifest["files"],
                               **({"clinical": result.manifest["clinical"]} if "clinical" in result.manifest else {})}, default=str))
        return
    size = sum(f["bytes"] for f in result.manifest["files"]) / 2**20
    click.echo(f"Bundle: {result.bundle.resolve()}  ({size:.1f} MiB, {cfg.format} {cfg.quant}, target {cfg.target})")
    click.echo(f"Verified: {'yes' if result.verified else 'NO'} — top-1 agreement {m['prompt_top1']:.3f} (prompts), "
               f"{m['decode_top1']:.3f} (decode); logit SQNR {m['sqnr_db']:.1f} dB; max |Δlogit| "
               f"{m['max_abs_logit']:.3g}")
    if "clinical" in result.manifest:
        from edgeslm.clinical.report import summary_lines

        for line in summary_lines(result.manifest["clinical"]):
            click.echo(line)
    click.echo(f"Try it: edgeslm run {result.bundle} --prompt \"What are the symptoms of anemia?\"")
