"""DINOHead (spec U1): (B, K) logits, a unit-norm bottleneck, weight-normed
prototypes whose rows have norm g, g frozen iff ``norm_last_layer``, the
``last_layer`` naming the optimiser wrapper relies on, DINO's init, deepcopy
(the EMA teacher), the 1-layer and BatchNorm variants, argument checks."""
import copy

import pytest
import torch
import torch.nn as nn

from mmmix.models.heads import DINOHead
from mmmix.registry import MODELS
from mmmix.utils import register_all_modules

register_all_modules(init_default_scope=False)

IN, K, HID, BOT = 12, 20, 16, 8


def _head(**kw):
    torch.manual_seed(0)
    cfg = dict(in_channels=IN, out_channels=K, hidden_channels=HID,
               bottleneck_channels=BOT)
    cfg.update(kw)
    return DINOHead(**cfg)


def _gain(head):
    return head.last_layer.parametrizations.weight.original0


def _direction(head):
    return head.last_layer.parametrizations.weight.original1


def _bottleneck(head, x):
    """The input the prototype layer receives (forward pre-hook)."""
    seen = []
    handle = head.last_layer.register_forward_pre_hook(
        lambda mod, args: seen.append(args[0].detach()))
    out = head(x)
    handle.remove()
    return out, seen[0]


def test_registered_and_output_shape():
    head = MODELS.build(dict(type='DINOHead', in_channels=IN,
                             out_channels=K, hidden_channels=HID,
                             bottleneck_channels=BOT))
    assert isinstance(head, DINOHead)
    x = torch.randn(5, IN)
    assert head(x).shape == (5, K)
    # a backbone tuple: the last entry is used
    assert torch.equal(head((torch.zeros(5, 3), x)), head(x))
    assert head.last_layer.bias is None


def test_bottleneck_is_l2_normalised():
    head = _head()
    x = torch.randn(7, IN) * 10
    out, y = _bottleneck(head, x)
    assert y.shape == (7, BOT)
    torch.testing.assert_close(y.norm(dim=-1), torch.ones(7))
    # recomputed by hand: y = mlp(x) / |mlp(x)|
    z = head.mlp(x)
    torch.testing.assert_close(y, z / z.norm(dim=-1, keepdim=True))
    # and the logits are that unit vector times the effective weight
    torch.testing.assert_close(out, y @ head.last_layer.weight.t())


def test_mlp_layout_and_dino_init():
    head = _head(in_channels=64, hidden_channels=128, bottleneck_channels=32)
    linears = [m for m in head.mlp if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (64, 128), (128, 128), (128, 32)]
    assert sum(isinstance(m, nn.GELU) for m in head.mlp) == 2
    assert not any(isinstance(m, nn.BatchNorm1d) for m in head.mlp)
    for m in linears:
        assert torch.all(m.bias == 0)
        # trunc_normal_(std=.02) with torch's (and DINO's) default bounds
        # +-2, i.e. effectively N(0, 0.02^2)
        assert m.weight.std().item() == pytest.approx(0.02, rel=0.1)
    before = copy.deepcopy(head.state_dict())
    head.init_weights()  # no generic re-initialisation
    for k, v in head.state_dict().items():
        assert torch.equal(v, before[k]), k


@pytest.mark.parametrize('norm_last_layer', [True, False])
def test_effective_weight_rows_have_norm_g(norm_last_layer):
    head = _head(norm_last_layer=norm_last_layer)
    g = _gain(head)
    assert g.shape == (K, 1) and _direction(head).shape == (K, BOT)
    assert torch.all(g == 1)
    w = head.last_layer.weight
    assert w.shape == (K, BOT)
    torch.testing.assert_close(w.norm(dim=1), torch.ones(K))
    with torch.no_grad():
        g.copy_(torch.linspace(0.5, 2., K)[:, None])
        _direction(head).mul_(torch.linspace(0.1, 5., K)[:, None])
    torch.testing.assert_close(head.last_layer.weight.norm(dim=1),
                               torch.linspace(0.5, 2., K))


def test_norm_last_layer_freezes_g():
    head = _head(norm_last_layer=True)
    assert not _gain(head).requires_grad
    assert _direction(head).requires_grad
    head(torch.randn(4, IN)).pow(2).sum().backward()
    assert _gain(head).grad is None
    assert _direction(head).grad is not None
    assert _direction(head).grad.abs().sum() > 0
    # an optimiser step leaves g at 1
    opt = torch.optim.SGD([p for p in head.parameters() if p.requires_grad],
                          lr=1.)
    opt.step()
    assert torch.all(_gain(head) == 1)


def test_unfrozen_g_trains():
    head = _head(norm_last_layer=False)
    assert _gain(head).requires_grad
    opt = torch.optim.SGD(head.parameters(), lr=1.)
    head(torch.randn(4, IN)).pow(2).sum().backward()
    assert _gain(head).grad is not None
    assert _gain(head).grad.abs().sum() > 0
    opt.step()
    assert not torch.all(_gain(head) == 1)


def test_last_layer_parameter_names():
    head = _head(norm_last_layer=False)
    names = [n for n, _ in head.named_parameters()]
    last = [n for n in names if 'last_layer' in n]
    assert sorted(last) == [
        'last_layer.parametrizations.weight.original0',
        'last_layer.parametrizations.weight.original1']
    assert all(n.startswith('mlp.') for n in names if n not in last)
    frozen = _head(norm_last_layer=True)
    trainable = [n for n, p in frozen.named_parameters() if p.requires_grad]
    assert [n for n in trainable if 'last_layer' in n] == [
        'last_layer.parametrizations.weight.original1']


def test_deepcopy_is_independent_and_equal():
    head = _head(norm_last_layer=False)
    twin = copy.deepcopy(head)
    x = torch.randn(3, IN)
    assert torch.equal(twin(x), head(x))
    for (n1, p1), (n2, p2) in zip(head.named_parameters(),
                                  twin.named_parameters()):
        assert n1 == n2 and p1 is not p2
        assert p1.requires_grad == p2.requires_grad
    with torch.no_grad():
        _direction(twin).add_(1.)
    assert not torch.equal(twin(x), head(x))
    # the copy's weight is computed from the copy's own parameters
    torch.testing.assert_close(
        twin.last_layer.weight.norm(dim=1), torch.ones(K))
    # state dicts round-trip
    fresh = _head(norm_last_layer=False)
    fresh.load_state_dict(twin.state_dict())
    assert torch.equal(fresh(x), twin(x))


def test_single_layer_variant():
    head = _head(num_layers=1)
    assert len(head.mlp) == 1
    assert (head.mlp[0].in_features, head.mlp[0].out_features) == (IN, BOT)
    x = torch.randn(4, IN)
    out, y = _bottleneck(head, x)
    assert out.shape == (4, K)
    torch.testing.assert_close(y, torch.nn.functional.normalize(
        head.mlp[0](x), dim=-1))


def test_batchnorm_variant():
    head = _head(use_bn=True, num_layers=3)
    bns = [m for m in head.mlp if isinstance(m, nn.BatchNorm1d)]
    assert len(bns) == 2 and all(b.num_features == HID for b in bns)
    assert [type(m) for m in head.mlp] == [
        nn.Linear, nn.BatchNorm1d, nn.GELU, nn.Linear, nn.BatchNorm1d,
        nn.GELU, nn.Linear]
    head.train()
    x = torch.randn(6, IN)
    out = head(x)
    assert out.shape == (6, K) and torch.isfinite(out).all()
    assert not torch.all(bns[0].running_mean == 0)  # batch stats used
    head.eval()
    assert head(x[:1]).shape == (1, K)


@pytest.mark.parametrize('field,value', [
    ('num_layers', 0), ('in_channels', 0), ('out_channels', 0),
    ('hidden_channels', 0), ('bottleneck_channels', -1)])
def test_bad_arguments(field, value):
    with pytest.raises(ValueError, match=field):
        _head(**{field: value})
