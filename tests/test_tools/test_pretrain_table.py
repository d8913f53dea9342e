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


def test_interclr_clusters_and_feature_nmi(tmp_path, capsys):
    for seed, (nmi, change) in enumerate([(0.3, 0.9), (0.5, 0.7)]):
        _run(tmp_path, f'interclr_seed{seed}', 80.)
        d = tmp_path / f'interclr_seed{seed}'
        (d / 'interclr_clusters.json').write_text(json.dumps([
            dict(tag='init', epoch=0, nmi=0.4),
            dict(tag='epoch', epoch=1, nmi=0.1, change_ratio=1.0),
            dict(tag='epoch', epoch=2, nmi=nmi, change_ratio=change)]))
        (d / 'feature_clusters.json').write_text(json.dumps(
            dict(nmi_k10=0.5 + seed / 10, nmi_k10_per_seed=[0.5])))
    tool = load_tool('analysis/pretrain_table.py')
    tool.main([str(tmp_path), '--methods', 'interclr', '--seeds', '0', '1'])
    rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    row = rec['interclr']
    assert row['pseudo_nmi_e0']['mean'] == pytest.approx(40.)
    assert row['pseudo_nmi_e1']['mean'] == pytest.approx(10.)
    assert row['pseudo_nmi_e2']['mean'] == pytest.approx(40.)
    assert row['change_ratio_e1']['mean'] == pytest.approx(100.)
    assert row['change_ratio_e2']['mean'] == pytest.approx(80.)
    assert 'change_ratio_e0' not in row
    assert row['feature_nmi_k10']['mean'] == pytest.approx(55.)
    assert 'feature_nmi_k10_per_seed' not in row


def test_student_sub_run(tmp_path, capsys):
    for seed, top1 in enumerate([64., 66.]):
        _run(tmp_path, f'dino_seed{seed}', 63.)
        (tmp_path / f'dino_seed{seed}' / 'student').mkdir()
        (tmp_path / f'dino_seed{seed}' / 'student' /
         'knn_summary.json').write_text(json.dumps(
             dict(init=dict(epoch=0, top1_k20=top1, top5_k20=95.))))
    tool = load_tool('analysis/pretrain_table.py')
    tool.main([str(tmp_path), '--methods', 'dino', '--seeds', '0', '1'])
    rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rec['dino']['top1_k20']['mean'] == pytest.approx(63.)
    assert rec['dino']['student_top1_k20']['mean'] == pytest.approx(65.)
