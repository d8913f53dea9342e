import json

from tests.test_tools.test_train_args import load_tool


def test_sinkhorn_benchmark_runs_and_agrees_with_pot(capsys):
    bench = load_tool('benchmarks/sinkhorn.py')
    bench.main(['--batch', '3', '--positions', '4', '--channels', '5',
                '--iters', '300', '--repeats', '1'])
    rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rec['positions'] == 4 and rec['pot_loop_over_mmmix'] > 0
    assert rec['max_abs_diff'] < 1e-5
