import json

import pytest

from tests.test_tools.test_train_args import load_tool


def _run(root, name, top1, precision=None):
    d = root / name
    d.mkdir()
    (d / 'knn_summary.json').write_text(json.dumps(
        dict(trained=dict(epoch=3, iter=9, top1_k20=top1, top5_k20=99.))))
    if precision is not None:
        (d / 'clim_selection.json').write_text(json.dumps(
            [dict(epoch=e, label_precision=p)
             for e, p in enumerate(precision)]))


def test_mean_std_over_seeds(tmp_path, capsys):
    _run(tmp_path, 'moco_seed0', 80.)
    _run(tmp_path, 'moco_seed1', 82.)
    _run(tmp_path, 'clim_seed0', 83., [0.5, 0.6])
    _run(tmp_path, 'clim_seed1', 85., [0.7, 0.8])
    tool = load_tool('analysis/pretrain_table.py')
    tool.main([str(tmp_path), '--methods', 'moco', 'clim', '--seeds', '0',
               '1'])
    out = capsys.readouterr().out.strip().splitlines()
    rec = json.loads(out[-1])
    assert rec['moco']['top1_k20'] == dict(mean=81., std=2 ** .5, n=2)
    assert rec['moco']['pos_precision_last'] is None
    assert rec['clim']['pos_precision_first']['mean'] == pytest.approx(60.)
    assert rec['clim']['pos_precision_last']['mean'] == pytest.approx(70.)
    assert out[2].startswith('| moco | 2 | 81.00 ± 1.41 |')
    with pytest.raises(FileNotFoundError, match='byol'):
        tool.main([str(tmp_path), '--methods', 'byol'])
