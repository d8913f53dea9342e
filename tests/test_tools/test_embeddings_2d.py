import json

import numpy as np
import pytest

from tests.conftest import QUICKSTART, ROOT, png_size
from tests.test_tools.test_train_args import load_tool

MIXUP = f'{ROOT}/configs/alignmixup/mixup_preactresnet18-w16_1xb128-3e_' \
    'fashionmnist.py'


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis/embeddings_2d.py')


def _summary(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_pca_of_the_knn_queries(tool, fashion_root, tmp_path, capsys):
    out = tmp_path / 'pca.png'
    tool.main([
        QUICKSTART, '--out', str(out), '--max-points', '30', '--cfg-options',
        f'custom_hooks.0.query_dataloader.dataset.data_root={fashion_root}',
        'custom_hooks.0.query_dataloader.num_workers=0',
        'custom_hooks.0.query_dataloader.persistent_workers=False'
    ])
    result = _summary(capsys)
    width, height = png_size(out)
    assert width > 500 and height > 400
    assert result['num_points'] == 30  # random subset of the 40 queries
    assert result['num_classes'] == 4 and result['method'] == 'pca'
    for key in ('knn5_acc_2d', 'knn5_acc_full'):
        assert isinstance(result[key], float) and 0 <= result[key] <= 100


def test_tsne_of_the_test_split(tool, fashion_root, tmp_path, capsys):
    out = tmp_path / 'tsne.png'
    tool.main([
        MIXUP, '--out', str(out), '--method', 'tsne', '--cfg-options',
        f'test_dataloader.dataset.data_root={fashion_root}',
        'test_dataloader.num_workers=0'
    ])
    result = _summary(capsys)
    assert png_size(out)[0] > 500
    assert result['num_points'] == 40 and result['split'] == 'test'
    # bars of one class per column: separable even at random init
    assert result['knn5_acc_full'] > 50


def test_knn_accuracy(tool):
    x = np.array([[0, 0], [0, 1], [1, 0], [10, 10], [10, 11], [11, 10]],
                 np.float32)
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert tool.knn_accuracy(x, labels, k=2) == 100.0
