"""Mean ± std over seeds of self-supervised pretraining runs.

Reads, for each ``METHOD`` and seed ``S``, the run directory
``ROOT/METHOD_seedS`` written by ``tools/train.py --work-dir``: the
``knn_summary.json`` of its ``KNNEvalHook`` (the ``trained`` row: weighted
k-NN top-1 for each ``k``), and, where the run has a ``CLIMHook``, its
``clim_selection.json`` (the label precision of the selected positives,
first and last selection round, in %), where it has an ``InterCLRHook``,
its ``interclr_clusters.json`` (the NMI of the pseudo-labels with the true
classes after the initial clustering, ``pseudo_nmi_e0``, and after every
epoch ``e``, ``pseudo_nmi_e{e}``, and the epoch's mean ``change_ratio_e{e}``,
all in %), and, where
``tools/analysis/feature_clusters.py`` wrote one, ``feature_clusters.json``
(k-means NMI of the features, in %), and, where a ``student/`` sub-run
holds a ``knn_summary.json`` (the run's final checkpoint evaluated with
``model.feature_source=student`` before any step, e.g. for DINO / DoRA,
whose own evaluation uses the teacher), its ``init`` row as
``student_top1_k20`` etc. Prints a markdown table (sample
standard deviation) and, as the last line, the same numbers as JSON.

Usage::

    python tools/analysis/pretrain_table.py ROOT --methods moco clim \
        --seeds 0 1 2
"""
import argparse
import json
import os.path as osp

from mmmix.utils import seed_table


def read_run(run_dir: str) -> dict:
    path = osp.join(run_dir, 'knn_summary.json')
    if not osp.isfile(path):
        raise FileNotFoundError(f'no knn_summary.json in {run_dir}')
    with open(path) as f:
        trained = json.load(f)['trained']
    out = {k: v for k, v in trained.items() if k.startswith('top')}
    student = osp.join(run_dir, 'student', 'knn_summary.json')
    if osp.isfile(student):
        with open(student) as f:
            row = json.load(f)['init']
        out.update({f'student_{k}': v for k, v in row.items()
                    if k.startswith('top')})
    clim = osp.join(run_dir, 'clim_selection.json')
    if osp.isfile(clim):
        with open(clim) as f:
            rounds = json.load(f)
        precision = [r.get('label_precision') for r in rounds]
        if precision and precision[0] is not None:
            out['pos_precision_first'] = 100 * precision[0]
            out['pos_precision_last'] = 100 * precision[-1]
    interclr = osp.join(run_dir, 'interclr_clusters.json')
    if osp.isfile(interclr):
        with open(interclr) as f:
            records = json.load(f)
        for r in records:  # the initial clustering, then every epoch
            if r['tag'] not in ('init', 'epoch'):
                continue
            if 'nmi' in r:
                out[f"pseudo_nmi_e{r['epoch']}"] = 100 * r['nmi']
            if 'change_ratio' in r:
                out[f"change_ratio_e{r['epoch']}"] = 100 * r['change_ratio']
    clusters = osp.join(run_dir, 'feature_clusters.json')
    if osp.isfile(clusters):
        with open(clusters) as f:
            result = json.load(f)
        for key, value in result.items():
            if key.startswith('nmi_k') and not key.endswith('_per_seed'):
                out[f'feature_{key}'] = 100 * value
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    seed_table.add_arguments(parser)
    args = parser.parse_args(argv)
    runs = seed_table.seed_runs(args.root, args.methods, args.seeds, read_run)
    table, columns = seed_table.summarize(runs)
    seed_table.print_table(table, columns)


if __name__ == '__main__':
    main()
