"""DiffAugment: policy parsing, integer zero-padded translations of at
most ``ratio * size`` pixels, cutout squares of the expected size, colour
shifts on constant images, gradients, the identity for an empty policy."""
import numpy as np
import pytest
import torch

from mmmix.ops.diffaugment import (
    DIFFAUG_POLICIES,
    diff_augment,
    parse_policy,
)


def test_parse_policy():
    assert parse_policy('color,translation,cutout') == DIFFAUG_POLICIES
    assert parse_policy(' cutout , color ') == ('cutout', 'color')
    assert parse_policy(['translation']) == ('translation', )
    assert parse_policy(None) == () and parse_policy('') == ()
    with pytest.raises(ValueError, match=r"\['rotate'\]"):
        parse_policy('color,rotate')
    with pytest.raises(ValueError, match='must be in'):
        parse_policy(['Color'])


def _shift_zero_fill(img, dy, dx):
    """``out[y, x] = img[y + dy, x + dx]``, zero outside (numpy)."""
    h, w = img.shape[-2:]
    out = np.zeros_like(img)
    for y in range(h):
        for x in range(w):
            if 0 <= y + dy < h and 0 <= x + dx < w:
                out[..., y, x] = img[..., y + dy, x + dx]
    return out


@pytest.mark.parametrize('size,ratio', [(16, 0.125), (8, 0.25), (12, 0.2)])
def test_translation_is_a_zero_padded_integer_shift(size, ratio):
    b, c = 200, 3
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 1, (b, c, size, size)).astype(np.float32)
    cy = cx = size // 2
    x[:, :, cy, cx] = 5.0  # a marker pixel: the shift is where it went
    gen = torch.Generator().manual_seed(0)
    out = diff_augment(torch.from_numpy(x), ['translation'],
                       translation_ratio=ratio, generator=gen).numpy()
    assert out.shape == x.shape
    limit = int(size * ratio + 0.5)
    shifts = set()
    for i in range(b):
        ys, xs = np.nonzero(out[i, 0] == 5.0)
        assert len(ys) == 1, i  # the marker never leaves a centred image
        dy, dx = cy - ys[0], cx - xs[0]
        assert abs(dy) <= limit and abs(dx) <= limit
        shifts.add((int(dy), int(dx)))
        np.testing.assert_array_equal(out[i], _shift_zero_fill(x[i], dy, dx))
    # every shift in [-limit, limit]^2 occurs
    assert shifts == {(dy, dx) for dy in range(-limit, limit + 1)
                      for dx in range(-limit, limit + 1)}


@pytest.mark.parametrize('size,ratio', [(16, 0.5), (8, 0.5), (9, 0.3)])
def test_cutout_zeroes_one_square(size, ratio):
    b = 300
    x = torch.rand(b, 2, size, size) + 0.5  # no zeros before
    gen = torch.Generator().manual_seed(1)
    out = diff_augment(x, ['cutout'], cutout_ratio=ratio, generator=gen)
    assert out.shape == x.shape
    side = int(size * ratio + 0.5)
    full = 0
    for i in range(b):
        zero = (out[i] == 0).numpy()
        assert (zero[0] == zero[1]).all()  # same hole in every channel
        ys, xs = np.nonzero(zero[0])
        assert len(ys) > 0
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        assert zero[0, y0:y1, x0:x1].all()  # a filled rectangle
        assert len(ys) == (y1 - y0) * (x1 - x0)
        # a side-long square, clipped by the border only
        for lo, hi in ((y0, y1), (x0, x1)):
            assert hi - lo <= side
            assert hi - lo == side or lo == 0 or hi == size
        full += (y1 - y0 == side) and (x1 - x0 == side)
        keep = ~zero
        torch.testing.assert_close(out[i][torch.from_numpy(keep)],
                                   x[i][torch.from_numpy(keep)])
    assert full > b // 10  # most holes lie inside the image


@pytest.mark.parametrize('channels', [1, 3])
def test_color_on_a_constant_image_adds_a_bounded_offset(channels):
    x = torch.full((64, channels, 4, 4), 0.2)
    out = diff_augment(x, ['color'],
                       generator=torch.Generator().manual_seed(0))
    per_sample = out.flatten(1)
    # contrast and saturation keep a constant image; brightness shifts it
    torch.testing.assert_close(per_sample, per_sample[:, :1].expand_as(
        per_sample))
    offset = per_sample[:, 0] - 0.2
    assert offset.abs().max() <= 0.5 + 1e-6
    assert offset.std() > 0.1  # U(-0.5, 0.5): std 0.29


def test_color_scales_contrast_around_the_mean():
    x = torch.randn(32, 1, 6, 6)
    out = diff_augment(x, ['color'],
                       generator=torch.Generator().manual_seed(0))
    dev_in = x - x.mean((1, 2, 3), keepdim=True)
    dev_out = out - out.mean((1, 2, 3), keepdim=True)
    factor = (dev_out.flatten(1) / dev_in.flatten(1))
    # one contrast factor per sample, in [0.5, 1.5]
    torch.testing.assert_close(factor, factor[:, :1].expand_as(factor),
                               rtol=1e-4, atol=1e-4)
    assert factor.min() >= 0.5 - 1e-4 and factor.max() <= 1.5 + 1e-4


@pytest.mark.parametrize('policy', [('color', ), ('translation', ),
                                    ('cutout', ), DIFFAUG_POLICIES])
def test_shape_gradient_and_seeded_determinism(policy):
    x = torch.randn(6, 3, 8, 8, requires_grad=True)
    out = diff_augment(x, policy)
    assert out.shape == x.shape
    (out * torch.randn_like(out)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    a = diff_augment(x, policy, generator=torch.Generator().manual_seed(3))
    b = diff_augment(x, policy, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    c = diff_augment(x, policy, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(a, c)


def test_translation_gradient_is_the_transposed_shift():
    x = torch.randn(4, 1, 8, 8, requires_grad=True)
    out = diff_augment(x, ['translation'],
                       generator=torch.Generator().manual_seed(0))
    out.sum().backward()
    # each input pixel lands at most once: gradient 1 where it is kept
    assert set(x.grad.unique().tolist()) <= {0.0, 1.0}
    assert int(x.grad.sum()) == int((out != 0).sum())


def test_empty_policy_is_identity():
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(diff_augment(x, ()), x)
    assert torch.equal(diff_augment(x, parse_policy(None)), x)
