"""InterCLR's pseudo-labels over training: change ratio and NMI per epoch.

Usage::

    python tools/analysis/interclr_curves.py RUN_DIR [RUN_DIR ...] \
        --out FIG.png [--labels A B ...]

Reads each run's ``interclr_clusters.json`` (written by
``mmmix.InterCLRHook``) and plots, against the epoch, the mean
``change_ratio`` of every epoch (the fraction of the rows written in a step
whose label changed) and the NMI of the memory's pseudo-labels with the
true classes (epoch 0: the initial clustering). Prints the plotted series
as JSON on the last line.
"""
import argparse
import json
import os.path as osp


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs', nargs='+')
    parser.add_argument('--out', required=True)
    parser.add_argument('--labels', nargs='+')
    return parser.parse_args(argv)


def read_series(run_dir: str) -> dict:
    path = osp.join(run_dir, 'interclr_clusters.json')
    if not osp.isfile(path):
        raise FileNotFoundError(f'no interclr_clusters.json in {run_dir}')
    with open(path) as f:
        records = [r for r in json.load(f) if r['tag'] in ('init', 'epoch')]
    return dict(
        change=[(r['epoch'], 100 * r['change_ratio']) for r in records
                if 'change_ratio' in r],
        nmi=[(r['epoch'], 100 * r['nmi']) for r in records if 'nmi' in r])


def main(argv=None):
    args = parse_args(argv)
    labels = args.labels or [osp.basename(osp.normpath(r))
                             for r in args.runs]
    if len(labels) != len(args.runs):
        raise ValueError(f'{len(args.labels)} labels for {len(args.runs)} '
                         'runs')
    series = {label: read_series(run)
              for label, run in zip(labels, args.runs)}
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for label, s in series.items():
        for ax, key in zip(axes, ('change', 'nmi')):
            if s[key]:
                x, y = zip(*s[key])
                ax.plot(x, y, marker='o', ms=3, label=label)
    axes[0].set_title('change ratio of the rows written (%)')
    axes[1].set_title('NMI of the pseudo-labels with the classes (%)')
    for ax in axes:
        ax.set_xlabel('epoch')
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    plt.close(fig)
    print(f'wrote {args.out}')
    print(json.dumps(series))


if __name__ == '__main__':
    main()
