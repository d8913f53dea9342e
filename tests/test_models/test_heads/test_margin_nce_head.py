import math

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.heads import ContrastiveHead

from mmmix.models.heads import MarginNCEHead
from mmmix.ops.contrastive import margin_positive


def _cosines(b=6, k=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = F.normalize(torch.randn(b, 8, generator=g), dim=1)
    pos = F.normalize(torch.randn(b, 8, generator=g), dim=1)
    neg = F.normalize(torch.randn(k, 8, generator=g), dim=1)
    return (q * pos).sum(1, keepdim=True), q @ neg.T


def test_zero_margin_is_contrastive_head():
    pos, neg = _cosines()
    ref = ContrastiveHead(loss=dict(type='CrossEntropyLoss'),
                          temperature=0.2).loss(pos.clone(), neg.clone())
    for margin_type in ('cos', 'arc'):
        head = MarginNCEHead(temperature=0.2, margin=0.,
                             margin_type=margin_type)
        torch.testing.assert_close(head.loss(pos, neg), ref)


@pytest.mark.parametrize('m,t,expected', [
    (-0.5, 0.2, 0.018150), (0., 0.2, 0.201413), (0.5, 0.2, 1.313262),
    (-0.5, 0.1, 0.000335), (0., 0.1, 0.048587), (0.5, 0.1, 2.126928),
])
def test_one_negative_closed_form(m, t, expected):
    """softplus((cos- - cos+ + m) / t) at cos+ = 0.5, cos- = 0.2 (the
    spec's table)."""
    head = MarginNCEHead(temperature=t, margin=m)
    pos, neg = torch.tensor([[0.5]], dtype=torch.float64), torch.tensor(
        [[0.2]], dtype=torch.float64)
    out = head.loss(pos, neg)
    assert abs(float(out) - expected) < 1e-6
    assert abs(float(out) - math.log1p(math.exp((0.2 - 0.5 + m) / t))) \
        < 1e-12


def test_three_negatives_float64_reference_and_monotone():
    pos = torch.tensor([[0.5]], dtype=torch.float64)
    neg = torch.tensor([[0.2, 0.1, -0.3]], dtype=torch.float64)
    values = []
    for m in (-0.5, -0.2, 0., 0.2, 0.5):
        ref = -((0.5 - m) / 0.2) + math.log(
            math.exp((0.5 - m) / 0.2) +
            sum(math.exp(c / 0.2) for c in (0.2, 0.1, -0.3)))
        out = float(MarginNCEHead(temperature=0.2, margin=m).loss(pos, neg))
        assert abs(out - ref) < 1e-12
        values.append(out)
    assert values == sorted(values)


def test_margin_touches_only_the_positive_and_temperature_override():
    pos, neg = _cosines(b=4, k=5)
    head = MarginNCEHead(temperature=0.2, margin=0.3)
    plain = MarginNCEHead(temperature=0.2)
    torch.testing.assert_close(head.loss(pos, neg), plain.loss(pos - 0.3,
                                                               neg))
    torch.testing.assert_close(head.loss(pos, neg, temperature=0.1),
                               MarginNCEHead(temperature=0.1,
                                             margin=0.3).loss(pos, neg))
    with pytest.raises(ValueError, match=r'\(b, 1\)'):
        head.loss(pos.view(-1), neg)


def test_gradcheck():
    pos, neg = _cosines(b=3, k=4)
    pos = pos.double().clamp(-0.9, 0.9).requires_grad_()
    neg = neg.double().requires_grad_()
    for margin_type in ('cos', 'arc'):
        head = MarginNCEHead(temperature=0.2, margin=0.3,
                             margin_type=margin_type)
        assert torch.autograd.gradcheck(lambda p, n: head.loss(p, n),
                                        (pos, neg))


@pytest.mark.parametrize('m', [0.3, 0.5, -0.3, -0.5])
def test_arc_margin(m):
    theta = torch.linspace(0.01, math.pi - 0.01, 2001, dtype=torch.float64)
    out = margin_positive(theta.cos(), m, 'arc')
    valid = (theta + m > 0) & (theta + m < math.pi)
    torch.testing.assert_close(out[valid], (theta[valid] + m).cos())
    # the linear continuation meets cos(theta + m) to second order in m
    # at the switch
    switch = math.pi - m if m > 0 else -m
    at = torch.tensor([math.cos(switch)], dtype=torch.float64)
    lo = margin_positive(at + 1e-9, m, 'arc')
    hi = margin_positive(at - 1e-9, m, 'arc')
    assert abs(float(lo - hi)) <= m * m
    # monotone decreasing in theta, like the cosine it replaces
    assert (out[1:] <= out[:-1] + 1e-12).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match='margin_type'):
        MarginNCEHead(margin_type='angle')
    with pytest.raises(ValueError, match='temperature'):
        MarginNCEHead(temperature=0.)
    with pytest.raises(ValueError, match='arc margin'):
        MarginNCEHead(margin=2., margin_type='arc')
    with pytest.raises(ValueError, match='margin_type'):
        margin_positive(torch.zeros(2), 0.1, 'angle')
