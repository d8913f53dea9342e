"""KNNInstanceDataset: (x_n, h_i) with n drawn uniformly from kNN(i) (never
i; chi-square), cond = the bank row of i (or of the flipped image), the
instance itself in val mode; bad neighbour tables, a missing flip bank and
a bank of another dataset raise; the batch reaches the GAN preprocessor
with the bank rows as ``cond``."""
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate
from scipy import stats

from mmmix.datasets import (
    FashionMNIST,
    FeatureBank,
    KNNInstanceDataset,
    load_knn_graph,
)
from mmmix.models.generators import GANDataPreprocessor
from mmmix.utils import register_all_modules

register_all_modules(init_default_scope=False)

N, K, DIM = 20, 4, 6


def _dataset_cfg(root, split='train', n=N):
    # serialize_data=False: serialising runs gc.collect (slow in a session)
    return dict(type='mmmix.FashionMNIST', data_root=root, split=split,
                indices=n, pipeline=[dict(type='PackInputs')],
                serialize_data=False)


def _dataset(root, split='train', n=N):
    cfg = _dataset_cfg(root, split, n)
    cfg.pop('type')
    return FashionMNIST(**cfg)


def _knn(n=N, k=K, seed=0):
    """Random neighbours, self excluded, distinct per row."""
    rng = np.random.default_rng(seed)
    return np.stack([
        rng.choice(np.delete(np.arange(n), i), k, replace=False)
        for i in range(n)
    ])


@pytest.fixture(scope='module')
def data(fashion_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('knn_instance')
    ds = _dataset(fashion_root)
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(N, DIM))
    feats_flip = rng.normal(size=(N, DIM))
    FeatureBank.save(str(tmp / 'bank'), feats, dataset=ds)
    FeatureBank.save(str(tmp / 'bank_flip'), feats, feats_flip=feats_flip,
                     dataset=ds)
    knn = _knn()
    np.save(tmp / 'knn.npy', knn)
    def unit(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    return dict(root=fashion_root, ds=ds, bank=str(tmp / 'bank'),
                bank_flip=str(tmp / 'bank_flip'), knn=knn,
                knn_path=str(tmp / 'knn.npy'), feats=unit(feats),
                feats_flip=unit(feats_flip), tmp=tmp)


def test_train_items_are_neighbours_with_the_instance_feature(data):
    ds = KNNInstanceDataset(_dataset_cfg(data['root']), data['bank'],
                            data['knn_path'])
    assert len(ds) == N and ds.cond_dim == DIM
    torch.manual_seed(0)
    for i in range(N):
        for _ in range(5):
            out = ds[i]
            s = out['data_samples']
            n = s.neighbour_idx
            assert n in data['knn'][i] and n != i
            assert s.cond_idx == i
            assert torch.equal(out['inputs'], data['ds'][n]['inputs'])
            np.testing.assert_allclose(s.cond.numpy(), data['feats'][i],
                                       rtol=1e-6, atol=1e-6)
    with pytest.raises(IndexError, match=r'index 20 out of range \[0, 20\)'):
        ds[N]


def test_neighbour_draw_is_uniform(data):
    ds = KNNInstanceDataset(data['ds'], data['bank'], data['knn_path'])
    torch.manual_seed(1)
    draws = 600
    for i in (0, 7):
        picks = [ds[i]['data_samples'].neighbour_idx for _ in range(draws)]
        assert set(picks) == set(data['knn'][i].tolist())
        counts = np.array([picks.count(int(n)) for n in data['knn'][i]])
        p = stats.chisquare(counts).pvalue
        assert p > 1e-3, (counts, p)
    # a biased sampler (always the first neighbour half the time) fails
    biased = np.array([draws // 2 + draws // (2 * K)] +
                      [draws // (2 * K)] * (K - 1))
    assert stats.chisquare(biased).pvalue < 1e-3


def test_flip_bank(data):
    ds = KNNInstanceDataset(data['ds'], data['bank_flip'], data['knn_path'],
                            flip_prob=1.0)
    for i in (0, 5, N - 1):
        np.testing.assert_allclose(ds[i]['data_samples'].cond.numpy(),
                                   data['feats_flip'][i], atol=1e-6)
    ds = KNNInstanceDataset(data['ds'], data['bank_flip'], data['knn_path'],
                            flip_prob=0.5)
    torch.manual_seed(0)
    flipped = 0
    for _ in range(200):
        cond = ds[3]['data_samples'].cond.numpy()
        is_flip = np.allclose(cond, data['feats_flip'][3], atol=1e-6)
        assert is_flip or np.allclose(cond, data['feats'][3], atol=1e-6)
        flipped += is_flip
    assert 60 < flipped < 140  # Binomial(200, 0.5)
    with pytest.raises(ValueError, match='flip_prob=0.5 needs a bank'):
        KNNInstanceDataset(data['ds'], data['bank'], data['knn_path'],
                           flip_prob=0.5)
    with pytest.raises(ValueError, match=r'flip_prob must be in \[0, 1\]'):
        KNNInstanceDataset(data['ds'], data['bank_flip'], data['knn_path'],
                           flip_prob=1.5)


def test_val_mode_returns_the_instance(data):
    ds = KNNInstanceDataset(data['ds'], data['bank'], mode='val',
                            max_samples=8)
    assert len(ds) == 8
    for i in range(8):
        out = ds[i]
        assert torch.equal(out['inputs'], data['ds'][i]['inputs'])
        assert out['data_samples'].neighbour_idx == i
        np.testing.assert_allclose(out['data_samples'].cond.numpy(),
                                   data['feats'][i], atol=1e-6)
    with pytest.raises(IndexError):
        ds[8]


def test_bad_arguments(data):
    with pytest.raises(ValueError, match='mode must be one of'):
        KNNInstanceDataset(data['ds'], data['bank'], data['knn_path'],
                           mode='test')
    with pytest.raises(ValueError, match='needs the kNN graph'):
        KNNInstanceDataset(data['ds'], data['bank'])
    with pytest.raises(ValueError, match=r'max_samples must be in \[1, 20\]'):
        KNNInstanceDataset(data['ds'], data['bank'], data['knn_path'],
                           max_samples=21)


def test_bad_knn_tables(data):
    knn = data['knn'].copy()
    knn[3, 1] = 3  # itself
    with pytest.raises(ValueError, match='own neighbour'):
        load_knn_graph(knn, N)
    for bad in (knn[:-1], knn[:, :0], knn[:, 0]):
        with pytest.raises(ValueError, match=r'shape \(N=20, k >= 1\)'):
            load_knn_graph(bad, N)
    for value in (N, -1):
        knn = data['knn'].copy()
        knn[0, 0] = value
        with pytest.raises(ValueError, match=r'must lie in \[0, 20\)'):
            load_knn_graph(knn, N)
    # through the dataset, from a file
    knn = data['knn'].copy()
    knn[5, 0] = 5
    path = str(data['tmp'] / 'self.npy')
    np.save(path, knn)
    with pytest.raises(ValueError, match='own neighbour'):
        KNNInstanceDataset(data['ds'], data['bank'], path)
    table = load_knn_graph(data['knn_path'], N)
    assert table.dtype == np.int64 and np.array_equal(table, data['knn'])


def test_bank_of_another_dataset_raises(data):
    other = _dataset(data['root'], split='test')  # same size, other images
    with pytest.raises(ValueError, match='another dataset'):
        KNNInstanceDataset(other, data['bank'], mode='val')
    smaller = _dataset(data['root'], n=N - 1)
    with pytest.raises(ValueError, match='num_samples'):
        KNNInstanceDataset(smaller, data['bank'], mode='val')


def test_batch_reaches_the_gan_preprocessor_with_cond(data):
    ds = KNNInstanceDataset(data['ds'], data['bank'], data['knn_path'])
    batch = default_collate([ds[i] for i in range(4)])
    out = GANDataPreprocessor(32)(batch)
    assert out['inputs'].shape == (4, 1, 32, 32)
    torch.testing.assert_close(out['cond'],
                               torch.from_numpy(data['feats'][:4]).float())
