"""Training curves of logged scalars (loss, teacher entropy, ...).

Usage::

    python tools/analysis/train_curves.py RUN_DIR [RUN_DIR ...] \
        --keys loss teacher_entropy teacher_mean_entropy --out FIG.png \
        [--labels A B ...] [--smooth 5]

Reads the ``vis_data/scalars.json`` that mmengine's ``LocalVisBackend``
writes under each run directory (the newest run of the directory when it
holds several) and plots every key against the iteration, one panel per
key (a moving average of ``--smooth`` logged points, the raw points
faint). Prints, as the last line, a JSON object with the first and last
logged value and the number of points of every run and key.
"""
import argparse
import glob
import json
import os.path as osp


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs', nargs='+')
    parser.add_argument('--keys', nargs='+', default=['loss'])
    parser.add_argument('--out', required=True)
    parser.add_argument('--labels', nargs='+')
    parser.add_argument('--smooth', type=int, default=1)
    return parser.parse_args(argv)


def find_scalars(run_dir: str) -> str:
    """The newest ``vis_data/scalars.json`` of a run directory."""
    if osp.isfile(run_dir):
        return run_dir
    paths = sorted(glob.glob(osp.join(run_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not paths:
        raise FileNotFoundError(f'no */vis_data/scalars.json in {run_dir}')
    return paths[-1]


def read_scalars(path: str, keys) -> dict:
    """``{key: ([iters], [values])}`` of the training records in ``path``."""
    series = {k: ([], []) for k in keys}
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            if 'step' not in rec:
                continue
            for k in keys:
                if k in rec:
                    series[k][0].append(rec['step'])
                    series[k][1].append(float(rec[k]))
    missing = [k for k, (x, _) in series.items() if not x]
    if missing:
        raise KeyError(f'{path} logs none of {missing}')
    return series


def moving_average(values, n: int):
    if n <= 1:
        return list(values)
    out, acc = [], 0.
    for i, v in enumerate(values):
        acc += v
        if i >= n:
            acc -= values[i - n]
        out.append(acc / min(i + 1, n))
    return out


def main(argv=None):
    args = parse_args(argv)
    labels = args.labels or [osp.basename(osp.normpath(r))
                             for r in args.runs]
    if len(labels) != len(args.runs):
        raise ValueError(f'{len(labels)} labels for {len(args.runs)} runs')
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    runs = {lab: read_scalars(find_scalars(r), args.keys)
            for lab, r in zip(labels, args.runs)}
    fig, axes = plt.subplots(1, len(args.keys),
                             figsize=(4 * len(args.keys), 3.2),
                             squeeze=False)
    summary = {}
    for ax, key in zip(axes[0], args.keys):
        for lab, series in runs.items():
            x, y = series[key]
            line, = ax.plot(x, moving_average(y, args.smooth), label=lab)
            if args.smooth > 1:
                ax.plot(x, y, color=line.get_color(), alpha=0.25, lw=0.8)
            summary.setdefault(lab, {})[key] = dict(
                first=y[0], last=y[-1], points=len(y))
        ax.set_title(key)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f'saved {args.out}')
    print(json.dumps(summary))


if __name__ == '__main__':
    main()
