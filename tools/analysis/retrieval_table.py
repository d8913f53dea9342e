"""Mean ± std over seeds of the retrieval metrics of training runs.

Reads, for each ``METHOD`` and seed ``S``, the run directory
``ROOT/METHOD_seedS`` written by ``tools/train.py --work-dir`` and takes the
last validation record (``retrieval/R@K``, ``retrieval/MAP@R``) of its
newest ``*/vis_data/scalars.json``, and the training time from the first
and last time stamps of that run's log. Prints a markdown table (sample
standard deviation) and, as the last line, the same numbers as JSON.

Usage::

    python tools/analysis/retrieval_table.py ROOT --methods contrastive \
        contrastive-metrix --seeds 0 1 2
"""
import argparse
import datetime
import glob
import json
import os.path as osp
import re

from mmmix.utils.profiling import mean_std

_STAMP = re.compile(r'^((?:\d{4}/)?\d\d/\d\d \d\d:\d\d:\d\d) - mmengine')


def read_run(run_dir: str) -> dict:
    logs = sorted(glob.glob(osp.join(run_dir, '*', 'vis_data',
                                     'scalars.json')))
    if not logs:
        raise FileNotFoundError(f'no vis_data/scalars.json under {run_dir}')
    last = None
    with open(logs[-1]) as f:
        for line in f:
            record = json.loads(line)
            if any(k.startswith('retrieval/') for k in record):
                last = record
    if last is None:
        raise ValueError(f'{logs[-1]} has no retrieval metrics')
    out = {k.split('/', 1)[1]: v for k, v in last.items()
           if k.startswith('retrieval/')}
    text_log = osp.join(osp.dirname(osp.dirname(logs[-1])),
                        osp.basename(osp.dirname(osp.dirname(logs[-1]))) +
                        '.log')
    if osp.isfile(text_log):
        stamps = []
        with open(text_log) as f:
            for line in f:
                m = _STAMP.match(line)
                if m:
                    fmt = '%Y/%m/%d %H:%M:%S' if m.group(1).count('/') == 2 \
                        else '%m/%d %H:%M:%S'
                    stamps.append(datetime.datetime.strptime(m.group(1), fmt))
        if len(stamps) > 1:
            out['minutes'] = (stamps[-1] - stamps[0]).total_seconds() / 60
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root')
    parser.add_argument('--methods', nargs='+', required=True)
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    args = parser.parse_args(argv)
    table = {}
    for method in args.methods:
        runs = [read_run(osp.join(args.root, f'{method}_seed{s}'))
                for s in args.seeds]
        keys = [k for k in runs[0]]
        table[method] = {k: mean_std([r.get(k) for r in runs])
                         for k in keys}
    columns = [k for k in next(iter(table.values()))]
    print('| method | ' + ' | '.join(columns) + ' |')
    print('|---' * (len(columns) + 1) + '|')
    for method, row in table.items():
        cells = [f'{row[c]["mean"]:.2f} ± {row[c]["std"]:.2f}'
                 if row.get(c) else '–' for c in columns]
        print(f'| {method} | ' + ' | '.join(cells) + ' |')
    print(json.dumps(table))
    return table


if __name__ == '__main__':
    main()
