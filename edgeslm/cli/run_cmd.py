"""`edgeslm run`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from edgeslm.cli.trust_options import pinned_key, signature_options


@click.command("run")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--prompt", "-p", required=True, help="The question or text to continue.")
@click.option("--max-new-tokens", "-n", default=128, show_default=True, type=click.IntRange(min=1),
              help="Most tokens to generate (stops earlier at EOS or when the context is full).")
@click.option("--raw", is_flag=True, help="Do not wrap the prompt in the model's chat template.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="onnxruntime intra-op threads (default: all cores).")
@click.option("--greedy", is_flag=True, help="Argmax decoding, whatever the source's defaults say.")
@click.option("--temperature", type=float, default=None, help="Sampling temperature (turns sampling on).")
@click.option("--top-p", type=float, default=None, help="Nucleus sampling mass (turns sampling on).")
@click.option("--top-k", type=int, default=None, help="Sample among the k likeliest tokens (turns sampling on).")
@click.option("--repetition-penalty", type=float, default=None, help="> 1 discourages repeating tokens.")
@click.option("--seed", type=int, default=None, help="Seed for sampling: the same seed, the same answer.")
@signature_options
@click.pass_context
def command(ctx, bundle, prompt, max_new_tokens, raw, threads, greedy, temperature, top_p, top_k,
            repetition_penalty, seed, require_signature, pubkey):
    """Generate from a bundle on this host (streamed, stops at EOS).

    Decoding follows the source's own generation_config defaults recorded in generation.json (temperature,
    top-p, top-k, repetition penalty); flags override them, --greedy forces argmax.

    \b
    Example:
      edgeslm run out --prompt "What are the common symptoms of type 2 diabetes?"
      edgeslm run out --require-signature --pubkey release-key.pub.pem --prompt "..."
    """
    from edgeslm.bundle.reader import open_bundle
    from edgeslm.generate import check_prompt, generate
    from edgeslm.pipeline.generation import bundle_sampling

    check_prompt(prompt)
    opened = open_bundle(bundle, threads, pubkey=pinned_key(require_signature, pubkey))
    as_json = ctx.obj.get("json")
    start = time.perf_counter()
    stream = None if as_json else (lambda text: click.echo(text, nl=False))
    sampling = bundle_sampling(opened.generation).override(
        do_sample=False if greedy else (True if (temperature or top_p or top_k) else None), temperature=temperature,
        top_p=top_p, top_k=top_k, repetition_penalty=repetition_penalty, seed=seed)
    result = generate(opened, prompt, max_new_tokens, use_chat_template=not raw, on_text=stream, sampling=sampling)
    seconds = time.perf_counter() - start
    if as_json:
        click.echo(json.dumps({"ok": True, "text": result.text, "tokens": len(result.tokens),
                               "prompt_tokens": result.prompt_tokens, "stopped_at_eos": result.stopped_at_eos,
                               "seconds": round(seconds, 3), "sampling": sampling.to_dict()}))
    else:
        click.echo()
        click.echo(f"[{len(result.tokens)} tokens in {seconds:.2f} s"
                   f"{', stopped at EOS' if result.stopped_at_eos else ''}]", err=True)
