import json
import os.path as osp

import pytest

from tests.conftest import ROOT, png_size
from tests.test_tools.test_train_args import load_tool

AE = 'configs/alignmixup/alignmixup-ae_preactresnet18-w16_1xb128-3e_' \
    'fashionmnist.py'
MULTIMIX = 'configs/multimix/multimix_preactresnet18-w16_1xb128-3e_' \
    'fashionmnist.py'
METRIX = 'configs/metrix/ms_preactresnet18-w16_1xb100-2e_fashionmnist-' \
    'zeroshot.py'


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis/mixing_grid.py')


def run(tool, config, fashion_root, out, capsys, *extra):
    tool.main([osp.join(ROOT, config), '--out', str(out), '--num', '4',
               *extra, '--cfg-options',
               f'train_dataloader.dataset.data_root={fashion_root}'])
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_alignmixup_ae_grid(tool, fashion_root, tmp_path, capsys):
    out = tmp_path / 'grid.png'
    result = run(tool, AE, fashion_root, out, capsys, '--seed', '1')
    width, height = png_size(out)
    assert width > 400 and height > 600  # 4 columns, 7 rows
    assert result['model'] == 'MixupClassifier' and result['num'] == 4
    assert result['rows'] == [
        'inputs', 'partners', 'input: Mixup',
        "feature: AlignMix OT plan R (x rows, x' cols)",
        'feature: AlignMix -> decoder', 'embedding: Mixup -> decoder',
        'recon: decoder(x)'
    ]
    assert len(result['lam']) == 4
    assert all(0 <= v <= 1 for v in result['lam'])
    assert sorted(result['partner_labels']) == sorted(result['labels'])


def test_multimix_grid_and_refusal(tool, fashion_root, tmp_path, capsys):
    out = tmp_path / 'multimix.png'
    result = run(tool, MULTIMIX, fashion_root, out, capsys)
    assert png_size(out)[0] > 400
    assert result['rows'][-1] == 'logits: MultiMix weights over the inputs'
    with pytest.raises(ValueError, match='MetricRetriever'):
        run(tool, METRIX, fashion_root, tmp_path / 'no.png', capsys)
