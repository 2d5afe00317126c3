"""profile.html: one self-contained page (inline SVG from matplotlib, no script or font from the network)."""

from __future__ import annotations

import html
import io

from edgeslm.profile.summary import markdown_rows

# After layout, the page counts the figures that have a real size and marks <body data-rendered="N">:
# a headless browser's DOM dump then shows whether the plots rendered, not only that they were written.
RENDER_CHECK = """<script>
window.addEventListener('load', function () {
  var n = 0;
  document.querySelectorAll('figure svg').forEach(function (s) {
    var r = s.getBoundingClientRect();
    if (r.width > 50 && r.height > 50 && s.querySelectorAll('path').length > 0) { n += 1; }
  });
  document.body.setAttribute('data-rendered', String(n));
});
</script>"""


def svg_of(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg"):]


def figures(profile: dict) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    out = []
    with plt.rc_context({"svg.fonttype": "none", "figure.dpi": 100}):
        lat = profile["decode_latency_ms_per_token"]
        fig, ax = plt.subplots(figsize=(7, 3))
        ax.plot(range(1, len(lat) + 1), lat, color="#1f6feb")
        ax.set(xlabel="decoded token", ylabel="ms per token", title="Decode latency per token (mean over runs)")
        ax.set_ylim(bottom=0)
        out.append(("Per-token latency over the decode", svg_of(fig)))
        plt.close(fig)

        fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3))
        pre, dec = profile["prefill_tok_per_s"], profile["decode_tok_per_s"]
        left.bar(["prefill", "decode"], [pre["mean"], dec["mean"]], yerr=[pre["sd"], dec["sd"]], color="#2da44e")
        left.set(ylabel="tokens / s", title="Throughput")
        right.bar(["peak RSS", "bundle"], [profile["peak_rss_mb"], profile["bundle"]["size_mb"]], color="#8250df")
        right.set(ylabel="MB", title="Memory and size")
        fig.tight_layout()
        out.append(("Throughput and memory", svg_of(fig)))
        plt.close(fig)

        answers = profile.get("per_answer") or []
        if len(answers) >= 3:  # a sustained run: speed and energy answer after answer
            fig, ax = plt.subplots(figsize=(7, 3))
            xs = range(1, len(answers) + 1)
            speed, = ax.plot(xs, [a["decode_tok_per_s"] for a in answers], marker="o", color="#1f6feb")
            ax.set(xlabel="answer", ylabel="decode tokens / s", title="Sustained: decode speed per answer")
            ax.set_ylim(bottom=0)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            twin = ax.twinx()
            joules, = twin.plot(xs, [a["j"] for a in answers], marker="s", color="#fb8500")
            twin.set(ylabel=f"J per answer ({profile['energy']['kind']})")
            twin.set_ylim(bottom=0)
            ax.legend([speed, joules], ["decode tok/s", "J per answer"], loc="lower left")
            out.append(("Sustained run: decode speed and energy per answer over time", svg_of(fig)))
            plt.close(fig)

        e = profile["energy"]
        fig, ax = plt.subplots(figsize=(7, 2.6))
        prompt_j = e["prefill_j_per_token"] * profile["settings"]["prompt_len"]
        ax.barh(["answer"], [prompt_j], color="#bf8700", label="prompt")
        ax.barh(["answer"], [e["j_per_answer"] - prompt_j], left=[prompt_j], color="#fb8500", label="answer tokens")
        ax.set(xlabel="joules", title=f"Energy per answer ({e['kind']})")
        ax.legend(loc="lower right")
        out.append((f"Energy per answer — {e['kind']}", svg_of(fig)))
        plt.close(fig)

        ops = profile.get("operators") or []
        if ops:
            fig, ax = plt.subplots(figsize=(7, 0.35 * len(ops) + 1))
            # ExecuTorch rows say where the op ran: XNNPACK-delegated blue, ExecuTorch's own kernels red.
            colors = ["#1f6feb" if o.get("delegated") else "#cf222e" for o in ops][::-1]
            ax.barh([o["op"] for o in ops][::-1], [o["ms"] for o in ops][::-1], color=colors)
            profiler = (profile.get("operators_about") or {}).get("profiler", "onnxruntime profiler")
            ax.set(xlabel="ms (all runs)", title=f"Top operators ({profiler})")
            out.append(("Top operators", svg_of(fig)))
            plt.close(fig)
    return out


def _prediction_table(pred: dict | None) -> str:
    if not pred or "skipped" in pred:
        return f"<p>Plan's prediction: {html.escape(pred['skipped'])}.</p>" if pred else ""
    p, m = pred["predicted"], pred["measured"]
    cells = [("decode tok/s", p["decode_tok_s"], m["decode_tok_s"], pred["decode_measured_over_predicted"]),
             ("TTFT s", p["ttft_s"], m["ttft_s"], pred["ttft_measured_over_predicted"])]
    body = "".join(f"<tr><td>{n}</td><td>{html.escape(str(a))}</td><td>{html.escape(str(b))}</td>"
                   f"<td>{html.escape(str(r))}</td></tr>" for n, a, b, r in cells)
    return (f"<h2>Plan's prediction vs this measurement (target {html.escape(pred['target'])})</h2><table>"
            f"<tr><td>figure</td><td>predicted</td><td>measured</td><td>measured / predicted</td></tr>{body}</table>")


def render(profile: dict) -> str:
    b, e = profile["bundle"], profile["energy"]
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in markdown_rows(profile))
    figs = "".join(f"<figure>{svg}<figcaption>{html.escape(caption)}</figcaption></figure>"
                   for caption, svg in figures(profile))
    title = html.escape(f"Profile: {b['model']} ({b['format']} {b['quant']}, target {b['target']})")
    warn = "".join(f"<p><strong>WARNING:</strong> {html.escape(w)}</p>" for w in e.get("warnings", []))
    if not e.get("meaningful", True):
        warn = "<p><strong>The energy figures on this page are MEANINGLESS for this run.</strong></p>" + warn
    pred = _prediction_table(profile.get("prediction"))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse}}td{{border-bottom:1px solid #ddd;padding:.25rem .75rem}}
figure{{margin:1.5rem 0}}figure svg{{max-width:100%;height:auto}}</style></head>
<body data-rendered="0"><h1>{title}</h1>
<p>Measured on {html.escape(str(profile['device']['cpu']))}. Energy is <strong>{html.escape(e['kind'])}</strong>:
{html.escape(e['method'])}. Source: {html.escape(e['source'])}.</p>{warn}
<table>{rows}</table>{pred}{figs}{RENDER_CHECK}</body></html>
"""
