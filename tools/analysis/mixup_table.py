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

from mmmix.utils import seed_table

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
    seed_table.add_arguments(parser)
    args = parser.parse_args(argv)
    runs = seed_table.seed_runs(args.root, args.methods, args.seeds, read_run)
    table, columns = seed_table.summarize(runs, [k for k, _ in COLUMNS])
    seed_table.print_table(table, columns, headers=[h for _, h in COLUMNS])


if __name__ == '__main__':
    main()
