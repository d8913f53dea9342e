import random

import mmcv
import numpy as np
import pytest
import torch
from mmpretrain.datasets.transforms import PackInputs

from mmmix.datasets import MultiResolutionViews
from mmmix.registry import TRANSFORMS

BRIGHTNESS = [dict(type='ColorJitter', brightness=0.8, backend='cv2')]


def seed(s=0):
    random.seed(s)
    np.random.seed(s)


def smooth_image(h=240, w=320):
    """A smooth 3-channel uint8 image: gradients plus a slow sinusoid."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = 40 + 0.4 * x + 0.3 * y + 20 * np.sin(x / 30) * np.cos(y / 25)
    img = np.stack([base, base[::-1] * 0.8, 255 - base], -1)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def test_registered_and_builds_photometric_pipeline():
    t = TRANSFORMS.build(
        dict(type='MultiResolutionViews', num_views=2, scales=(224, 160),
             transforms=[
                 dict(type='RandomApply', prob=0.8, transforms=[
                     dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.4, hue=0.1)]),
                 dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
                      channel_weights=(0.114, 0.587, 0.2989)),
                 dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
                      magnitude_std='inf', prob=0.5),
             ]))
    assert isinstance(t, MultiResolutionViews)
    seed()
    out = t(dict(img=smooth_image(64, 80)))
    shapes = [im.shape for im in out['img']]
    assert shapes == [(224, 224, 3), (160, 160, 3)] * 2
    assert 'MultiResolutionViews' in repr(t)


def test_output_count_order_shared_crop_and_flip():
    t = MultiResolutionViews(num_views=3, scales=(32, 24, 16))
    seed(1)
    out = t(dict(img=smooth_image(60, 80)))
    imgs, boxes, flips = out['img'], out['crop_boxes'], out['flips']
    assert len(imgs) == len(boxes) == len(flips) == 9
    assert [im.shape[:2] for im in imgs] == [(32, 32), (24, 24), (16, 16)] * 3
    for v in range(3):
        group = slice(3 * v, 3 * v + 3)
        assert len(set(boxes[group])) == 1 and len(set(flips[group])) == 1
    assert len(set(boxes)) == 3  # views are independent draws
    for (y1, x1, h, w) in boxes:
        assert y1 >= 0 and x1 >= 0 and y1 + h <= 60 and x1 + w <= 80
        assert 0.2 * 4800 * 0.9 <= h * w <= 4800  # crop_ratio_range, rounded
    # each copy is the recorded crop (flipped if recorded) resized directly
    img = smooth_image(60, 80)
    for out_img, (y1, x1, h, w), flip, size in zip(
            imgs, boxes, flips, [32, 24, 16] * 3):
        crop = img[y1:y1 + h, x1:x1 + w]
        crop = np.ascontiguousarray(crop[:, ::-1] if flip else crop)
        np.testing.assert_array_equal(out_img,
                                      mmcv.imresize(crop, (size, size)))


def test_full_crop_and_flip_exact():
    img = smooth_image(40, 40)
    t = MultiResolutionViews(num_views=1, scales=(40, ),
                             crop_ratio_range=(1.0, 1.0),
                             aspect_ratio_range=(1.0, 1.0), flip_prob=1.0)
    out = t(dict(img=img.copy()))
    assert out['crop_boxes'] == [(0, 0, 40, 40)] and out['flips'] == [True]
    np.testing.assert_array_equal(out['img'][0], img[:, ::-1])
    t = MultiResolutionViews(num_views=1, scales=40,
                             crop_ratio_range=(1.0, 1.0),
                             aspect_ratio_range=(1.0, 1.0), flip_prob=0.0)
    np.testing.assert_array_equal(t(dict(img=img.copy()))['img'][0], img)


def test_share_crop_false_gives_different_boxes():
    t = MultiResolutionViews(num_views=2, scales=(32, 32, 16),
                             share_crop=False)
    seed(2)
    out = t(dict(img=smooth_image(60, 80)))
    assert len(set(out['crop_boxes'])) == 6


def test_resized_large_copy_matches_small_copy():
    t = MultiResolutionViews(num_views=4, scales=(224, 160))
    seed(3)
    out = t(dict(img=smooth_image()))
    for v in range(4):
        big, small = out['img'][2 * v], out['img'][2 * v + 1]
        down = mmcv.imresize(big, (160, 160), interpolation='bilinear')
        diff = np.abs(down.astype(np.float64) - small.astype(np.float64))
        assert diff.mean() < 2.0


def test_photometric_independent_per_copy():
    img = smooth_image(48, 48)
    t = MultiResolutionViews(num_views=2, scales=(32, 32),
                             transforms=BRIGHTNESS)
    seed(4)
    out = t(dict(img=img))
    assert out['crop_boxes'][0] == out['crop_boxes'][1]
    assert not np.array_equal(out['img'][0], out['img'][1])
    assert not np.array_equal(out['img'][2], out['img'][3])
    # without photometric ops the two copies are identical
    seed(4)
    plain = MultiResolutionViews(num_views=2, scales=(32, 32))(dict(img=img))
    np.testing.assert_array_equal(plain['img'][0], plain['img'][1])


def test_share_photometric():
    img = smooth_image(48, 48)
    t = MultiResolutionViews(num_views=2, scales=(32, 32),
                             share_photometric=True, transforms=BRIGHTNESS)
    seed(5)
    out = t(dict(img=img))
    np.testing.assert_array_equal(out['img'][0], out['img'][1])
    np.testing.assert_array_equal(out['img'][2], out['img'][3])
    assert not np.array_equal(out['img'][0], out['img'][2])
    # independent crops still differ when photometric draws are replayed
    t = MultiResolutionViews(num_views=1, scales=(16, 16, 16),
                             share_crop=False, share_photometric=True,
                             transforms=BRIGHTNESS)
    seed(5)
    assert len(set(t(dict(img=img))['crop_boxes'])) == 3


def test_seeded_determinism():
    img = smooth_image(48, 64)
    t = MultiResolutionViews(num_views=2, scales=(24, 16),
                             transforms=BRIGHTNESS)
    seed(6)
    a = t(dict(img=img))
    seed(6)
    b = t(dict(img=img))
    seed(7)
    c = t(dict(img=img))
    assert a['crop_boxes'] == b['crop_boxes'] and a['flips'] == b['flips']
    for x, y in zip(a['img'], b['img']):
        np.testing.assert_array_equal(x, y)
    assert a['crop_boxes'] != c['crop_boxes']


def test_grey_image_through_pack_inputs():
    img = np.random.RandomState(0).randint(0, 256, (28, 28), np.uint8)
    t = MultiResolutionViews(num_views=2, scales=(28, 20),
                             crop_ratio_range=(0.5, 1.0),
                             transforms=BRIGHTNESS)
    seed(8)
    out = t(dict(img=img, gt_label=3))
    assert [im.shape for im in out['img']] == [(28, 28), (20, 20)] * 2
    packed = PackInputs()(out)
    inputs = packed['inputs']
    assert isinstance(inputs, list) and len(inputs) == 4
    assert [tuple(x.shape) for x in inputs] == [(1, 28, 28), (1, 20, 20)] * 2
    assert all(x.dtype == torch.uint8 for x in inputs)
    assert packed['data_samples'].gt_label.item() == 3
    # an explicit single channel stays a channel
    out = t(dict(img=img[..., None]))
    assert [im.shape for im in out['img']] == [(28, 28, 1), (20, 20, 1)] * 2


@pytest.mark.parametrize('kwargs,field', [
    (dict(num_views=0), 'num_views'),
    (dict(num_views=1.5), 'num_views'),
    (dict(scales=()), 'scales'),
    (dict(scales=(224, 0)), 'scales'),
    (dict(scales=(224, 160.5)), 'scales'),
    (dict(crop_ratio_range=(0.8, 0.2)), 'crop_ratio_range'),
    (dict(crop_ratio_range=(0.0, 1.0)), 'crop_ratio_range'),
    (dict(crop_ratio_range=(0.2, 1.5)), 'crop_ratio_range'),
    (dict(aspect_ratio_range=(4 / 3, 3 / 4)), 'aspect_ratio_range'),
    (dict(aspect_ratio_range=(-1, 1)), 'aspect_ratio_range'),
    (dict(flip_prob=1.5), 'flip_prob'),
    (dict(flip_prob=-0.1), 'flip_prob'),
    (dict(interpolation='cubic'), 'interpolation'),
    (dict(backend='torch'), 'backend'),
    (dict(max_attempts=-1), 'max_attempts'),
])
def test_argument_errors(kwargs, field):
    with pytest.raises(ValueError, match=field):
        MultiResolutionViews(**kwargs)


def test_per_view_pipelines():
    def zero(results):
        results['img'] = np.zeros_like(results['img'])
        return results

    t = MultiResolutionViews(num_views=2, scales=(8, 6),
                             crop_ratio_range=(0.5, 1.),
                             transforms=[[zero], []])
    img = np.full((16, 16), 200, np.uint8)
    out = t(dict(img=img))['img']
    assert all((v == 0).all() for v in out[:2])
    assert all((v == 200).all() for v in out[2:])
    with pytest.raises(ValueError, match='per-view pipelines'):
        MultiResolutionViews(num_views=3, transforms=[[zero], []])
