"""`edgeslm report B1 B2 ...`: profiles of several bundles side by side (format x quant x target)."""

from __future__ import annotations

import json
from pathlib import Path

from edgeslm.errors import UserError

COLUMNS = ("bundle", "format", "quant", "target", "size MiB", "peak RSS MB", "TTFT ms", "decode tok/s",
           "J/answer", "energy")


def load_profile(path: Path) -> dict:
    """A bundle folder (its sibling `<bundle>.profile/`), a profile folder, or a profile.json."""
    path = Path(path)
    candidates = [path] if path.suffix == ".json" else [path / "profile.json",
                                                       path.with_name(path.name + ".profile") / "profile.json"]
    for candidate in candidates:
        if candidate.is_file():
            try:
                return json.loads(candidate.read_text())
            except ValueError as exc:
                raise UserError(f"{candidate} is not valid JSON ({exc})", hint="Re-run `edgeslm profile`.") from None
    raise UserError(f"no profile for {path}", hint=f"Run `edgeslm profile {path}` first.")


def rows(paths: list[Path]) -> list[list]:
    out = []
    for path in paths:
        p = load_profile(path)
        b, e = p["bundle"], p["energy"]
        out.append([str(path), b["format"], b["quant"], b["target"], round(b["size_mb"], 1), round(p["peak_rss_mb"]),
                    round(1000 * p["time_to_first_token_s"]["mean"]), round(p["decode_tok_per_s"]["mean"], 1),
                    round(e["j_per_answer"], 2),
                    e["kind"] if e.get("meaningful", True) else f"{e['kind']}, MEANINGLESS (see its profile)"])
    return out


def markdown(table: list[list]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in table]
    hosts = "Every figure was measured on its profile's host; energy is labelled measured or estimated per row."
    return "\n".join(lines + ["", hosts, ""])


def html_page(table: list[list]) -> str:
    import html

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from edgeslm.profile.html import RENDER_CHECK, svg_of

    labels = [f"{r[1]} {r[2]}\n{Path(r[0]).name}" for r in table]
    figs = []
    for col, title in ((7, "decode tokens / s"), (5, "peak RSS MB"), (4, "bundle MiB"), (8, "J per answer")):
        fig, ax = plt.subplots(figsize=(7, 2.8))
        ax.bar(labels, [r[col] for r in table], color="#1f6feb")
        ax.set(title=title)
        figs.append(f"<figure>{svg_of(fig)}<figcaption>{html.escape(title)}</figcaption></figure>")
        plt.close(fig)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in table)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>edgeslm report</title></head>"
            f"<body data-rendered='0'><h1>Bundles side by side</h1><table><tr>{head}</tr>{body}</table>"
            f"{''.join(figs)}{RENDER_CHECK}</body></html>\n")
