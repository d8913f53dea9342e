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

from mmmix.utils import seed_table

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
    seed_table.add_arguments(parser)
    args = parser.parse_args(argv)
    runs = seed_table.seed_runs(args.root, args.methods, args.seeds, read_run,
                                skip_missing=False)
    table, columns = seed_table.summarize(runs)
    seed_table.print_table(table, columns, seeds_column=False, missing='–')
    return table


if __name__ == '__main__':
    main()
