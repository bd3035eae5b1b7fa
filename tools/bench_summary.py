#!/usr/bin/env python3
"""bench_summary.py - one table from several runs of tools/bench_compare.py (their --json files).

On a shared machine one run is not a measurement: another process can take a core for a
minute. This prints, per configuration, the median over the runs of each run's medians, the
ratio of those medians, and the lowest and highest per-run ratio, so that a reader sees both
the typical figure and how far a single run can stray.

Example (five runs, then the summary as Markdown):
  for r in 1 2 3 4 5; do python3 tools/bench_compare.py --clmlp "build-perf/clmlp bench" \\
      --json run$r.json; done
  python3 tools/bench_summary.py run*.json > summary.md
"""
import json
import statistics
import sys


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def span(values):
    values = [v for v in values if v is not None]
    return (min(values), max(values)) if values else (float("nan"), float("nan"))


def steps_table(act, loss, runs):
    by_batch = {}
    for cfg in runs:
        for s in cfg["steps"]:
            by_batch.setdefault(s["batch"], []).append(s)
    out = [f"#### {act} + {loss.upper()}: full training step, samples/s", "",
           "| batch | clmlp (range) | PyTorch, best thread count (range) | clmlp / PyTorch | "
           "lowest-highest run |", "|---:|---:|---:|---:|---:|"]
    for b in sorted(by_batch):
        rows = by_batch[b]
        c = [r["clmlp_samples_s"] for r in rows]
        t = [r["torch_samples_s"] for r in rows]
        per_run = [x / y for x, y in zip(c, t) if x and y]
        lo, hi = span(per_run)
        out.append(f"| {b} | {med(c):.0f} ({min(c):.0f}-{max(c):.0f}) | "
                   f"{med(t):.0f} ({span(t)[0]:.0f}-{span(t)[1]:.0f}) | "
                   f"**{med(c) / med(t):.2f}** | {lo:.2f}-{hi:.2f} |")
    return out


def gemm_table(act, loss, runs):
    by_shape = {}
    for cfg in runs:
        for g in cfg["gemms"]:
            key = (g["B"], g["kernel"], g["layer"])
            by_shape.setdefault(key, []).append(g)
    out = [f"#### {act} + {loss.upper()}: each matrix product alone, microseconds", "",
           "| B x n_in x n_out | kernel | clmlp alone | OpenBLAS 1t | OpenBLAS 2t | "
           "OpenBLAS 2t / clmlp | lowest run | OpenBLAS best / clmlp | lowest run |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (B, kernel, layer), rows in sorted(by_shape.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])):
        g0 = rows[0]
        c = [r["clmlp_alone_us"] or r["clmlp_step_us"] for r in rows]
        t1 = [r["openblas_1t_us"] for r in rows]
        t2 = [r["openblas_2t_us"] for r in rows]
        best = [min(a, b) for a, b in zip(t1, t2) if a and b]
        r2 = [b / a for a, b in zip(c, t2) if b]
        rb = [min(x, y) / a for a, x, y in zip(c, t1, t2) if x and y]
        out.append(f"| {B}x{g0['n_in']}x{g0['n_out']} | {kernel} L{layer} | {med(c):.1f} | "
                   f"{med(t1):.1f} | {med(t2):.1f} | **{med(t2) / med(c):.2f}** | "
                   f"{span(r2)[0]:.2f} | **{med(best) / med(c):.2f}** | {span(rb)[0]:.2f} |")
    return out


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    docs = [json.load(open(p)) for p in sys.argv[1:]]
    configs = {}
    for d in docs:
        for cfg in d["configs"]:
            configs.setdefault((cfg["act"], cfg["loss"]), []).append(cfg)
    lines = [f"{len(docs)} runs of tools/bench_compare.py, layers {docs[0]['layers']}; "
             "figures are medians over the runs of each run's median.", ""]
    for (act, loss), runs in configs.items():
        lines += steps_table(act, loss, runs) + [""] + gemm_table(act, loss, runs) + [""]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
