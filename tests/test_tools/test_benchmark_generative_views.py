import json

import torch

from tests.test_tools.test_train_args import load_tool

KEYS = {
    'lma_images_per_s', 'pipeline_sample_ms', 'num_workers_needed',
    'step_ms', 'data_wait_ms', 'compute_ms', 'step_slowdown',
    'cached_view_ms', 'cached_view_cold_ms', 'cache_open_ms',
    'cold_pages_evicted', 'cache_shape', 'targets', 'target_met',
    'generator_params', 'batched_replaced_fraction'
}


def test_generative_views_benchmark_prints_the_issue_keys(capsys):
    bench = load_tool('benchmarks/generative_views.py')
    threads = torch.get_num_threads()
    bench.main(['--quick', '--batch', '8', '--rounds', '1', '--iters', '1',
                '--single', '3', '--sampler-reps', '1', '--cache-reads',
                '20', '--cache-samples', '500', '--num-samples', '500'])
    out = capsys.readouterr().out.strip().splitlines()
    rec = json.loads(out[-1])
    assert torch.get_num_threads() == threads
    assert KEYS <= set(rec)
    assert set(rec['lma_images_per_s']) == {
        'pipeline_per_worker', 'sampler_batch', 'preprocessor_batch'}
    assert set(rec['step_slowdown']) == {'pipeline', 'batched'}
    assert set(rec['step_ms']) == {'base', 'pipeline', 'batched'}
    assert set(rec['target_met']) == {'step_slowdown', 'cached_view'}
    assert all(isinstance(v, bool) for v in rec['target_met'].values())
    assert rec['cache_shape'] == [2, 500, 28, 28]
    assert rec['batch'] == 8 and rec['alpha'] == 0.3
    assert rec['num_workers'] == 1  # the LMA config's
    assert rec['quick'] is True
    # human-readable lines come first
    assert any(line.startswith('step slowdown') for line in out[:-1])


def test_run_all_lists_it():
    tool = load_tool('benchmarks/run_all.py')
    assert tool.QUICK_ARGS['generative_views'] == ['--quick']
