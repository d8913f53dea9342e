import json

import pytest

from tests.test_tools.test_train_args import load_tool


def write_run(root, name, r1, map_r):
    run = root / name / '20260101_000000'
    (run / 'vis_data').mkdir(parents=True)
    records = [{'loss': 1.0, 'step': 1},
               {'retrieval/R@1': r1 - 5, 'retrieval/MAP@R': 1.0, 'step': 1},
               {'retrieval/R@1': r1, 'retrieval/MAP@R': map_r, 'step': 2}]
    (run / 'vis_data' / 'scalars.json').write_text(
        '\n'.join(json.dumps(r) for r in records))
    (run / '20260101_000000.log').write_text(
        '2026/01/01 10:00:00 - mmengine - INFO - start\n'
        'a line without a stamp\n'
        '2026/01/01 10:03:30 - mmengine - INFO - end\n')


def test_last_validation_record_mean_and_sample_std(tmp_path, capsys):
    write_run(tmp_path, 'a_seed0', 90.0, 30.0)
    write_run(tmp_path, 'a_seed1', 92.0, 34.0)
    tool = load_tool('analysis/retrieval_table.py')
    tool.main([str(tmp_path), '--methods', 'a', '--seeds', '0', '1'])
    out = capsys.readouterr().out.strip().splitlines()
    table = json.loads(out[-1])
    assert table['a']['R@1'] == dict(mean=91.0, std=pytest.approx(2 ** 0.5),
                                     n=2)
    assert table['a']['MAP@R']['mean'] == 32.0
    assert table['a']['minutes']['mean'] == 3.5
    assert out[0].startswith('| method | R@1 | MAP@R | minutes |')
    with pytest.raises(FileNotFoundError, match='no vis_data'):
        tool.main([str(tmp_path), '--methods', 'b', '--seeds', '0'])
