import hashlib
import json
import pickle

import numpy as np
import pytest
import torch

from mmmix.datasets import FashionMNIST, FeatureBank


def _feats(n=12, d=5, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)) * 3


@pytest.mark.parametrize('dtype,tol', [('float32', 1e-6), ('float16', 1e-3)])
def test_save_load_unit_rows(tmp_path, dtype, tol):
    x = _feats()
    meta = FeatureBank.save(str(tmp_path), x, meta=dict(note='n'),
                            dtype=dtype, preprocessing='resize 32')
    assert meta['num_samples'] == 12 and meta['dim'] == 5
    assert meta['dtype'] == dtype and meta['has_flip'] is False
    with open(tmp_path / 'meta.json') as f:
        assert json.load(f) == meta
    assert np.load(tmp_path / 'feats.npy').dtype == np.dtype(dtype)
    bank = FeatureBank.load(str(tmp_path))
    assert len(bank) == 12 and bank.dim == 5 and bank.flip is None
    assert isinstance(bank.array, np.memmap)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    row = bank[3]
    assert row.dtype == torch.float32 and row.shape == (5, )
    np.testing.assert_allclose(row.numpy(), unit[3], atol=tol)
    rows = bank[torch.tensor([4, 0, 4])]
    assert rows.shape == (3, 5)
    np.testing.assert_allclose(rows.numpy(), unit[[4, 0, 4]], atol=tol)
    np.testing.assert_allclose(bank[np.array([[1], [2]])].numpy(),
                               unit[[[1], [2]]], atol=tol)
    # re-normalised on access: unit norm even after fp16 rounding
    norms = bank.to_tensor().norm(dim=1)
    assert torch.allclose(norms, torch.ones(12), atol=1e-6)
    assert bank.meta['note'] == 'n'
    assert bank.meta['preprocessing'] == 'resize 32'
    # not memory-mapped on request
    assert not isinstance(FeatureBank.load(str(tmp_path), mmap=False).array,
                          np.memmap)


def test_flip_bank_checkpoint_hash_and_pickle(tmp_path):
    ckpt = tmp_path / 'enc.pth'
    ckpt.write_bytes(b'weights')
    x, xf = _feats(), _feats(seed=1)
    FeatureBank.save(str(tmp_path / 'b'), torch.from_numpy(x),
                     feats_flip=xf, checkpoint=str(ckpt))
    bank = FeatureBank.load(str(tmp_path / 'b'))
    assert bank.meta['checkpoint_sha256'] == hashlib.sha256(
        b'weights').hexdigest()
    assert bank.flip is not None and bank.flip.dim == 5
    assert not torch.allclose(bank.flip[0], bank[0])
    np.testing.assert_allclose(bank.flip[2].numpy(),
                               xf[2] / np.linalg.norm(xf[2]), atol=1e-6)
    copy = pickle.loads(pickle.dumps(bank))  # re-opens the memmap
    assert isinstance(copy.array, np.memmap)
    assert torch.equal(copy[7], bank[7])
    # saving again without a flip bank removes the stale file
    FeatureBank.save(str(tmp_path / 'b'), x)
    assert FeatureBank.load(str(tmp_path / 'b')).flip is None


def test_out_of_range_and_bad_input(tmp_path):
    FeatureBank.save(str(tmp_path), _feats())
    bank = FeatureBank.load(str(tmp_path))
    with pytest.raises(IndexError, match=r'12 is out of range \[0, 12\)'):
        bank[12]
    with pytest.raises(IndexError, match=r'-1 is out of range \[0, 12\)'):
        bank[torch.tensor([0, -1])]
    with pytest.raises(TypeError, match='integers'):
        bank[np.array([0.5])]
    with pytest.raises(ValueError, match='dtype'):
        FeatureBank.save(str(tmp_path / 'x'), _feats(), dtype='int8')
    with pytest.raises(ValueError, match='all-zero rows'):
        FeatureBank.save(str(tmp_path / 'x'), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r'\(N, d\)'):
        FeatureBank.save(str(tmp_path / 'x'), np.ones(3))
    with pytest.raises(ValueError, match='feats_flip'):
        FeatureBank.save(str(tmp_path / 'x'), _feats(), feats_flip=_feats(4))
    with pytest.raises(FileNotFoundError, match='meta.json'):
        FeatureBank.load(str(tmp_path / 'nothing'))
    # arrays that disagree with meta.json are refused
    np.save(tmp_path / 'feats.npy', np.ones((3, 5), np.float32))
    with pytest.raises(ValueError, match=r'\(num_samples, dim\)'):
        FeatureBank.load(str(tmp_path))


def test_refuses_another_dataset(fashion_root, tmp_path):
    ds = FashionMNIST(data_root=fashion_root, pipeline=[])
    FeatureBank.save(str(tmp_path), _feats(n=120), dataset=ds)
    bank = FeatureBank.load(str(tmp_path), dataset=ds)
    assert bank.meta['fingerprint']['num_samples'] == 120
    subset = FashionMNIST(data_root=fashion_root, pipeline=[],
                          indices=list(range(20, 140 - 20)))
    with pytest.raises(ValueError, match='num_samples: stored 120 vs '
                       'current 100'):
        FeatureBank.load(str(tmp_path), dataset=subset)
    reordered = FashionMNIST(data_root=fashion_root, pipeline=[],
                             indices=list(range(119, -1, -1)))
    with pytest.raises(ValueError, match='checksum of item 0'):
        FeatureBank.load(str(tmp_path), dataset=reordered)
    with pytest.raises(ValueError, match='the dataset has 120 samples'):
        FeatureBank.save(str(tmp_path / 'y'), _feats(n=7), dataset=ds)
