import json

from tests.test_tools.test_train_args import load_tool


def last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_sinkhorn_benchmark_prints_the_issue_format(capsys):
    bench = load_tool('benchmarks/sinkhorn.py')
    bench.main(['--sizes', '3,5,4', '2,3,6', '--iters', '50',
                '--repeats', '1'])
    rec = last_json(capsys)
    assert [(s['b'], s['c'], s['r']) for s in rec['sizes']] == [
        (3, 5, 4), (2, 3, 6)]
    for s in rec['sizes']:
        assert {'ours_ms', 'pot_ms', 'broadcast_ms', 'ours_marginal_err',
                'pot_marginal_err'} <= set(s)
        assert s['ours_ms'] > 0 and s['pot_ms'] > 0
        assert s['ours_marginal_err'] >= 0


def test_mixup_step_benchmark_prints_ratios(capsys):
    bench = load_tool('benchmarks/mixup_step.py')
    bench.main(['--batch', '4', '--size', '16', '--classes', '3',
                '--steps', '1', '--warmup', '0'])
    rec = last_json(capsys)
    assert rec['alignmixup_over_input'] > 0
    assert rec['alignmixup_over_none'] > 0
    for key in ('multimix_over_none', 'dense_multimix_over_none',
                'multimix_peak_mem_over_none', 'dense_peak_mem_over_none'):
        assert rec[key] > 0
    ratio = rec['alignmixup_ms'] / rec['none_ms']
    assert abs(rec['alignmixup_over_none'] - ratio) < 0.01 * ratio


def test_metrix_benchmark_reports_equal_losses_and_ratios(capsys):
    bench = load_tool('benchmarks/metrix.py')
    bench.main(['--classes', '4', '--per-class', '3', '--channels', '8',
                '--size', '3', '--dim', '6', '--steps', '1'])
    rec = last_json(capsys)
    # 12 images, 3 per class: 12 * 2 positives * 9 negatives triplets,
    # 12 * 9 distinct ordered pairs
    assert rec['mixed_reference'] == 216 and rec['mixed_ours'] == 108
    assert abs(rec['loss_ours'] - rec['loss_reference']) < 1e-5
    for key in ('speedup', 'memory_ratio', 'embed_over_baseline'):
        assert rec[key] > 0
    assert rec['memory_ratio'] < 1
    ratio = rec['ms_reference'] / rec['ms_ours']
    assert abs(rec['speedup'] - ratio) < 0.01 * ratio


def test_metrix_benchmark_without_the_reference(capsys):
    bench = load_tool('benchmarks/metrix.py')
    bench.main(['--classes', '3', '--per-class', '2', '--channels', '4',
                '--size', '2', '--dim', '3', '--steps', '1',
                '--no-reference'])
    rec = last_json(capsys)
    assert rec['speedup'] is None and rec['loss_reference'] is None
    assert rec['embed_over_baseline'] > 0 and rec['ms_ours'] > 0


def test_clim_benchmark_prints_the_issue_keys(capsys):
    bench = load_tool('benchmarks/clim.py')
    bench.main(['--num', '600', '--clusters', '6', '--k', '10',
                '--arch', 'resnet18', '--size', '32', '--batch', '2',
                '--queue', '8', '--steps', '1', '--warmup', '0',
                '--device', 'cpu'])
    rec = last_json(capsys)
    for key in ('selection_s', 'sklearn_s', 'step_over_moco',
                'step_over_moco_single_res'):
        assert rec[key] > 0, key
    ratio = rec['clim_ms'] / rec['moco_multires_ms']
    assert abs(rec['step_over_moco'] - ratio) < 1e-6 * ratio
    assert rec['sizes'] == [32, 23]


def test_interclr_benchmark_prints_the_issue_keys(capsys):
    bench = load_tool('benchmarks/interclr.py')
    bench.main(['--num', '2000', '--no-big', '--K', '64', '--arch',
                'resnet18', '--size', '32', '--batch', '4', '--queue', '8',
                '--step-num', '2000', '--steps', '1', '--warmup', '0',
                '--device', 'cpu'])
    out = capsys.readouterr().out.strip().splitlines()
    rec = json.loads(out[-1])
    for key in ('inter_step_ms', 'step_over_moco', 'bank_mib', 'table_ms',
                'sample_ms', 'loss_backward_ms', 'update_reassign_ms',
                'repair_ms', 'centroid_update_ms', 'moco_ms',
                'interclr_ms', 'bank_mib_1.28m'):
        assert rec[key] > 0, key
    parts = sum(rec[f'{p}_ms'] for p in ('table', 'sample', 'loss_backward',
                                         'update_reassign', 'repair'))
    total = parts + rec['centroid_update_ms'] / 10
    assert abs(rec['inter_step_ms'] - total) < 1e-6 * total
    # 2000 x 128 float32 rows, 2000 int64 labels, 16 x 128 centroids and
    # the four int64 arrays of the cluster table
    assert rec['clusters'] == 16 and rec['pool'] == 200
    expected = (2000 * 128 * 4 + 2000 * 8 + 16 * 128 * 4 + 4 * 2000 * 8)
    assert abs(rec['bank_mib'] - expected / 2**20) < 1e-9
    assert rec['big_skipped'] == '--no-big'
    ratio = rec['interclr_ms'] / rec['moco_ms']
    assert abs(rec['step_over_moco'] - ratio) < 1e-6 * ratio
