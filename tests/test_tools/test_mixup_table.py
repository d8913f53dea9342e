import json

import pytest

from tests.test_tools.test_train_args import load_tool


def write_run(root, name, top1, ece, fgsm=None):
    run = root / name
    (run / 'test' / '20260101_000000').mkdir(parents=True)
    (run / 'test' / '20260101_000000' / '20260101_000000.json').write_text(
        json.dumps({'accuracy/top1': top1, 'calibration/ece': ece,
                    'calibration/oe': ece / 2}))
    if fgsm is not None:
        (run / 'adversarial.json').write_text(
            json.dumps({'fgsm_error': fgsm, 'pgd_error': fgsm / 2}))


def test_table_means_and_sample_stds(tmp_path, capsys):
    write_run(tmp_path, 'a_seed0', 90.0, 2.0, fgsm=40.0)
    write_run(tmp_path, 'a_seed1', 92.0, 4.0, fgsm=44.0)
    write_run(tmp_path, 'b_seed0', 80.0, 1.0)
    ood = tmp_path / 'b_seed0' / 'ood' / '20260101_000000'
    ood.mkdir(parents=True)
    (ood / '20260101_000000.json').write_text(json.dumps({'ood/auroc': 77.}))
    tool = load_tool('analysis/mixup_table.py')
    tool.main([str(tmp_path), '--methods', 'a', 'b', '--seeds', '0', '1'])
    out = capsys.readouterr().out.strip().splitlines()
    table = json.loads(out[-1])
    assert table['a']['top1_error'] == dict(mean=9.0, std=pytest.approx(
        2 ** 0.5), n=2)
    assert table['a']['fgsm_error']['mean'] == 42.0
    assert table['b']['top1_error'] == dict(mean=20.0, std=0.0, n=1)
    assert table['b']['fgsm_error'] is None
    assert table['b']['ood_auroc']['mean'] == 77.0
    assert table['a']['ood_auroc'] is None
    assert '| a | 2 | 9.00 ± 1.41 |' in '\n'.join(out)
    with pytest.raises(FileNotFoundError, match='no runs of c'):
        tool.main([str(tmp_path), '--methods', 'c'])
