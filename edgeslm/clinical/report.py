"""Human-readable lines for a clinical result (verify and export print the same)."""

from __future__ import annotations


def summary_lines(result: dict) -> list[str]:
    m, ppl = result["metrics"], result["perplexity"]
    lo, hi = m["agreement_ci95"]
    lines = [
        f"Clinical ({'PASS' if result['passed'] else 'FAIL'}, pack v{result['pack_version']}, {m['questions']} "
        f"questions, {result['runtime']}): answer agreement {m['agreement']:.3f} (95% CI {lo:.3f}-{hi:.3f}); "
        f"max option-probability change {m['max_prob_change']:.3f}; mean KL {m['mean_kl']:.2e}",
        f"  accuracy vs gold: reference {m['reference_accuracy']:.3f}, bundle {m['bundle_accuracy']:.3f} "
        f"(chance {m['chance_accuracy']:.3f}); the reference picks {m['modal_answer']!r} on "
        f"{m['modal_rate']:.0%} of questions; abstract perplexity ratio {ppl['ratio']:.4f}",
    ]
    if m["source_at_chance"]:
        lines.append("  note: the source model itself answers at chance here: agreement shows the bundle guesses "
                     "like its source, not that either is clinically reliable")
    for name, s in result["by_set"].items():
        lines.append(f"  {name:9s} agreement {s['agreement']:.3f}, max change {s['max_prob_change']:.3f}, "
                     f"accuracy {s['reference_accuracy']:.3f} -> {s['bundle_accuracy']:.3f}")
    return lines
