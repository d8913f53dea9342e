import copy
import pickle

import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from scipy import stats

from mmmix.datasets import (
    FashionMNIST,
    KNNReplace,
    LoadGeneratedView,
    LocalManifoldAugment,
    ViewCache,
    save_raw_images,
)
from mmmix.datasets.transforms import check_generated_view_sources
from mmmix.registry import TRANSFORMS
from tests.test_models.test_utils.test_lma_sampler import (
    MockGenerator,
    make_bank,
    save_gan_ckpt,
)

GEN = dict(type='LMAMockGenerator')  # registered by the sampler tests


def grey(idx=0, size=28):
    return dict(img=np.full((size, size), 3, np.uint8), sample_idx=idx)


@pytest.fixture
def bank_dir(tmp_path):
    _, rows = make_bank(tmp_path / 'bank', n=10, d=4)
    return str(tmp_path / 'bank'), rows


def lma(bank_dir, prob, **kwargs):
    return LocalManifoldAugment(prob, GEN, bank=bank_dir[0], **kwargs)


def multiview(transform, num_views=2):
    with DefaultScope.overwrite_default_scope('mmmix'):
        return TRANSFORMS.build(dict(type='MultiView', num_views=num_views,
                                     transforms=[[transform]]))


# ------------------------------------------------------------------- LMA ---
def test_prob_zero_is_identity_and_builds_nothing(bank_dir):
    t = lma(bank_dir, 0.0)
    for i in range(50):
        res = grey(i % 10)
        img = res['img'].copy()
        out = t(res)
        assert out['img'] is res['img'] and np.array_equal(out['img'], img)
        assert out['lma_applied'] is False
    assert t._sampler is None  # the generator was never built


def test_prob_one_replaces_in_the_image_layout(bank_dir, tmp_path):
    _, rows = bank_dir
    t = lma(bank_dir, 1.0, seed=0)
    for i in (0, 7, 9):
        out = t(grey(i))
        img = out['img']
        assert out['lma_applied'] is True
        assert img.dtype == np.uint8 and img.shape == (8, 8)
        assert out['img_shape'] == (8, 8)
        # the bank row of this sample, quantised (independent oracle)
        h = img[0, :4] / 127.5 - 1
        assert np.abs(h - rows[i]).max() <= 0.5 / 127.5 + 1e-9
        assert (img[4] == 0).all() and (img[5] == 255).all()  # -1, clamp 1
    # (H, W, 1) grey images keep their channel axis
    res = dict(img=np.zeros((28, 28, 1), np.uint8), sample_idx=1)
    assert t(res)['img'].shape == (8, 8, 1)
    # colour generators: channel order of the pipeline
    _, rows = make_bank(tmp_path / 'b3', d=4)
    gen3 = dict(type='LMAMockGenerator', img_channels=3)
    colour = dict(img=np.zeros((9, 9, 3), np.uint8), sample_idx=2)
    rgb = LocalManifoldAugment(1.0, gen3, bank=str(tmp_path / 'b3'))
    bgr = LocalManifoldAugment(1.0, gen3, bank=str(tmp_path / 'b3'),
                               channel_order='bgr')
    assert rgb(copy.deepcopy(colour))['img'][2, 0].tolist() == [64, 128, 191]
    assert bgr(copy.deepcopy(colour))['img'][2, 0].tolist() == [191, 128, 64]
    with pytest.raises(ValueError, match=r'3-channel .*\(28, 28\)'):
        rgb(grey(0))


def test_rate_is_prob_within_binomial_ci(bank_dir):
    t = lma(bank_dir, 0.3, seed=1)
    n = 3000
    hits = sum(t(grey(i % 10))['lma_applied'] for i in range(n))
    lo, hi = stats.binom.interval(0.999, n, 0.3)
    assert lo <= hits <= hi


def test_multiview_joint_frequencies(bank_dir):
    a = 0.3
    mv = multiview(lma(bank_dir, a, seed=2))
    counts = np.zeros(3, int)
    n = 2000
    for i in range(n):
        views = mv(grey(i % 10))['img']
        counts[sum(v.shape == (8, 8) for v in views)] += 1
    expect = n * np.array([(1 - a)**2, 2 * a * (1 - a), a**2])
    assert stats.chisquare(counts, expect).pvalue > 1e-3


def test_two_views_get_independent_z(bank_dir):
    mv = multiview(lma(bank_dir, 1.0))
    for i in range(5):
        v1, v2 = mv(grey(i))['img']
        assert np.array_equal(v1[0], v2[0])  # same conditioning row
        assert not np.array_equal(v1[1], v2[1])  # different z


def test_z_pool_gives_at_most_m_outputs(bank_dir):
    t = lma(bank_dir, 1.0, z_pool_size=3, seed=0)
    outs = {t(grey(5))['img'].tobytes() for _ in range(100)}
    assert len(outs) == 3


class _Indexed(torch.utils.data.Dataset):

    def __init__(self, transform, n=8):
        self.transform, self.n = transform, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        info = torch.utils.data.get_worker_info()
        out = self.transform(grey(0))
        return info.id, torch.from_numpy(out['img'])


@pytest.mark.parametrize('seed', [None, 5])
def test_workers_draw_independently(bank_dir, seed):
    t = lma(bank_dir, 1.0, seed=seed)
    t(grey(0))  # used (and built) in the main process before the fork
    loader = torch.utils.data.DataLoader(
        _Indexed(t), batch_size=None, num_workers=2,
        generator=torch.Generator().manual_seed(0))
    got = list(loader)
    firsts = {}
    for wid, img in got:
        firsts.setdefault(wid, img)
    assert set(firsts) == {0, 1}
    # same sample, first draw of each worker: different z
    assert not torch.equal(firsts[0], firsts[1])
    if seed is not None:  # reproducible for a seeded loader
        again = list(torch.utils.data.DataLoader(
            _Indexed(t), batch_size=None, num_workers=2,
            generator=torch.Generator().manual_seed(0)))
        assert all(torch.equal(a[1], b[1]) for a, b in zip(got, again))


def test_lma_errors_name_the_field(bank_dir, tmp_path):
    for prob in (-0.1, 1.5, '0.3'):
        with pytest.raises(ValueError, match=r'prob .*\[0, 1\]'):
            lma(bank_dir, prob)
    with pytest.raises(ValueError, match='channel_order'):
        lma(bank_dir, 0.5, channel_order='BGR')
    t = lma(bank_dir, 1.0)
    with pytest.raises(KeyError, match="sample_idx.*dataset"):
        t(dict(img=np.zeros((28, 28), np.uint8)))
    with pytest.raises(KeyError, match='sample_idx'):
        lma(bank_dir, 0.0)(dict(img=np.zeros((28, 28), np.uint8)))
    with pytest.raises(IndexError, match=r'10 is out of range \[0, 10\)'):
        t(grey(10))
    bad = LocalManifoldAugment(
        1.0, dict(type='LMAMockGenerator', cond_dim=5), bank=bank_dir[0])
    with pytest.raises(ValueError, match=r'cond_dim=5 .*dim=4'):
        bad(grey(0))
    wrong_n = lma(bank_dir, 1.0, expected_num_samples=12)
    with pytest.raises(ValueError, match='expected_num_samples=12'):
        wrong_n(grey(0))


def test_checkpoint_and_pickling(bank_dir, tmp_path):
    ckpt = save_gan_ckpt(tmp_path / 'gan.pth', scale=0.5)
    t = lma(bank_dir, 1.0, checkpoint=ckpt, noise_mode='none')
    assert (t(grey(0))['img'][4] == 64).all()  # -0.5 -> 63.75 -> 64
    clone = pickle.loads(pickle.dumps(t))
    assert clone._sampler is None and clone._rng is None
    assert clone(grey(0))['img'].shape == (8, 8)


def test_config_pipeline_and_fingerprint_check(fashion_root, tmp_path):
    ds = FashionMNIST(data_root=fashion_root, pipeline=[])
    rows = np.random.default_rng(0).normal(size=(120, 4))
    _save_bank(str(tmp_path / 'bank'), rows, ds)
    view = [dict(type='LocalManifoldAugment', prob=1.0, generator=GEN,
                 bank=str(tmp_path / 'bank'), center_crop=6,
                 expected_num_samples=120),
            dict(type='RandomFlip', prob=0.5)]
    pipeline = [dict(type='MultiView', num_views=2, transforms=[view]),
                dict(type='PackInputs')]
    with DefaultScope.overwrite_default_scope('mmmix'):
        train = FashionMNIST(data_root=fashion_root, pipeline=pipeline)
        found = check_generated_view_sources(train)
        assert [type(t).__name__ for t in found] == ['LocalManifoldAugment']
        out = train[3]
        assert [tuple(x.shape) for x in out['inputs']] == [(1, 6, 6)] * 2
        sub = FashionMNIST(data_root=fashion_root, pipeline=pipeline,
                           indices=list(range(50)))
        with pytest.raises(ValueError, match='num_samples: stored 120 vs '
                           'current 50'):
            check_generated_view_sources(sub)
        late = FashionMNIST(data_root=fashion_root, pipeline=[
            dict(type='RandomFlip', prob=0.5), view[0]])
        with pytest.warns(UserWarning, match='after .*RandomFlip'):
            check_generated_view_sources(late)


def _save_bank(path, rows, dataset):
    from mmmix.datasets import FeatureBank
    FeatureBank.save(path, rows, dataset=dataset)


# ----------------------------------------------------- LoadGeneratedView ---
def make_cache(path, n=5, v=4, shape=(4, 4), order='rgb'):
    """View ``s`` of sample ``i`` is filled with ``10 * s + i``."""
    w = ViewCache.create(str(path), n, v, shape, channel_order=order)
    for s in range(v):
        vals = (10 * s + np.arange(n)).astype(np.uint8)
        w.write(s, np.arange(n),
                np.broadcast_to(vals.reshape(-1, *[1] * len(shape)),
                                (n, *shape)).copy())
    w.finalize(method='test')
    return str(path)


def test_load_generated_view_is_uniform_over_slots(tmp_path):
    cache = make_cache(tmp_path / 'c')
    t = LoadGeneratedView(cache, seed=0)
    counts = np.zeros(4, int)
    for _ in range(2000):
        res = t(dict(img=np.zeros((4, 4), np.uint8), sample_idx=2))
        slot = res['generated_view_slot']
        assert slot >= 0  # never the original when excluded
        assert (res['img'] == 10 * slot + 2).all()
        counts[slot] += 1
    assert stats.chisquare(counts).pvalue > 1e-3
    # a fixed seed replays the same draws
    def slots(seed):
        t = LoadGeneratedView(cache, seed=seed)
        return [t(dict(img=np.zeros((4, 4), np.uint8), sample_idx=1))[
            'generated_view_slot'] for _ in range(30)]
    assert slots(3) == slots(3) and slots(3) != slots(4)
    # num_use: only the first slots
    t2 = LoadGeneratedView(cache, num_use=2, seed=0)
    slots = {t2(dict(img=np.zeros((4, 4), np.uint8), sample_idx=0))[
        'generated_view_slot'] for _ in range(200)}
    assert slots == {0, 1}


def test_load_generated_view_with_original(tmp_path):
    cache = make_cache(tmp_path / 'c')
    t = LoadGeneratedView(cache, include_original=True, seed=1)
    counts = np.zeros(5, int)
    for _ in range(2500):
        img = np.full((4, 4), 200, np.uint8)
        res = t(dict(img=img, sample_idx=4))
        slot = res['generated_view_slot']
        if slot == -1:
            assert res['img'] is img
        counts[slot] += 1
    assert stats.chisquare(counts).pvalue > 1e-3


def test_load_generated_view_errors_and_channels(tmp_path):
    cache = make_cache(tmp_path / 'c')
    t = LoadGeneratedView(cache)
    with pytest.raises(ValueError, match=r'\(4, 4\) .*\(28, 28\)'):
        t(grey(0))
    with pytest.raises(KeyError, match='sample_idx'):
        t(dict(img=np.zeros((4, 4), np.uint8)))
    with pytest.raises(IndexError, match=r'5 is out of range \[0, 5\)'):
        t(dict(img=np.zeros((4, 4), np.uint8), sample_idx=5))
    with pytest.raises(ValueError, match='expected_num_samples=6'):
        LoadGeneratedView(cache, expected_num_samples=6)(
            dict(img=np.zeros((4, 4), np.uint8), sample_idx=0))
    with pytest.raises(ValueError, match=r'num_use=5 .*\[1, 4\]'):
        LoadGeneratedView(cache, num_use=5)(
            dict(img=np.zeros((4, 4), np.uint8), sample_idx=0))
    with pytest.raises(ValueError, match='num_use'):
        LoadGeneratedView(cache, num_use=0)
    # a colour cache in RGB, read into a BGR pipeline
    w = ViewCache.create(str(tmp_path / 'rgb'), 1, 1, (2, 2, 3))
    w.write(0, [0], np.broadcast_to(np.array([1, 2, 3], np.uint8),
                                    (1, 2, 2, 3)).copy())
    w.finalize()
    res = dict(img=np.zeros((2, 2, 3), np.uint8), sample_idx=0)
    as_stored = LoadGeneratedView(str(tmp_path / 'rgb'))(dict(res))
    assert as_stored['img'][0, 0].tolist() == [1, 2, 3]
    bgr = LoadGeneratedView(str(tmp_path / 'rgb'), channel_order='bgr')
    assert bgr(dict(res))['img'][0, 0].tolist() == [3, 2, 1]


def test_a2_pipeline_puts_the_cached_view_last(fashion_root, tmp_path):
    ds = FashionMNIST(data_root=fashion_root, pipeline=[])
    w = ViewCache.create(str(tmp_path / 'c'), 120, 2, (28, 28), dataset=ds)
    for s in range(2):
        w.write(s, np.arange(120), np.full((120, 28, 28), 50 + s, np.uint8))
    w.finalize()
    expert = [dict(type='RandomResizedCrop', scale=28, backend='cv2')]
    gen = [dict(type='LoadGeneratedView', cache=str(tmp_path / 'c'),
                expected_num_samples=120),
           dict(type='RandomFlip', prob=0.5)]
    pipeline = [dict(type='MultiView', num_views=[2, 1],
                     transforms=[expert, gen]),
                dict(type='PackInputs')]
    with DefaultScope.overwrite_default_scope('mmmix'):
        train = FashionMNIST(data_root=fashion_root, pipeline=pipeline)
        check_generated_view_sources(train)
        out = train[7]
    views = out['inputs']
    assert len(views) == 3 and all(v.shape == (1, 28, 28) for v in views)
    assert set(views[2].unique().tolist()) <= {50, 51}  # from the cache
    assert not set(views[0].unique().tolist()) <= {50, 51}


# ------------------------------------------------------------ KNNReplace ---
def _knn_files(tmp_path, knn):
    n = len(knn)
    imgs = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None],
                           (n, 4, 4)).copy()
    np.save(tmp_path / 'knn.npy', np.asarray(knn, np.int64))
    np.save(tmp_path / 'imgs.npy', imgs)
    return str(tmp_path / 'knn.npy'), str(tmp_path / 'imgs.npy')


def test_knn_replace_draws_uniform_neighbours(tmp_path):
    knn = [[1, 2, 3], [0, 2, 5], [3, 4, 5], [2, 1, 0], [5, 0, 1],
           [4, 3, 2]]
    t = KNNReplace(1.0, *_knn_files(tmp_path, knn), seed=0)
    counts = {j: 0 for j in knn[0]}
    for _ in range(1500):
        res = t(dict(img=np.full((4, 4), 99, np.uint8), sample_idx=0))
        j = res['knn_neighbor']
        assert j in counts and j != 0  # only kNN(0), never itself
        assert (res['img'] == j).all()
        counts[j] += 1
    assert stats.chisquare(list(counts.values())).pvalue > 1e-3
    ident = KNNReplace(0.0, *_knn_files(tmp_path, knn))
    img = np.full((4, 4), 99, np.uint8)
    assert ident(dict(img=img, sample_idx=0))['img'] is img
    half = KNNReplace(0.5, *_knn_files(tmp_path, knn), seed=3)
    n = 2000
    hits = sum(half(dict(img=img, sample_idx=1))['knn_neighbor'] >= 0
               for _ in range(n))
    lo, hi = stats.binom.interval(0.999, n, 0.5)
    assert lo <= hits <= hi


def test_knn_replace_validates(tmp_path, fashion_root):
    with pytest.raises(ValueError, match=r'row 1 lists itself'):
        KNNReplace(1.0, *_knn_files(tmp_path, [[1], [1], [0]]))(
            dict(img=np.zeros((4, 4), np.uint8), sample_idx=0))
    with pytest.raises(ValueError, match=r'outside \[0, 2\)'):
        KNNReplace(1.0, *_knn_files(tmp_path, [[1], [2]]))(
            dict(img=np.zeros((4, 4), np.uint8), sample_idx=0))
    files = _knn_files(tmp_path, [[1], [0]])
    with pytest.raises(ValueError, match=r'\(4, 4\) .*\(28, 28\)'):
        KNNReplace(1.0, *files)(grey(0))
    with pytest.raises(ValueError, match='expected_num_samples=3'):
        KNNReplace(1.0, *files, expected_num_samples=3)(grey(0))
    with pytest.raises(ValueError, match='prob'):
        KNNReplace(2.0, *files)
    # against a dataset: raw images saved by save_raw_images pass
    ds = FashionMNIST(data_root=fashion_root, pipeline=[])
    save_raw_images(ds, str(tmp_path / 'raw.npy'))
    knn = (np.arange(120)[:, None] + np.arange(1, 4)) % 120
    np.save(tmp_path / 'g.npy', knn)
    t = KNNReplace(1.0, str(tmp_path / 'g.npy'), str(tmp_path / 'raw.npy'))
    t.check_dataset(ds)
    other = FashionMNIST(data_root=fashion_root, pipeline=[],
                         indices=list(range(119, -1, -1)))
    with pytest.raises(ValueError, match='image 0 differs'):
        t.check_dataset(other)
    res = t(dict(img=ds.get_data_info(5)['img'], sample_idx=5))
    assert res['knn_neighbor'] in (6, 7, 8)
    assert np.array_equal(res['img'],
                          ds.get_data_info(res['knn_neighbor'])['img'])


def test_mock_generator_is_importable():
    assert MockGenerator().resolution == 8
