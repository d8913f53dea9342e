import numpy as np
import pytest
import torch
from mmengine.dataset import ConcatDataset, default_collate

from mmmix.datasets import FashionMNIST, NoiseDataset
from mmmix.registry import DATASETS
from mmmix.utils import register_all_modules

register_all_modules(init_default_scope=False)


def stack(ds, n):
    return np.stack([ds.get_data_info(i)['img'] for i in range(n)])


@pytest.mark.parametrize('shape', [(28, 28, 1), (32, 32, 3), (5, 7, 2)])
@pytest.mark.parametrize('kind', ['uniform', 'gaussian'])
def test_shape_dtype_range_and_label(shape, kind):
    ds = NoiseDataset(num_samples=6, shape=shape, kind=kind)
    assert len(ds) == 6
    info = ds.get_data_info(2)
    assert info['img'].shape == shape and info['img'].dtype == np.uint8
    assert info['gt_label'] == -1 and info['is_ood'] is True
    assert ds.get_gt_labels().tolist() == [-1] * 6
    assert ds.get_cat_ids(0) == [-1]


def test_2d_shape_gives_grayscale_images_like_fashion_mnist():
    ds = NoiseDataset(num_samples=2, shape=(28, 28))
    assert ds.get_data_info(0)['img'].shape == (28, 28)


def test_deterministic_per_seed_and_independent_of_access_order():
    a = NoiseDataset(num_samples=8, shape=(8, 8, 3), seed=3)
    b = NoiseDataset(num_samples=8, shape=(8, 8, 3), seed=3)
    c = NoiseDataset(num_samples=8, shape=(8, 8, 3), seed=4)
    imgs = stack(a, 8)
    reverse = np.stack([b.get_data_info(i)['img'] for i in range(7, -1, -1)])
    np.testing.assert_array_equal(imgs, reverse[::-1])
    np.testing.assert_array_equal(imgs, stack(a, 8))  # again, same images
    assert not np.array_equal(imgs, stack(c, 8))
    assert not np.array_equal(imgs[0], imgs[1])  # images differ
    # a subset keeps the images of the kept indices
    sub = NoiseDataset(num_samples=8, shape=(8, 8, 3), seed=3, indices=[5])
    np.testing.assert_array_equal(sub.get_data_info(0)['img'], imgs[5])


def test_uniform_statistics():
    x = stack(NoiseDataset(num_samples=20, shape=(32, 32, 3)), 20) / 255
    assert x.mean() == pytest.approx(0.5, abs=0.01)
    assert x.std() == pytest.approx(np.sqrt(1 / 12), abs=0.01)
    assert x.min() == 0 and x.max() == 1  # quantised to 0..255
    hist = np.bincount((x * 255).astype(int).ravel(), minlength=256)
    # interior values are about equally likely (ends get half a bin)
    assert hist[1:-1].min() > 0.6 * hist[1:-1].mean()


def test_gaussian_is_clipped_normal():
    mean, std = 0.5, 0.5
    x = stack(
        NoiseDataset(num_samples=20, shape=(32, 32, 3), kind='gaussian'),
        20) / 255
    # P(N(0.5, 0.5) <= 0) = P(Z <= -1) ~ 0.1587, the same mass at 1
    assert (x == 0).mean() == pytest.approx(0.1587, abs=0.01)
    assert (x == 1).mean() == pytest.approx(0.1587, abs=0.01)
    assert x.mean() == pytest.approx(mean, abs=0.01)  # symmetric clipping
    inner = x[(x > 0) & (x < 1)]
    assert inner.std() < std  # truncated
    narrow = stack(
        NoiseDataset(num_samples=4, shape=(32, 32, 3), kind='gaussian',
                     mean=0.2, std=0.05), 4) / 255
    assert narrow.mean() == pytest.approx(0.2, abs=0.01)
    assert narrow.std() == pytest.approx(0.05, abs=0.005)


@pytest.mark.parametrize('shape', [(28, 28, 1), (32, 32, 3)])
def test_through_pack_inputs_pipeline(shape):
    ds = DATASETS.build(
        dict(type='mmmix.NoiseDataset', num_samples=4, shape=shape,
             pipeline=[dict(type='PackInputs')]))
    batch = default_collate([ds[i] for i in range(4)])
    h, w, c = shape
    assert batch['inputs'].shape == (4, c, h, w)
    assert batch['inputs'].dtype == torch.uint8
    assert [s.gt_label.item() for s in batch['data_samples']] == [-1] * 4
    np.testing.assert_array_equal(
        batch['inputs'][1].permute(1, 2, 0).numpy(),
        ds.get_data_info(1)['img'])


def test_concat_with_fashion_mnist_and_is_ood_flag(fashion_root):
    pack = dict(type='PackInputs',
                meta_keys=('sample_idx', 'img_shape', 'is_ood'))
    fmnist = FashionMNIST(data_root=fashion_root, split='test',
                          pipeline=[pack])
    noise = NoiseDataset(num_samples=5, shape=(28, 28), gt_label=0,
                         classes=fmnist.CLASSES, pipeline=[pack])
    both = ConcatDataset([fmnist, noise])
    assert len(both) == len(fmnist) + 5
    first_ood = both[len(fmnist)]['data_samples']
    assert first_ood.is_ood is True and first_ood.gt_label.item() == 0
    assert 'is_ood' not in both[0]['data_samples']
    assert both[0]['inputs'].shape == both[len(fmnist)]['inputs'].shape
    # without matching classes, ConcatDataset needs ignore_keys
    plain = NoiseDataset(num_samples=5, shape=(28, 28))
    with pytest.raises(ValueError, match='meta information'):
        ConcatDataset([fmnist, plain])
    ConcatDataset([fmnist, plain], ignore_keys=['classes'])


@pytest.mark.parametrize('kwargs, match', [
    (dict(kind='salt'), 'kind'),
    (dict(shape=(32, 32, 3, 1)), 'shape'),
    (dict(shape=(32, 0, 3)), 'shape'),
    (dict(shape=(32.0, 32, 3)), 'shape'),
    (dict(shape=32), 'shape'),
    (dict(shape='32x32'), 'shape'),
    (dict(num_samples=0), 'num_samples'),
    (dict(num_samples=2.5), 'num_samples'),
    (dict(seed=-1), 'seed'),
    (dict(kind='gaussian', std=0), 'std'),
])
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NoiseDataset(**kwargs)
