import math

import mmcv
import numpy as np
import pytest
import torch
from mmpretrain.datasets.transforms import RandomResizedCrop
from scipy import stats

from mmmix.ops.tensor_augment import (
    apply_view_pipeline,
    build_view_pipeline,
    color_jitter,
    gaussian_blur,
    quantize,
    random_flip,
    random_grayscale,
    random_resized_crop,
    resized_crop,
    sample_crop_boxes,
)


def ramp_images(b, h, w):
    """Channel 0 = column index, channel 1 = row index."""
    cols = torch.arange(w, dtype=torch.float32).expand(h, w)
    rows = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
    return torch.stack([cols, rows])[None].repeat(b, 1, 1, 1)


def binomial_ok(count, n, p, alpha=1e-4):
    return stats.binomtest(count, n, p).pvalue > alpha


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------ crop
def test_crop_areas_measured_on_a_coordinate_ramp():
    # downscaling only (crops >= 18 px -> 4 px): no border clamping, so the
    # first / last output sample positions give the crop exactly
    b, h, w, s = 2000, 64, 64, 4
    lo, hi, r0, r1 = 0.08, 1.0, 3 / 4, 4 / 3
    out, boxes = random_resized_crop(ramp_images(b, h, w), s, (lo, hi),
                                     (r0, r1), generator=seeded(),
                                     return_boxes=True)
    assert out.shape == (b, 2, s, s) and out.dtype == torch.float32
    first, last = out[:, 0, 0, 0], out[:, 0, 0, -1]
    cw = (last - first) * s / (s - 1)
    left = first + 0.5 - 0.5 * cw / s
    first, last = out[:, 1, 0, 0], out[:, 1, -1, 0]
    ch = (last - first) * s / (s - 1)
    top = first + 0.5 - 0.5 * ch / s
    # the measured crops are the returned boxes
    np.testing.assert_allclose(cw, boxes[:, 3].float(), atol=1e-3)
    np.testing.assert_allclose(ch, boxes[:, 2].float(), atol=1e-3)
    np.testing.assert_allclose(left, boxes[:, 1].float(), atol=1e-3)
    np.testing.assert_allclose(top, boxes[:, 0].float(), atol=1e-3)
    assert (left >= -1e-3).all() and (left + cw <= w + 1e-3).all()
    assert (top >= -1e-3).all() and (top + ch <= h + 1e-3).all()
    # area fraction within the range, up to the rounding of w and h
    frac = cw * ch / (h * w)
    assert frac.min() >= lo * 0.9 and frac.max() <= hi + 1e-6
    lo_b = ((cw - 0.5).clamp(min=0) * (ch - 0.5).clamp(min=0)) / (h * w)
    up_b = (cw + 0.5) * (ch + 0.5) / (h * w)
    assert (up_b >= lo).all() and (lo_b <= hi).all()
    ratio = cw / ch
    assert ratio.min() >= r0 * 0.9 and ratio.max() <= r1 / 0.9
    # the distribution matches mmpretrain's own sampler (independent code)
    np.random.seed(0)
    ref = RandomResizedCrop(s, crop_ratio_range=(lo, hi),
                            aspect_ratio_range=(r0, r1))
    img = np.zeros((h, w), np.uint8)
    rb = np.array([ref.rand_crop_params(img)
                   for _ in range(b)], dtype=float)
    ref_frac = rb[:, 2] * rb[:, 3] / (h * w)
    assert stats.ks_2samp(frac.numpy(), ref_frac).pvalue > 1e-4
    ref_ratio = rb[:, 3] / rb[:, 2]
    assert stats.ks_2samp(ratio.numpy(), ref_ratio).pvalue > 1e-4
    assert stats.ks_2samp(left.numpy(), rb[:, 1]).pvalue > 1e-4


def test_crop_fallback_when_no_try_fits():
    # area fraction (4, 5) never fits: every sample gets the centre crop;
    # a 10x40 image is wider than ratio 4/3 -> h = 10, w = round(13.33)
    boxes = sample_crop_boxes(50, 10, 40, (4, 5), (3 / 4, 4 / 3),
                              generator=seeded())
    assert (boxes == torch.tensor([0, 13, 10, 13])).all()
    boxes = sample_crop_boxes(5, 12, 12, (4, 5), generator=seeded())
    assert (boxes == torch.tensor([0, 0, 12, 12])).all()
    # and the first valid try is kept: with (1, 1) / (1, 1) every try is
    # the whole image
    boxes = sample_crop_boxes(5, 12, 12, (1, 1), (1, 1), generator=seeded())
    assert (boxes == torch.tensor([0, 0, 12, 12])).all()


@pytest.mark.parametrize('box,size', [((3, 5, 20, 30), (28, 28)),
                                      ((0, 0, 40, 37), (17, 23)),
                                      ((10, 2, 9, 7), (28, 28))])
def test_resized_crop_matches_mmcv_cv2(box, size):
    img = np.random.default_rng(1).integers(0, 256, (40, 37, 3),
                                            dtype=np.uint8)
    t, left, h, w = box
    ref = mmcv.imresize(
        mmcv.imcrop(img, np.array([left, t, left + w - 1, t + h - 1])),
        size[::-1], interpolation='bilinear', backend='cv2')
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float()
    out = resized_crop(x, torch.tensor([box]), size)[0].permute(1, 2, 0)
    # cv2 uses fixed-point weights and rounds to uint8
    assert np.abs(out.numpy() - ref).max() < 1.0


def test_identity_settings_give_the_input_back():
    x = torch.rand(6, 3, 9, 9) * 255
    g = seeded()
    assert torch.equal(random_resized_crop(x, 9, (1, 1), (1, 1),
                                           generator=g), x)
    assert torch.equal(random_flip(x, 0.0, generator=g), x)
    assert torch.equal(random_grayscale(x, 0.0, generator=g), x)
    assert torch.equal(color_jitter(x, 0.4, 0.4, 0.4, 0.1, prob=0.0,
                                    generator=g), x)
    assert torch.equal(color_jitter(x, generator=g), x)  # no jitter
    assert torch.equal(gaussian_blur(x, 0.0), x)
    pipe = [dict(type='RandomResizedCrop', scale=9, crop_ratio_range=(1, 1),
                 aspect_ratio_range=(1, 1), backend='cv2'),
            dict(type='RandomApply', prob=0.0,
                 transforms=[dict(type='ColorJitter', brightness=0.4)]),
            dict(type='RandomGrayscale', prob=0.0, keep_channels=True),
            dict(type='RandomFlip', prob=0.0)]
    assert torch.equal(apply_view_pipeline(x, pipe, g), x)


# ------------------------------------------------------------ flips etc.
def test_flip_frequency_and_content():
    b, p = 4000, 0.3
    x = ramp_images(b, 5, 7)
    out = random_flip(x, p, generator=seeded())
    flipped = out[:, 0, 0, 0] == 6
    kept = out[:, 0, 0, 0] == 0
    assert (flipped | kept).all()
    assert torch.equal(out[flipped], x[flipped].flip(-1))
    assert binomial_ok(int(flipped.sum()), b, p)
    out = random_flip(x, 1.0, 'vertical')
    assert torch.equal(out, x.flip(-2))
    with pytest.raises(ValueError, match='prob'):
        random_flip(x, 1.5)
    with pytest.raises(ValueError, match='direction'):
        random_flip(x, 0.5, 'diagonal')


def test_brightness_factor_range_and_rate():
    b = 4000
    x = torch.full((b, 1, 4, 4), 100.0)
    out = color_jitter(x, brightness=0.4, prob=0.8, generator=seeded())
    f = out[:, 0, 0, 0] / 100
    assert torch.allclose(out, f.view(-1, 1, 1, 1) * 100)  # uniform per img
    assert f.min() >= 0.6 - 1e-6 and f.max() <= 1.4 + 1e-6
    changed = (f - 1).abs() > 1e-6
    assert binomial_ok(int(changed.sum()), b, 0.8)
    # jittered factors ~ U(0.6, 1.4)
    assert stats.kstest(f[changed].numpy(), 'uniform',
                        args=(0.6, 0.8)).pvalue > 1e-4
    # an explicit (min, max) range; values clipped to [0, 255]
    out = color_jitter(torch.full((100, 1, 2, 2), 200.0), brightness=(2, 3))
    assert (out == 255).all()


@pytest.mark.parametrize('kind,factor', [('brightness', 0.6),
                                         ('brightness', 1.4),
                                         ('contrast', 0.6),
                                         ('contrast', 1.4),
                                         ('saturation', 0.6),
                                         ('saturation', 1.4)])
def test_color_adjustments_match_mmcv(kind, factor):
    img = np.random.default_rng(2).integers(0, 256, (9, 11, 3),
                                            dtype=np.uint8)
    fn = dict(brightness=mmcv.adjust_brightness,
              contrast=mmcv.adjust_contrast, saturation=mmcv.adjust_color)
    ref = fn[kind](img, factor, backend='cv2').astype(float)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float()
    out = color_jitter(x, **{kind: (factor, factor)})[0].permute(1, 2, 0)
    assert np.abs(out.numpy() - ref).max() < 1.0  # cv2 rounds / truncates


@pytest.mark.parametrize('hue', [0.05, 0.3])
def test_hue_matches_mmcv_up_to_hsv_quantisation(hue):
    img = np.random.default_rng(3).integers(0, 256, (16, 16, 3),
                                            dtype=np.uint8)
    ref = mmcv.adjust_hue(img, hue, backend='cv2').astype(float)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float()
    out = color_jitter(x, hue=(hue, hue))[0].permute(1, 2, 0).numpy()
    assert np.abs(out - ref).mean() < 1.0
    # a full turn is the identity; grey pixels keep their value
    full = color_jitter(x, hue=(0.5, 0.5))
    full = color_jitter(full, hue=(0.5, 0.5))
    assert torch.allclose(full, x, atol=1e-3)
    grey = torch.full((1, 3, 2, 2), 77.0)
    assert torch.allclose(color_jitter(grey, hue=0.4), grey)
    with pytest.raises(ValueError, match='hue'):
        color_jitter(torch.zeros(1, 1, 2, 2), hue=0.1)


def test_grayscale_weights_and_rate():
    b, p = 3000, 0.2
    x = torch.tensor([10.0, 20.0, 60.0]).view(1, 3, 1, 1).repeat(b, 1, 2, 2)
    out = random_grayscale(x, p, (1, 2, 1), generator=seeded())
    grey = (out == 27.5).all((1, 2, 3))  # (10 + 40 + 60) / 4
    assert ((out == x).all((1, 2, 3)) | grey).all()
    assert binomial_ok(int(grey.sum()), b, p)
    one = torch.rand(3, 1, 2, 2)
    assert torch.equal(random_grayscale(one, 1.0), one)


def test_gaussian_blur_keeps_mass_and_blurs():
    x = torch.zeros(2, 1, 21, 21)
    x[:, :, 10, 10] = 100
    out = gaussian_blur(x, torch.tensor([0.0, 1.5]), max_sigma=2.0)
    assert torch.equal(out[0], x[0])
    assert torch.isclose(out[1].sum(), torch.tensor(100.0), rtol=1e-4)
    prof = out[1, 0, 10]
    sig2 = (prof * (torch.arange(21) - 10.0)**2).sum() / prof.sum()
    assert abs(sig2.item() - 1.5**2) < 0.05


# -------------------------------------------------------------- pipeline
FMNIST_VIEW = [
    dict(type='RandomResizedCrop', scale=28, crop_ratio_range=(0.5, 1.),
         backend='cv2'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, backend='cv2')],
         prob=0.8),
    dict(type='RandomFlip', prob=0.5),
]
MOCO_VIEW = [
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.)),
    dict(type='RandomApply', prob=0.8, transforms=[
        dict(type='ColorJitter', brightness=0.4, contrast=0.4,
             saturation=0.4, hue=0.1)]),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='mmpretrain.GaussianBlur', magnitude_range=(0.1, 2.0),
         magnitude_std='inf', prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]


@pytest.mark.parametrize('pipe,shape,out', [(FMNIST_VIEW, (8, 1, 32, 32),
                                             (8, 1, 28, 28)),
                                            (MOCO_VIEW, (8, 3, 40, 36),
                                             (8, 3, 32, 32))])
def test_pipeline_shapes_range_and_determinism(pipe, shape, out):
    x = torch.rand(shape) * 255
    a = apply_view_pipeline(x, pipe, seeded(5))
    assert a.shape == out and a.dtype == torch.float32
    assert a.min() >= 0 and a.max() <= 255 + 1e-3
    assert torch.equal(a, apply_view_pipeline(x, pipe, seeded(5)))
    assert not torch.equal(a, apply_view_pipeline(x, pipe, seeded(6)))
    # per-sample parameters: identical inputs get different views
    same = apply_view_pipeline(x[:1].repeat(8, 1, 1, 1), pipe, seeded(5))
    assert not torch.equal(same[0], same[1])
    q = quantize(a)
    assert torch.equal(q, q.round()) and q.max() <= 255
    ops = build_view_pipeline(pipe)
    assert torch.equal(apply_view_pipeline(x, ops, seeded(5)), a)


def test_pipeline_refuses_what_it_cannot_do():
    x = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match='Solarize'):
        build_view_pipeline([dict(type='Solarize', thr=128)])
    with pytest.raises(ValueError, match='LocalManifoldAugment'):
        build_view_pipeline([dict(type='mmmix.LocalManifoldAugment',
                                  prob=0.3)])
    with pytest.raises(ValueError, match='interpolation'):
        build_view_pipeline([dict(type='RandomResizedCrop', scale=8,
                                  interpolation='bicubic')])
    with pytest.raises(ValueError, match='keep_channels'):
        apply_view_pipeline(x, [dict(type='RandomGrayscale', prob=0.5)])
    with pytest.raises(ValueError, match='not supported'):
        build_view_pipeline([dict(type='RandomFlip', prob=0.5, foo=1)])
    with pytest.raises(ValueError, match='list'):
        build_view_pipeline(dict(type='RandomFlip', prob=0.5))
    with pytest.raises(ValueError, match='B, C'):
        apply_view_pipeline(torch.rand(3, 8, 8), [])
    with pytest.raises(TypeError, match='float'):
        apply_view_pipeline(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), [])


def test_random_params_come_from_the_generator_only():
    x = torch.rand(4, 3, 16, 16) * 255
    torch.manual_seed(0)
    a = apply_view_pipeline(x, MOCO_VIEW, seeded(1))
    torch.manual_seed(1)
    b = apply_view_pipeline(x, MOCO_VIEW, seeded(1))
    assert torch.equal(a, b)
    # the global RNG when no generator is given
    torch.manual_seed(3)
    a = apply_view_pipeline(x, MOCO_VIEW)
    torch.manual_seed(3)
    assert torch.equal(a, apply_view_pipeline(x, MOCO_VIEW))
    assert math.isfinite(float(a.sum()))
