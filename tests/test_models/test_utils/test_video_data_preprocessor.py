"""VideoSelfSupDataPreprocessor (spec U11)."""
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate

from mmmix.datasets.transforms import PackClipInputs
from mmmix.models.utils import VideoSelfSupDataPreprocessor
from mmmix.registry import MODELS

MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)


def manual(x, mean=MEAN, std=STD):
    shape = [1] * (x.dim() - 3) + [3, 1, 1]
    return (x.float() - torch.tensor(mean).view(shape)) / torch.tensor(
        std).view(shape)


def test_normalisation_on_5d_clips_matches_manual():
    pre = MODELS.build(
        dict(type='VideoSelfSupDataPreprocessor', mean=MEAN, std=STD))
    x = torch.randint(0, 256, (2, 3, 3, 8, 10), dtype=torch.uint8)
    out = pre(dict(inputs=[x], data_samples=None))
    assert isinstance(out['inputs'], list) and len(out['inputs']) == 1
    y = out['inputs'][0]
    assert y.dtype == torch.float32 and y.shape == x.shape
    torch.testing.assert_close(y, manual(x), rtol=0, atol=1e-5)
    # per channel on axis -3, not on T: check one element by hand
    b, t, c, i, j = 1, 2, 0, 3, 4
    expect = (float(x[b, t, c, i, j]) - MEAN[c]) / STD[c]
    assert abs(float(y[b, t, c, i, j]) - expect) < 1e-5


def test_colour_swap_on_channel_axis_not_time():
    pre = VideoSelfSupDataPreprocessor(to_rgb=True)
    # x[b, t, c] = 10 t + c with T = C = 3: the values tell the two axes
    # apart, so a swap on T (the stock preprocessor's [:, [2, 1, 0]]) fails
    t_idx = torch.arange(3).view(1, 3, 1, 1, 1)
    c_idx = torch.arange(3).view(1, 1, 3, 1, 1)
    x = (10 * t_idx + c_idx).expand(2, 3, 3, 4, 4).to(torch.uint8)
    y = pre(dict(inputs=[x]))['inputs'][0]
    assert torch.equal(y, (10 * t_idx + (2 - c_idx)).expand_as(y).float())
    both = VideoSelfSupDataPreprocessor(mean=MEAN, std=STD, bgr_to_rgb=True)
    x = torch.randint(0, 256, (2, 4, 3, 5, 5), dtype=torch.uint8)
    y = both(dict(inputs=[x]))['inputs'][0]
    torch.testing.assert_close(y, manual(x.flip(2)), rtol=0, atol=1e-5)


def test_views_of_different_sizes_and_4d():
    pre = VideoSelfSupDataPreprocessor(mean=MEAN, std=STD)
    g = torch.randint(0, 256, (2, 3, 3, 16, 16), dtype=torch.uint8)
    loc = torch.randint(0, 256, (2, 3, 3, 8, 8), dtype=torch.uint8)
    img = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    out = pre(dict(inputs=[g, loc, loc, img], data_samples=['a', 'b']))
    assert [tuple(v.shape) for v in out['inputs']] == [(2, 3, 3, 16, 16),
                                                       (2, 3, 3, 8, 8),
                                                       (2, 3, 3, 8, 8),
                                                       (2, 3, 16, 16)]
    for v, x in zip(out['inputs'], [g, loc, loc, img]):
        torch.testing.assert_close(v, manual(x), rtol=0, atol=1e-5)
    assert out['data_samples'] == ['a', 'b']
    single = pre(dict(inputs=g))['inputs']  # a tensor, not a list
    assert isinstance(single, torch.Tensor)
    torch.testing.assert_close(single, manual(g), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match=r'\(B, T, C, H, W\)'):
        pre(dict(inputs=[torch.zeros(3, 4, 4)]))
    with pytest.raises(ValueError, match='3 channels'):
        VideoSelfSupDataPreprocessor(to_rgb=True)(
            dict(inputs=[torch.zeros(1, 2, 1, 4, 4)]))


def test_after_pack_and_default_collate():
    rng = np.random.default_rng(0)
    items = []
    for i in range(2):
        views = [[rng.integers(0, 256, (s, s, 3), dtype=np.uint8)
                  for _ in range(3)] for s in (16, 8)]
        items.append(PackClipInputs()(dict(imgs=views, sample_idx=i)))
    batch = default_collate(items)
    pre = VideoSelfSupDataPreprocessor(mean=MEAN, std=STD)
    out = pre(batch)
    assert [tuple(v.shape) for v in out['inputs']] == [(2, 3, 3, 16, 16),
                                                       (2, 3, 3, 8, 8)]
    x = items[1]['inputs'][1]  # (T, C, h, w)
    torch.testing.assert_close(
        out['inputs'][1][1], manual(x), rtol=0, atol=1e-5)
    assert [s.sample_idx for s in out['data_samples']] == [0, 1]
