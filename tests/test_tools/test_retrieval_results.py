import json

import pytest

from tests.conftest import ROOT, png_size, write_fashion_mnist
from tests.test_tools.test_train_args import load_tool

METRIX = f'{ROOT}/configs/metrix/ms-metrix_preactresnet18-w16_1xb100-2e_' \
    'fashionmnist-zeroshot.py'


@pytest.fixture(scope='module')
def fashion10(tmp_path_factory):
    """Fake Fashion-MNIST with all 10 classes (the zero-shot test split
    keeps classes 5-9: 25 images)."""
    root = str(tmp_path_factory.mktemp('fashion10'))
    write_fashion_mnist(root, num_train=20, num_test=50, num_classes=10)
    return root


def test_retrieval_grid_of_the_zero_shot_split(fashion10, tmp_path,
                                               capsys):
    tool = load_tool('analysis/retrieval_results.py')
    out = tmp_path / 'retrieval.png'
    tool.main([
        METRIX, '--out', str(out), '--queries', '3', '--topk', '4',
        '--cfg-options', f'test_dataloader.dataset.data_root={fashion10}',
        'test_dataloader.num_workers=0'
    ])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    width, height = png_size(out)
    assert width > 500 and height > 400  # 3 rows of 1 + 4 images
    assert result['num_gallery'] == 25 and result['topk'] == 4
    assert len(result['queries']) == 3
    for q in result['queries']:
        assert q['index'] not in q['retrieved']  # self excluded
        assert len(set(q['retrieved'])) == 4
        assert 0 <= q['label'] <= 4  # unseen classes 5-9, remapped
        hits = sum(v == q['label'] for v in q['retrieved_labels'])
        assert q['precision_at_k'] == hits / 4
    mean = sum(q['precision_at_k'] for q in result['queries']) / 3
    assert result['mean_precision_at_k'] == pytest.approx(mean)
    with pytest.raises(ValueError, match='exceeds the 24 other'):
        tool.main([
            METRIX, '--out', str(out), '--topk', '25', '--cfg-options',
            f'test_dataloader.dataset.data_root={fashion10}',
            'test_dataloader.num_workers=0'
        ])
