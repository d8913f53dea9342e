"""Mean ± std over seeds of error, calibration and adversarial error.

Reads, for each ``METHOD`` and seed ``S``, the run directory
``ROOT/METHOD_seedS`` as written by ``tools/train.py --work-dir`` followed by
``tools/test.py ... --work-dir ROOT/METHOD_seedS/test`` (the newest
``test/*/*.json``: ``accuracy/top1``, ``calibration/ece``, ``calibration/oe``)
and ``tools/analysis/adversarial_eval.py ... --out
ROOT/METHOD_seedS/adversarial.json``, and optionally an OOD test
(``tools/test.py OOD_CONFIG ... --work-dir ROOT/METHOD_seedS/ood``, the
newest ``ood/*/*.json``: ``ood/auroc``). Prints a markdown table (top-1
error, ECE, OE, FGSM and PGD error, OOD AUROC, all in %, sample standard
deviation) and, as the last line, the same numbers as JSON.

Usage::

    python tools/analysis/mixup_table.py ROOT --methods none mixup \
        manifoldmix alignmixup --seeds 0 1 2
"""
import argparse
import glob
import json
import os.path as osp

from mmmix.utils.profiling import mean_std

COLUMNS = (('top1_error', 'top-1 err'), ('ece', 'ECE'), ('oe', 'OE'),
           ('fgsm_error', 'FGSM err'), ('pgd_error', 'PGD err'),
           ('ood_auroc', 'OOD AUROC'))


def read_run(run_dir: str) -> dict:
    tests = sorted(glob.glob(osp.join(run_dir, 'test', '*', '*.json')))
    if not tests:
        raise FileNotFoundError(f'no test metrics under {run_dir}/test')
    with open(tests[-1]) as f:
        test = json.load(f)
    out = dict(top1_error=100 - test['accuracy/top1'],
               ece=test.get('calibration/ece'),
               oe=test.get('calibration/oe'))
    adv = osp.join(run_dir, 'adversarial.json')
    if osp.isfile(adv):
        with open(adv) as f:
            res = json.load(f)
        out.update(fgsm_error=res.get('fgsm_error'),
                   pgd_error=res.get('pgd_error'))
    ood = sorted(glob.glob(osp.join(run_dir, 'ood', '*', '*.json')))
    if ood:
        with open(ood[-1]) as f:
            out['ood_auroc'] = json.load(f).get('ood/auroc')
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root')
    parser.add_argument('--methods', nargs='+', required=True)
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    args = parser.parse_args(argv)
    table = {}
    for method in args.methods:
        runs = []
        for seed in args.seeds:
            run_dir = osp.join(args.root, f'{method}_seed{seed}')
            if osp.isdir(run_dir):
                runs.append(read_run(run_dir))
        if not runs:
            raise FileNotFoundError(f'no runs of {method} under {args.root}')
        table[method] = {
            key: mean_std([r.get(key) for r in runs])
            for key, _ in COLUMNS
        }
    print('| method | seeds | ' + ' | '.join(h for _, h in COLUMNS) + ' |')
    print('|---' * (len(COLUMNS) + 2) + '|')
    for method, row in table.items():
        cells = []
        for key, _ in COLUMNS:
            s = row[key]
            cells.append('—' if s is None else
                         f'{s["mean"]:.2f} ± {s["std"]:.2f}')
        n = max(s['n'] for s in row.values() if s)
        print(f'| {method} | {n} | ' + ' | '.join(cells) + ' |')
    print(json.dumps(table))


if __name__ == '__main__':
    main()
