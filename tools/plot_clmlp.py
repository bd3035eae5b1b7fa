#!/usr/bin/env python3
"""plot_clmlp.py - the pictures of docs/vanishing-gradient.md, as PNG files.

  plot_clmlp.py curves OUT.png                 sigmoid, sigmoid', tanh, tanh' (the notes' curves)
  plot_clmlp.py vanish VANISH.csv OUT.png      per-layer mean |delta| / output's, log scale,
                                               from `clmlp vanish --csv`
  plot_clmlp.py metrics METRICS.csv OUT.png    training curves from `clmlp train --log`, and
                                               per-layer mean |delta| when it was traced

Needs matplotlib (Debian: python3-matplotlib) and numpy; draws with the Agg backend, so no
display is needed. Bad input gives one line on stderr naming the file, line and column, and
exit status 2.
"""
import argparse
import csv
import math
import os
import re
import sys

try:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on CI machines
    import matplotlib.pyplot as plt
    import numpy as np
except ImportError as missing:
    sys.exit(f"plot_clmlp.py: {missing} for {sys.executable}; install python3-matplotlib and "
             "python3-numpy (Debian) and run with /usr/bin/python3, or pip install matplotlib")

ACT_COLOURS = {"sigmoid": "tab:red", "tanh": "tab:blue", "relu": "tab:green",
               "identity": "tab:gray"}
INIT_STYLES = ["o", "s", "^", "D", "v"]


class InputError(Exception):
    """A problem with the user's input, reported as one line."""


def read_csv(path, required):
    """Rows of a CSV file as dicts; checks the header has the required columns."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)} "
                             f"(header: {','.join(header) or 'empty'})")
        rows = list(reader)
    if not rows:
        raise InputError(f"{path}: no data rows")
    return header, rows


def number(path, row_index, row, column, allow_empty=False):
    """The float in a cell; the error names the line (the header is line 1)."""
    text = (row.get(column) or "").strip()
    if text == "" and allow_empty:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{path} line {row_index + 2}: column {column}: "
                         f"'{text}' is not a number") from None
    if math.isnan(value):
        raise InputError(f"{path} line {row_index + 2}: column {column} is NaN")
    return value


def save(fig, out):
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise InputError(f"{out}: folder {folder} does not exist")
    fig.savefig(out, dpi=110, metadata={"Software": None})
    plt.close(fig)
    print(f"wrote {out}")


def plot_curves(out):
    """The notes' four curves, with the derivatives' maxima marked."""
    x = np.linspace(-10, 10, 1001)
    sig = 1.0 / (1.0 + np.exp(-x))
    th = np.tanh(x)
    panels = [
        (sig, r"$\sigma(x)$", None),
        (sig * (1 - sig), r"$\sigma'(x) = \sigma(x)(1-\sigma(x))$", 0.25),
        (th, r"$\tanh(x)$", None),
        (1 - th ** 2, r"$\tanh'(x) = 1 - \tanh^2(x)$", 1.0),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5))
    for ax, (y, title, peak) in zip(axes.flat, panels):
        ax.plot(x, y, color="tab:red" if "sigma" in title else "tab:blue")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if peak is not None:
            ax.axhline(peak, color="gray", linestyle="--", linewidth=0.8)
            ax.annotate(f"max = {peak:g} at x = 0", (0, peak), xytext=(2.5, peak * 0.8),
                        arrowprops={"arrowstyle": "->", "color": "gray"})
    fig.suptitle("Activations and their derivatives: sigmoid' never exceeds 1/4, tanh' reaches 1")
    fig.tight_layout()
    save(fig, out)


def read_vanish(path):
    """{(act, init): {phase: [(layer, ratio, bound, deriv)]}} from `clmlp vanish --csv`."""
    _, rows = read_csv(path, ["act", "init", "phase", "layer", "ratio", "deriv_factor", "bound"])
    runs = {}
    for i, row in enumerate(rows):
        phase = row["phase"].strip()
        if phase not in ("init", "trained"):
            raise InputError(f"{path} line {i + 2}: phase '{phase}' is not init or trained")
        layer = number(path, i, row, "layer")
        ratio = number(path, i, row, "ratio")
        if ratio <= 0:
            raise InputError(f"{path} line {i + 2}: ratio {ratio:g} is not positive "
                             "(a log scale needs it)")
        key = (row["act"].strip(), row["init"].strip())
        runs.setdefault(key, {}).setdefault(phase, []).append(
            (int(layer), ratio, number(path, i, row, "bound"), number(path, i, row, "deriv_factor")))
    return runs


def plot_vanish(path, out):
    """Per-layer mean |delta| / output's on a log scale: init and trained side by side, one line
    per activation (and initialisation), each run's bound dotted in its colour, the notes'
    0.25^k dashed. One legend below both panels, so that no line is hidden."""
    from matplotlib.lines import Line2D

    runs = read_vanish(path)
    phases = [p for p in ("init", "trained") if any(p in r for r in runs.values())]
    inits = sorted({init for _, init in runs})
    fig, axes = plt.subplots(1, len(phases), figsize=(6.2 * len(phases), 5.6), squeeze=False,
                             sharey=True)
    handles = {}
    for ax, phase in zip(axes[0], phases):
        notes = None
        for (act, init), by_phase in sorted(runs.items()):
            pts = sorted(by_phase.get(phase, []))
            if not pts:
                continue
            colour = ACT_COLOURS.get(act, "black")
            marker = INIT_STYLES[inits.index(init) % len(INIT_STYLES)]
            layers = [p[0] for p in pts]
            label = act if len(inits) == 1 else f"{act} / {init}"
            (handles[label],) = ax.plot(layers, [p[1] for p in pts], marker=marker,
                                        color=colour)
            ax.plot(layers, [p[2] for p in pts], linestyle=":", color=colour, linewidth=1)
            if act == "sigmoid":
                notes = (layers, [p[3] for p in pts])
        if notes:
            ax.plot(*notes, linestyle="--", color="gray")
        ax.set_yscale("log")
        ax.set_xlabel("layer (1 = first hidden, last = output)")
        ax.set_title("at initialisation (step 1)" if phase == "init" else "after training")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("mean |delta| of the layer / the output layer's")
    extra = [Line2D([], [], color="gray", linestyle=":", label="bound of the run in that colour"),
             Line2D([], [], color="gray", linestyle="--",
                    label="0.25^k: the notes' derivative factor alone")]
    fig.legend(handles=list(handles.values()) + extra,
               labels=list(handles) + [h.get_label() for h in extra],
               loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(f"Per-layer error terms ({os.path.basename(path)})")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    save(fig, out)


def read_metrics(path):
    """Epoch rows (train_loss present) and traced rows (step present) of `clmlp train --log`."""
    header, rows = read_csv(path, ["epoch", "train_loss", "train_acc", "test_acc"])
    layers = sorted({int(m.group(1)) for c in header if (m := re.fullmatch(r"L(\d+)_delta", c))})
    epochs, traces = [], []
    for i, row in enumerate(rows):
        epoch = number(path, i, row, "epoch")
        loss = number(path, i, row, "train_loss", allow_empty=True)
        if loss is not None:
            epochs.append((epoch, loss, number(path, i, row, "train_acc"),
                           number(path, i, row, "test_acc", allow_empty=True)))
        if layers and "step" in header:
            step = number(path, i, row, "step", allow_empty=True)
            if step is not None:
                traces.append((step, [number(path, i, row, f"L{l}_delta") for l in layers]))
    if not epochs:
        raise InputError(f"{path}: no row has a train_loss (not a `clmlp train --log` file?)")
    return epochs, layers, traces


def plot_metrics(path, out):
    """Loss, accuracies and (when traced) per-layer mean |delta| over the run."""
    epochs, layers, traces = read_metrics(path)
    n = 3 if traces else 2
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.2))
    x = [e[0] for e in epochs]
    axes[0].plot(x, [e[1] for e in epochs], marker="o", color="tab:purple")
    axes[0].set_title("training loss")
    axes[1].plot(x, [e[2] for e in epochs], marker="o", label="train (running)")
    tests = [(e[0], e[3]) for e in epochs if e[3] is not None]
    if tests:
        axes[1].plot([t[0] for t in tests], [t[1] for t in tests], marker="s", label="test")
    axes[1].set_title("accuracy")
    axes[1].legend()
    for ax in axes[:2]:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    if traces:
        ax = axes[2]
        steps = [t[0] for t in traces]
        cmap = plt.get_cmap("viridis")
        for j, layer in enumerate(layers):
            values = [t[1][j] for t in traces]
            if min(values) <= 0:
                raise InputError(f"{path}: L{layer}_delta has a value <= 0 (log scale)")
            ax.plot(steps, values, marker=".", color=cmap(j / max(1, len(layers) - 1)),
                    label=f"L{layer}")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title("mean |delta| per layer")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(f"Training curves ({os.path.basename(path)})")
    fig.tight_layout()
    save(fig, out)


def main(argv):
    parser = argparse.ArgumentParser(prog="plot_clmlp.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("curves", help="sigmoid, sigmoid', tanh, tanh'")
    p.add_argument("out")
    p = sub.add_parser("vanish", help="per-layer |delta| from clmlp vanish --csv")
    p.add_argument("csv")
    p.add_argument("out")
    p = sub.add_parser("metrics", help="training curves from clmlp train --log")
    p.add_argument("csv")
    p.add_argument("out")
    args = parser.parse_args(argv)
    if not args.out.lower().endswith(".png"):
        parser.error(f"{args.out}: the output must be a .png file")
    try:
        if args.cmd == "curves":
            plot_curves(args.out)
        elif args.cmd == "vanish":
            plot_vanish(args.csv, args.out)
        else:
            plot_metrics(args.csv, args.out)
    except InputError as e:
        print(f"plot_clmlp.py: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
