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
    return statistics.median(values) if values else None


def span(values):
    values = [v for v in values if v is not None]
    return (min(values), max(values)) if values else (None, None)


def fmt(x, spec):
    """x formatted, or n/a when the figure is missing (PyTorch or numpy absent in a run)."""
    return "n/a" if x is None else format(x, spec)


def ratio(a, b):
    return a / b if a is not None and b else None


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
        out.append(f"| {b} | {fmt(med(c), '.0f')} ({fmt(span(c)[0], '.0f')}-"
                   f"{fmt(span(c)[1], '.0f')}) | {fmt(med(t), '.0f')} ({fmt(span(t)[0], '.0f')}-"
                   f"{fmt(span(t)[1], '.0f')}) | **{fmt(ratio(med(c), med(t)), '.2f')}** | "
                   f"{fmt(lo, '.2f')}-{fmt(hi, '.2f')} |")
    return out


def gemm_table(act, loss, runs):
    by_shape = {}
    for cfg in runs:
        for g in cfg["gemms"]:
            key = (g["B"], g["kernel"], g["layer"])
            by_shape.setdefault(key, []).append(g)
    out = [f"#### {act} + {loss.upper()}: each matrix product alone, microseconds", "",
           "| B x n_in x n_out | kernel | clmlp alone | OpenBLAS 1t | OpenBLAS 2t | "
           "OpenBLAS 1t time / clmlp time | OpenBLAS 2t time / clmlp time | lowest run (2t) |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for (B, kernel, layer), rows in sorted(by_shape.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])):
        g0 = rows[0]
        c = [r.get("clmlp_alone_us") or r.get("clmlp_step_us") for r in rows]
        t1 = [r["openblas_1t_us"] for r in rows]
        t2 = [r["openblas_2t_us"] for r in rows]
        r2 = [b / a for a, b in zip(c, t2) if a and b]
        out.append(f"| {B}x{g0['n_in']}x{g0['n_out']} | {kernel} L{layer} | {fmt(med(c), '.1f')} | "
                   f"{fmt(med(t1), '.1f')} | {fmt(med(t2), '.1f')} | "
                   f"**{fmt(ratio(med(t1), med(c)), '.2f')}** | "
                   f"**{fmt(ratio(med(t2), med(c)), '.2f')}** | {fmt(span(r2)[0], '.2f')} |")
    return out


def load(path):
    """One bench_compare.py --json file, or exit with the reason."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except OSError as e:
        sys.exit(f"bench_summary: cannot read {path}: {e.strerror}")
    except ValueError as e:
        sys.exit(f"bench_summary: {path} is not JSON: {e}")
    if not isinstance(doc, dict) or "configs" not in doc or "layers" not in doc:
        sys.exit(f"bench_summary: {path} is not a tools/bench_compare.py --json file (a `clmlp "
                 "bench --json` file has no PyTorch or OpenBLAS figures to summarise)")
    return doc


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__, file=sys.stderr if not args else sys.stdout)
        return 2 if not args else 0
    docs = [load(p) for p in args]
    layers = {d["layers"] for d in docs}
    if len(layers) > 1:
        sys.exit("bench_summary: the runs are of different networks (" + ", ".join(sorted(layers)) +
                 "); summarise each network's runs on their own")
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
