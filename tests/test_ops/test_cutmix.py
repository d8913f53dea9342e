import pytest
import torch

from mmmix.ops import cutmix_boxes, pairwise_cutmix, sample_cutmix_params


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def inside_mask(boxes, h, w):
    """Loop reference: True inside each box."""
    m = torch.zeros(len(boxes), h, w, dtype=torch.bool)
    for i, (y1, y2, x1, x2) in enumerate(boxes.tolist()):
        m[i, y1:y2, x1:x2] = True
    return m


def test_sample_params_shapes_and_ranges():
    lam, centers = sample_cutmix_params(64, generator=gen())
    assert lam.shape == (64, ) and centers.shape == (64, 2)
    assert lam.dtype == centers.dtype == torch.float32
    assert ((lam >= 0) & (lam <= 1)).all()
    assert ((centers >= 0) & (centers < 1)).all()
    assert lam.unique().numel() > 1  # per sample by default


def test_sample_params_deterministic():
    a = sample_cutmix_params(16, prob=0.5, generator=gen(3))
    b = sample_cutmix_params(16, prob=0.5, generator=gen(3))
    c = sample_cutmix_params(16, prob=0.5, generator=gen(4))
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    assert not torch.equal(a[0], c[0])
    torch.manual_seed(7)
    d = sample_cutmix_params(16)
    torch.manual_seed(7)
    e = sample_cutmix_params(16)
    assert torch.equal(d[0], e[0]) and torch.equal(d[1], e[1])


def test_per_batch_shares_lam_and_centre():
    lam, centers = sample_cutmix_params(8, per_batch=True, generator=gen())
    assert lam.shape == (8, ) and lam.unique().numel() == 1
    assert (centers == centers[0]).all()


def test_prob():
    lam, _ = sample_cutmix_params(32, prob=0.0, generator=gen())
    assert (lam == 1).all()
    lam, _ = sample_cutmix_params(4000, prob=0.3, generator=gen())
    assert abs((lam < 1).float().mean().item() - 0.3) < 0.03


def test_boxes_within_bounds_and_rule():
    lam, centers = sample_cutmix_params(500, generator=gen())
    for h, w in ((224, 224), (160, 120), (7, 9)):
        boxes = cutmix_boxes(lam, centers, h, w)
        assert boxes.dtype == torch.int64 and boxes.shape == (500, 4)
        y1, y2, x1, x2 = boxes.unbind(1)
        assert ((0 <= y1) & (y1 <= y2) & (y2 <= h)).all()
        assert ((0 <= x1) & (x1 <= x2) & (x2 <= w)).all()
    # scalar reference of rand_bbox on a few samples
    boxes = cutmix_boxes(lam, centers, 160, 120)
    for i in range(20):
        rat = (1 - lam[i].item())**0.5
        cut_h, cut_w = int(160 * rat), int(120 * rat)
        cy = int(centers[i, 0].item() * 160)
        cx = int(centers[i, 1].item() * 120)
        ref = [
            min(max(cy - cut_h // 2, 0), 160),
            min(max(cy + cut_h // 2, 0), 160),
            min(max(cx - cut_w // 2, 0), 120),
            min(max(cx + cut_w // 2, 0), 120)
        ]
        assert boxes[i].tolist() == ref


def test_mix_pixels_mask_and_lam_hat():
    g = gen(1)
    a = torch.randn(16, 3, 20, 24, generator=g)
    b = torch.randn(16, 3, 20, 24, generator=g) + 10  # disjoint values
    a0, b0 = a.clone(), b.clone()
    lam, centers = sample_cutmix_params(16, generator=g)
    boxes = cutmix_boxes(lam, centers, 20, 24)
    mixed, lam_hat = pairwise_cutmix(a, b, boxes)
    assert torch.equal(a, a0) and torch.equal(b, b0)  # no in-place change
    assert mixed.shape == a.shape and mixed.dtype == a.dtype
    inside = inside_mask(boxes, 20, 24)[:, None].expand_as(a)
    assert torch.equal(mixed[inside], b[inside])
    assert torch.equal(mixed[~inside], a[~inside])
    # the implied mask is binary: every pixel comes from exactly one input
    from_a = mixed == a
    assert torch.equal(from_a, ~inside)
    frac_a = from_a[:, 0].float().mean((1, 2))
    torch.testing.assert_close(lam_hat, frac_a)
    assert lam_hat.dtype == torch.float32
    assert (lam_hat >= lam - 1e-6).all()  # clipping/rounding only shrink


def test_identity_when_lam_is_one():
    a, b = torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16)
    lam, centers = sample_cutmix_params(4, prob=0.0, generator=gen())
    boxes = cutmix_boxes(lam, centers, 16, 16)
    mixed, lam_hat = pairwise_cutmix(a, b, boxes)
    assert torch.equal(mixed, a) and (lam_hat == 1).all()
    boxes = cutmix_boxes(torch.ones(4), torch.rand(4, 2), 16, 16)
    assert torch.equal(pairwise_cutmix(a, b, boxes)[0], a)


@pytest.mark.parametrize('res,target', [(224, 0.675), (160, 0.676)])
def test_expected_lam_hat(res, target):
    lam, centers = sample_cutmix_params(100_000, alpha=2.0, generator=gen())
    assert abs(lam.mean().item() - 0.5) < 0.005
    boxes = cutmix_boxes(lam, centers, res, res)
    area = (boxes[:, 1] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 2])
    lam_hat = 1 - area.double() / res**2
    assert abs(lam_hat.mean().item() - target) < 0.01


def test_commutes_with_normalisation():
    g = gen(2)
    a = torch.rand(8, 3, 12, 12, generator=g) * 255
    b = torch.rand(8, 3, 12, 12, generator=g) * 255
    mean = torch.tensor([123.7, 116.3, 103.5]).view(1, 3, 1, 1)
    std = torch.tensor([58.4, 57.1, 57.4]).view(1, 3, 1, 1)
    boxes = cutmix_boxes(*sample_cutmix_params(8, generator=g), 12, 12)
    mixed, _ = pairwise_cutmix(a, b, boxes)
    mixed_n, _ = pairwise_cutmix((a - mean) / std, (b - mean) / std, boxes)
    torch.testing.assert_close(mixed_n, (mixed - mean) / std)


def test_same_params_consistent_across_resolutions():
    lam, centers = sample_cutmix_params(2000, generator=gen(5))
    b224 = cutmix_boxes(lam, centers, 224, 224).double()
    b160 = cutmix_boxes(lam, centers, 160, 160).double()
    # box edges at 224 mapped to the 160 grid agree within 2 pixels
    assert (b224 * 160 / 224 - b160).abs().max() <= 2
    a = torch.zeros(2000, 1, 1, 1)
    lam224 = pairwise_cutmix(a.expand(-1, -1, 224, 224),
                             a.expand(-1, -1, 224, 224), b224.long())[1]
    lam160 = pairwise_cutmix(a.expand(-1, -1, 160, 160),
                             a.expand(-1, -1, 160, 160), b160.long())[1]
    assert (lam224 - lam160).abs().max() < 0.05


def test_autograd_and_dtype():
    a = torch.rand(2, 3, 8, 8, requires_grad=True)
    b = torch.rand(2, 3, 8, 8, requires_grad=True)
    boxes = torch.tensor([[2, 6, 1, 5], [0, 0, 0, 0]])
    mixed, lam_hat = pairwise_cutmix(a, b, boxes)
    mixed.sum().backward()
    inside = inside_mask(boxes, 8, 8)[:, None].expand_as(a)
    assert torch.equal(a.grad, (~inside).float())
    assert torch.equal(b.grad, inside.float())
    torch.testing.assert_close(lam_hat, torch.tensor([0.75, 1.0]))
    ah = torch.zeros(2, 8, 8, dtype=torch.float16)
    bh = torch.ones(2, 8, 8, dtype=torch.float16)
    mixed, _ = pairwise_cutmix(ah, bh, boxes)  # (b, H, W) also works
    assert mixed.dtype == torch.float16 and mixed.sum().item() == 16


def test_errors():
    with pytest.raises(ValueError, match='alpha'):
        sample_cutmix_params(4, alpha=0.0)
    with pytest.raises(ValueError, match='alpha'):
        sample_cutmix_params(4, alpha=-1.0)
    with pytest.raises(ValueError, match='prob'):
        sample_cutmix_params(4, prob=1.5)
    with pytest.raises(ValueError, match='prob'):
        sample_cutmix_params(4, prob=-0.1)
    with pytest.raises(ValueError, match='batch_size'):
        sample_cutmix_params(0)
    with pytest.raises(ValueError, match='same shape'):
        pairwise_cutmix(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 5),
                        torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match='boxes'):
        pairwise_cutmix(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4),
                        torch.zeros(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match='height'):
        cutmix_boxes(torch.ones(2), torch.zeros(2, 2), 0, 4)
