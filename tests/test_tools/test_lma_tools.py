import hashlib
import json

import numpy as np
import pytest
import torch

from mmmix.datasets import FashionMNIST, FeatureBank
from mmmix.engine import build_model_from_cfg
from tests.conftest import make_fashion_like, tiny_quickstart_cfg
from tests.test_tools.test_train_args import load_tool


@pytest.fixture(scope='module')
def extracted(fashion_root, tmp_path_factory):
    """The tool run once on the tiny quickstart model (two outputs)."""
    tmp = tmp_path_factory.mktemp('lma_tools')
    cfg = tiny_quickstart_cfg(fashion_root, tmp / 'work')
    cfg_path = str(tmp / 'cfg.py')
    cfg.dump(cfg_path)
    torch.manual_seed(1)
    model = build_model_from_cfg(cfg)
    ckpt = str(tmp / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    tool = load_tool('lma/extract_features.py')
    outs = []
    for run in range(2):
        out = str(tmp / f'bank{run}')
        args = [cfg_path, ckpt, '--out', out, '--num-workers', '0',
                '--batch-size', '32', '--no-progress']
        if run == 0:
            args += ['--flip', '--save-images', str(tmp / 'raw.npy')]
        torch.manual_seed(100 + run)  # the tool's own init must not matter
        tool.main(args)
        outs.append(out)
    return dict(model=model, ckpt=ckpt, banks=outs, raw=str(tmp / 'raw.npy'),
                cfg=cfg_path)


def test_bank_rows_are_the_backbone_features(extracted, fashion_root):
    (xtr, _), _ = make_fashion_like()
    ds = FashionMNIST(data_root=fashion_root, pipeline=[])
    bank = FeatureBank.load(extracted['banks'][0], dataset=ds)
    assert len(bank) == 120 and bank.dim == 32  # 8 * width 4
    assert bank.meta['dtype'] == 'float16'
    with open(extracted['ckpt'], 'rb') as f:
        assert bank.meta['checkpoint_sha256'] == hashlib.sha256(
            f.read()).hexdigest()
    assert bank.meta['preprocessing']['mean'] == pytest.approx([72.94])
    # unit rows (fp16 storage)
    assert np.abs(np.linalg.norm(bank.array.astype(np.float32), axis=1) -
                  1).max() < 1e-3
    # independent oracle: normalise the raw image, run the saved backbone
    model = extracted['model'].eval()
    rows = [0, 57, 119]
    x = torch.from_numpy(xtr[rows]).float()[:, None]
    x = (x - 72.94) / 90.02
    with torch.no_grad():
        f = model.backbone(x)[-1].mean(dim=(2, 3))
        ff = model.backbone(x.flip(-1))[-1].mean(dim=(2, 3))
    f = torch.nn.functional.normalize(f, dim=1)
    ff = torch.nn.functional.normalize(ff, dim=1)
    assert torch.allclose(bank[rows], f, atol=2e-3)
    assert torch.allclose(bank.flip[rows], ff, atol=2e-3)
    assert not torch.allclose(bank.flip[rows], bank[rows], atol=1e-2)
    # deterministic across runs (the second run had no --flip)
    other = FeatureBank.load(extracted['banks'][1])
    assert np.array_equal(np.asarray(other.array), np.asarray(bank.array))
    assert other.flip is None
    np.testing.assert_array_equal(np.load(extracted['raw']), xtr)


def test_wrong_prefix_is_refused(extracted, tmp_path):
    tool = load_tool('lma/extract_features.py')
    with pytest.raises(KeyError, match="prefix='encoder.'"):
        tool.main([extracted['cfg'], extracted['ckpt'], '--out',
                   str(tmp_path / 'b'), '--prefix', 'encoder.',
                   '--num-workers', '0', '--no-progress'])


def _brute_knn(x, k):
    d = ((x[:, None] - x[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1, kind='stable')[:, :k], d


def test_build_knn_matches_brute_force(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    FeatureBank.save(str(tmp_path / 'bank'), x)
    tool = load_tool('lma/build_knn.py')
    out, radii = str(tmp_path / 'knn.npy'), str(tmp_path / 'r.npy')
    tool.main([str(tmp_path / 'bank'), '--k', '20', '--out', out,
               '--radii', radii, '--cpu'])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary['k'] == 20 and summary['num_samples'] == 300
    knn = np.load(out)
    assert knn.shape == (300, 20) and knn.dtype == np.int64
    expect, d = _brute_knn(x.astype(np.float32).astype(np.float64), 20)
    assert (knn != np.arange(300)[:, None]).all()
    np.testing.assert_array_equal(knn, expect)
    np.testing.assert_allclose(np.load(radii),
                               np.sqrt(d[np.arange(300), expect[:, -1]]),
                               atol=1e-4)


def test_build_knn_duplicates_and_k_range(tmp_path):
    tool = load_tool('lma/build_knn.py')
    x = np.random.default_rng(1).normal(size=(6, 4))
    x = np.concatenate([x, x, x])  # every image three times
    idx, _ = tool.build_knn(torch.from_numpy(x).float(), 5, use_gpu=False)
    assert idx.shape == (18, 5)
    assert (idx != np.arange(18)[:, None]).all()
    # the two copies of an image are its nearest neighbours
    for i in range(18):
        assert set(idx[i, :2]) == {j for j in (i % 6, i % 6 + 6, i % 6 + 12)
                                   if j != i}
    with pytest.raises(ValueError, match=r'k must be in \[1, N - 1\] = '
                       r'\[1, 17\].*k=18'):
        tool.build_knn(torch.from_numpy(x).float(), 18)
