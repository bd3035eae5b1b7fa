#!/usr/bin/env python3
"""bench_compare.py - clmlp against PyTorch (CPU) and OpenBLAS SGEMM on the same work.

One run times, for each configuration (hidden activation + loss) and batch size:
  * clmlp: `clmlp bench --csv` (per-kernel device times in the step and of each matrix product
    alone, and full training steps/s);
  * PyTorch on the CPU, if importable: the same network, loss, SGD step and random data,
    gathering each batch by index like clmlp does, with the best of torch.set_num_threads(1)
    and (2);
  * numpy's SGEMM (OpenBLAS in the PyPI wheels) on every GEMM shape clmlp ran, with 1 and 2
    threads (OPENBLAS_NUM_THREADS, set in a child process before numpy loads).
and prints the ratios side by side. Every figure is a median of repeated runs.

Example:
  tools/bench_compare.py --clmlp "build-perf/clmlp bench" --batch 32,128,256 --md out.md
"""
import argparse
import csv
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GEMMS = ("forward_layer", "forward_layer_t", "hidden_delta", "hidden_delta_t", "weight_grad",
         "weight_grad_narrow")


def run_clmlp(cmd, layers, act, loss, batches, extra):
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as f:
        path = f.name
    argv = shlex.split(cmd) + ["--layers", layers, "--act", act, "--loss", loss,
                               "--batch", ",".join(map(str, batches)), "--csv", path] + extra
    print("$ " + " ".join(shlex.quote(a) for a in argv), flush=True)
    try:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        sys.exit(f"bench_compare: cannot run {argv[0]!r}: no such program (see --clmlp)")
    except subprocess.CalledProcessError as e:
        sys.exit(f"bench_compare: clmlp bench failed (exit {e.returncode}); its message is above")
    finally:
        if os.path.exists(path):
            os.unlink(path)
    return rows


def run_info(a, have_torch):
    """What a reader needs to judge the figures: when, how loaded, which versions, which options."""
    info = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "reps": a.reps, "min_time_s": a.min_time,
            "clmlp_command": a.clmlp, "clmlp_args": a.clmlp_args, "device": a.device}
    try:
        info["load_average"] = list(os.getloadavg())
    except OSError:
        pass
    if have_torch:
        import torch
        info["torch"] = torch.__version__
    try:
        import numpy
        info["numpy"] = numpy.__version__
    except Exception:
        pass
    return info


def no_nan(x):
    """JSON has no NaN: missing figures become null."""
    if isinstance(x, float) and x != x:
        return None
    if isinstance(x, dict):
        return {k: no_nan(v) for k, v in x.items()}
    if isinstance(x, list):
        return [no_nan(v) for v in x]
    return x


# ---------------------------------------------------------------- PyTorch

def torch_available():
    try:
        import torch  # noqa: F401
        return True
    except Exception:
        return False


def torch_bench(layers, act, loss, batch, threads, reps, min_time, seed=1):
    """Samples/s of full SGD steps (gather by index, forward, loss, backward, update)."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    sizes = [int(s) for s in layers.split(",")]
    acts = {"tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU}
    mods = []
    for i in range(len(sizes) - 1):
        mods.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            mods.append(acts[act]())
    if loss == "mse":
        mods.append(torch.nn.Sigmoid())  # clmlp's default output activation with MSE
    net = torch.nn.Sequential(*mods)
    n = max(4096, 16 * batch)
    X = torch.rand(n, sizes[0])
    y = torch.randint(0, sizes[-1], (n,))
    Y = torch.nn.functional.one_hot(y, sizes[-1]).float()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    order = torch.randperm(n)
    n_batches = n // batch

    def step(i):
        idx = order[(i % n_batches) * batch:(i % n_batches + 1) * batch]
        xb = X[idx]
        out = net(xb)
        if loss == "ce":
            lo = torch.nn.functional.cross_entropy(out, y[idx])
        else:  # clmlp: (1/B) sum_b sum_k (yhat - y)^2
            lo = ((out - Y[idx]) ** 2).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        lo.backward()
        opt.step()

    i = 0
    for _ in range(10):
        step(i)
        i += 1
    steps = 1
    while True:  # calibrate to min_time per repetition
        t0 = time.perf_counter()
        for _ in range(steps):
            step(i)
            i += 1
        dt = time.perf_counter() - t0
        if dt >= min_time:
            break
        steps = min(steps * 8, max(steps * 2, int(steps * min_time / max(dt, 1e-6) * 1.2) + 1))
    rates = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(steps):
            step(i)
            i += 1
        rates.append(steps * batch / (time.perf_counter() - t0))
    return statistics.median(rates), min(rates), max(rates)


# ---------------------------------------------------------------- numpy / OpenBLAS

GEMM_CHILD = r"""
import json, sys, time, statistics
import numpy as np
shapes, reps = json.loads(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(1)
out = []
for kind, B, ni, no in shapes:
    A = rng.random((B, ni), dtype=np.float32)
    W = rng.random((ni, no), dtype=np.float32)
    D = rng.random((B, no), dtype=np.float32)
    if kind.startswith("forward_layer"):
        f = lambda: A @ W                 # (B x n_in)(n_in x n_out)
    elif kind.startswith("hidden_delta"):
        f = lambda: D @ W.T               # (B x n_out)(n_out x n_in), W^T as a view
    else:
        f = lambda: A.T @ D               # (n_in x B)(B x n_out), A^T as a view
    for _ in range(5):
        f()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        dt = time.perf_counter() - t0
        if dt > 0.02 or n > 100000:
            break
        n *= 4
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        ts.append((time.perf_counter() - t0) / n)
    out.append([statistics.median(ts), min(ts)])
cfg = ""
try:
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    cfg = "%s %s" % (blas.get("name", "?"), blas.get("version", ""))
except Exception:
    pass
print(json.dumps({"times": [t[0] for t in out], "best": [t[1] for t in out], "blas": cfg}))
"""


def blas_bench(shapes, threads, reps):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    r = subprocess.run([sys.executable, "-c", GEMM_CHILD, json.dumps(shapes), str(reps)],
                       env=env, check=True, capture_output=True, text=True)
    return json.loads(r.stdout)


def numpy_available():
    try:
        import numpy  # noqa: F401
        return True
    except Exception:
        return False


# ---------------------------------------------------------------- report

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clmlp", default=os.path.join(ROOT, "build", "clmlp") + " bench",
                    help="command that runs clmlp's bench subcommand (default: build/clmlp bench)")
    ap.add_argument("--layers", default="784,256,128,10")
    ap.add_argument("--configs", default="tanh:ce,sigmoid:mse",
                    help="comma-separated ACT:LOSS pairs (default tanh:ce,sigmoid:mse)")
    ap.add_argument("--batch", default="32,128,256")
    ap.add_argument("--device", default=None, help="passed to clmlp bench --device")
    ap.add_argument("--reps", type=int, default=7, help="repetitions for every median")
    ap.add_argument("--min-time", type=float, default=0.3, help="seconds per repetition")
    ap.add_argument("--clmlp-args", default="", help="extra arguments for clmlp bench")
    ap.add_argument("--json", help="write all results here")
    ap.add_argument("--md", help="write the side-by-side tables here as Markdown")
    a = ap.parse_args()
    try:
        batches = [int(b) for b in a.batch.split(",")]
        configs = [tuple(c.split(":")) for c in a.configs.split(",")]
    except ValueError:
        ap.error("--batch takes a list of integers")
    for c in configs:
        if len(c) != 2 or c[0] not in ("tanh", "sigmoid", "relu") or c[1] not in ("ce", "mse"):
            ap.error(f"--configs: {':'.join(c)!r} is not ACT:LOSS (ACT tanh, sigmoid or relu; "
                     "LOSS ce or mse)")
    if a.reps < 3:
        ap.error("--reps must be at least 3: a median of fewer runs is one outlier away from "
                 "any value")
    own = {"--layers", "--act", "--loss", "--batch", "--csv", "--device", "--step-reps",
           "--min-time", "--out-act"}
    clash = [x.split("=")[0] for x in shlex.split(a.clmlp_args) if x.split("=")[0] in own]
    if clash:
        ap.error(f"--clmlp-args may not set {', '.join(clash)}: this script sets it, and PyTorch "
                 "and OpenBLAS must run the same configuration")
    extra = shlex.split(a.clmlp_args) + ["--step-reps", str(a.reps), "--min-time", str(a.min_time)]
    if a.device:
        extra += ["--device", a.device]
    have_torch, have_np = torch_available(), numpy_available()
    if not have_torch:
        print("PyTorch is not importable: try `pip install torch --index-url "
              "https://download.pytorch.org/whl/cpu`, `pip install torch`, or Debian's "
              "python3-torch; the PyTorch columns are left empty.", file=sys.stderr)
    if not have_np:
        print("numpy is not importable (`pip install numpy`); the OpenBLAS columns are left empty.",
              file=sys.stderr)
    results = {"layers": a.layers, "run": run_info(a, have_torch), "configs": []}
    md = []
    for act, loss in configs:
        rows = run_clmlp(a.clmlp, a.layers, act, loss, batches, extra)
        steps = {int(r["batch"]): r for r in rows if r["kind"] == "step"}
        gemm_rows = [r for r in rows if r["kind"] == "kernel" and r["kernel"] in GEMMS]
        torch_res = {}
        if have_torch:
            for b in batches:
                best = None
                for t in (1, 2):
                    med, lo, hi = torch_bench(a.layers, act, loss, b, t, a.reps, a.min_time)
                    if best is None or med > best[0]:
                        best = (med, lo, hi, t)
                torch_res[b] = best
        blas = {}
        if have_np and gemm_rows:
            shapes = [[r["kernel"], int(r["rows"]), int(r["n_in"]), int(r["n_out"])] for r in gemm_rows]
            for t in (1, 2):
                blas[t] = blas_bench(shapes, t, a.reps)
        # ---- full step
        lines = [f"### {act} + {loss.upper()}, layers {a.layers}", "",
                 "Full training step, samples/s: medians (min-max) of the repetitions; the ratio "
                 "of medians, and of the best repetitions.", "",
                 "| batch | clmlp samples/s (min-max) | PyTorch samples/s (min-max, threads) | "
                 "clmlp / PyTorch | best / best |",
                 "|---:|---:|---:|---:|---:|"]
        cfg_res = {"act": act, "loss": loss, "steps": [], "gemms": []}
        for b in batches:
            s = steps.get(b)
            c = float(s["samples_s"]) if s else float("nan")
            span = f"{float(s['samples_s_min']):.0f}-{float(s['samples_s_max']):.0f}" if s else ""
            tr = torch_res.get(b)
            tcol = f"{tr[0]:.0f} ({tr[1]:.0f}-{tr[2]:.0f}, {tr[3]}t)" if tr else "n/a"
            ratio = f"{c / tr[0]:.2f}" if tr else "n/a"
            best = f"{float(s['samples_s_max']) / tr[2]:.2f}" if tr and s else "n/a"
            lines.append(f"| {b} | {c:.0f} ({span}) | {tcol} | {ratio} | {best} |")
            cfg_res["steps"].append({"batch": b, "clmlp_samples_s": c,
                                     "torch_samples_s": tr[0] if tr else None,
                                     "torch_threads": tr[3] if tr else None})
        lines += ["", "GEMMs, each shape alone: clmlp's device time for the product run by itself "
                  "back to back on the same buffers (`clmlp bench`, column 'alone', median of "
                  "its runs), against numpy's SGEMM on the same shape, also back to back (median "
                  "of repetitions); 'in step' is clmlp's median launch inside the training step, "
                  "for reference. Ratios are OpenBLAS time / clmlp time (>= 0.8 is the target): "
                  "against OpenBLAS with 2 threads, and against the faster of its 1- and 2-thread "
                  "medians.", "",
                  "| kernel | layer | B x n_in x n_out | clmlp in step us | clmlp alone us | "
                  "clmlp alone GFLOP/s | OpenBLAS 1t us | OpenBLAS 2t us | OpenBLAS 2t time / "
                  "clmlp time | OpenBLAS best time / clmlp time |",
                  "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
        nan = float("nan")
        for i, r in enumerate(gemm_rows):
            B, ni, no = int(r["rows"]), int(r["n_in"]), int(r["n_out"])
            flops = 2.0 * B * ni * no
            step_us = float(r["median_us"])
            alone = r.get("alone_median_us") or ""
            us = float(alone) if alone else step_us  # without alone runs, the in-step time
            g = flops / (us * 1e3)
            t1 = blas[1]["times"][i] * 1e6 if blas else nan
            t2 = blas[2]["times"][i] * 1e6 if blas else nan
            lines.append(f"| {r['kernel']} | {r['layer']} | {B}x{ni}x{no} | {step_us:.1f} | "
                         f"{us:.1f} | {g:.1f} | {t1:.1f} | {t2:.1f} | {t2 / us:.2f} | "
                         f"{min(t1, t2) / us:.2f} |")
            cfg_res["gemms"].append({"kernel": r["kernel"], "layer": int(r["layer"]), "B": B,
                                     "n_in": ni, "n_out": no, "clmlp_step_us": step_us,
                                     "clmlp_alone_us": float(alone) if alone else None,
                                     "openblas_1t_us": t1 if blas else None,
                                     "openblas_2t_us": t2 if blas else None})
        if blas:
            lines += ["", f"numpy BLAS: {blas[1].get('blas') or 'unknown'}"]
            results["run"]["blas"] = blas[1].get("blas") or "unknown"
        text = "\n".join(lines) + "\n"
        print("\n" + text, flush=True)
        md.append(text)
        results["configs"].append(cfg_res)
    if a.md:
        with open(a.md, "w") as f:
            f.write("\n".join(md))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(no_nan(results), f, indent=1, allow_nan=False)


if __name__ == "__main__":
    main()
