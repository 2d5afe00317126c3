"""A self-contained HTML page for the parity matrix: the per-bundle table and a heat map of pairwise answer
agreement (no network; a small script marks the page rendered, for the headless-browser test)."""

from __future__ import annotations

import html


def _colour(value: float) -> str:
    """1.0 green, 0.9 and below red, linear between (agreement near 1 is what matters)."""
    t = max(0.0, min(1.0, (value - 0.9) / 0.1))
    return f"rgb({int(220 - 180 * t)},{int(60 + 150 * t)},80)"


def render(result: dict) -> str:
    esc = html.escape
    head = ("<tr><th>bundle</th><th>size MiB</th><th>prompt top-1</th><th>decode top-1</th><th>SQNR dB</th>"
            "<th>answer agreement (95% CI)</th><th>max Δp</th><th>accuracy</th></tr>")
    body = "".join(
        f"<tr><td>{esc(r['name'])}<br><small>{esc(r['bundle'])}</small></td><td>{r['bytes'] / 2**20:.1f}</td>"
        f"<td>{r['prompt_top1']:.3f}</td><td>{r['decode_top1']:.3f}</td><td>{r['sqnr_db']:.1f}</td>"
        f"<td>{r['answer_agreement']:.3f} ({r['answer_agreement_ci95'][0]:.3f}-{r['answer_agreement_ci95'][1]:.3f})"
        f"</td><td>{r['max_prob_change']:.3f}</td><td>{r['accuracy']:.3f}</td></tr>" for r in result["rows"])
    labels = result["matrix_labels"]
    grid = "<tr><th></th>" + "".join(f"<th>{esc(n)}</th>" for n in labels) + "</tr>"
    for name, row in zip(labels, result["agreement_matrix"]):
        grid += f"<tr><th>{esc(name)}</th>" + "".join(
            f'<td class="cell" style="background:{_colour(v)}">{v:.3f}</td>' for v in row) + "</tr>"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>edgeslm compare: {esc(str(result['source']))}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td.cell{{color:#fff;min-width:4em;text-align:center}}</style>
</head><body><h1>Parity: {esc(str(result['source']))}</h1>
<p>{result['questions']} clinical questions ({result['per_set']} per set); float reference accuracy
{result['reference_accuracy']:.3f}. Agreement: same answer as the float reference.</p>
<table id="bundles">{head}{body}</table>
<h2>Pairwise answer agreement</h2><table id="heatmap">{grid}</table>
<script>
const cells = [...document.querySelectorAll('#heatmap td.cell')].filter(c => c.getBoundingClientRect().width > 0);
document.body.setAttribute('data-rendered', String(cells.length));
</script></body></html>
"""
