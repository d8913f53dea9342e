import copy
import functools
import itertools
import math

import pytest
import torch
from torch import nn

from mmmix.ops import (
    expert_distances,
    truncate,
    w_perturb,
    w_search,
    wsearch_loss,
)

# spec 4.3 numeric example: anchor (1, 0), views (0.8, 0.6), (0.8, -0.6),
# (1, 0); eps1 = 0.3, eps2 = 0.8, lam = 0.01
ANCHOR = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
VIEWS = torch.tensor([[[0.8, 0.6], [0.8, -0.6], [1.0, 0.0]]],
                     dtype=torch.float64)


@pytest.mark.parametrize('form,uniformity,total', [
    ('paper', 0.0, 0.103684),
    ('code', 0.055848, 0.104243),
])
def test_spec_numeric_example(form, uniformity, total):
    loss, terms = wsearch_loss(VIEWS, ANCHOR, 0.3, 0.8, 0.01, form=form)
    assert torch.allclose(terms['anchor_dist'],
                          torch.tensor([[0.632456, 0.632456, 0.0]],
                                       dtype=torch.float64), atol=1e-6)
    assert float(terms['boundary']) == pytest.approx(0.103684, abs=1e-6)
    assert float(terms['uniformity']) == pytest.approx(uniformity, abs=1e-6)
    assert float(loss) == pytest.approx(total, abs=1e-6)


def brute_force_loss(hv, ha, eps1, eps2, lam, form):
    """Eq. 3 with python loops, one image at a time."""
    per_image = []
    for views, anchor in zip(hv.tolist(), ha.tolist()):
        n = len(views)
        dist = [math.dist(v, anchor) for v in views]
        bnd = sum((d - eps1)**2 for d in dist) / n
        uni = 0.0
        if n > 1:
            pair = [[math.dist(a, b) for b in views] for a in views]
            if form == 'code':
                uni = sum(max(0.0, eps2 - sum(row) / (n - 1))
                          for row in pair) / n
            else:
                dbar = sum(map(sum, pair)) / (n * (n - 1))
                uni = max(0.0, eps2 - dbar)
        per_image.append(bnd + lam * uni)
    return sum(per_image) / len(per_image)


@pytest.mark.parametrize(
    'form,n', [(f, n) for f in ('code', 'paper') for n in (1, 2, 5)])
def test_loss_matches_brute_force(form, n):
    g = torch.Generator().manual_seed(n)
    hv = nn.functional.normalize(
        torch.randn(3, n, 6, generator=g, dtype=torch.float64), dim=-1)
    ha = nn.functional.normalize(
        torch.randn(3, 6, generator=g, dtype=torch.float64), dim=-1)
    for eps2 in (0.3, 1.4, 1.9):  # none, some and all views under eps2
        loss, _ = wsearch_loss(hv, ha, 0.4, eps2, 0.5, form=form)
        assert float(loss) == pytest.approx(
            brute_force_loss(hv, ha, 0.4, eps2, 0.5, form), abs=1e-12)


@pytest.mark.parametrize('form', ['code', 'paper'])
def test_uniformity_zero_when_satisfied_and_n1(form):
    # orthonormal views: every pairwise distance is sqrt(2) > eps2
    hv = torch.eye(4, dtype=torch.float64)[None, :3]
    ha = torch.eye(4, dtype=torch.float64)[None, 3]
    loss, terms = wsearch_loss(hv, ha, 0.3, 1.2, 10.0, form=form)
    assert float(terms['uniformity']) == 0.0
    assert float(loss) == pytest.approx((math.sqrt(2) - 0.3)**2, abs=1e-12)
    # n = 1: no uniformity term whatever eps2 and lam
    loss1, terms1 = wsearch_loss(hv[:, :1], ha, 0.3, 2.0, 10.0, form=form)
    assert float(terms1['uniformity']) == 0.0
    assert float(loss1) == pytest.approx((math.sqrt(2) - 0.3)**2, abs=1e-12)


def test_loss_gradient_finite_at_coincident_views():
    ha = torch.tensor([[1.0, 0.0, 0.0]])
    hv = ha[:, None].repeat(1, 3, 1).requires_grad_(True)
    loss, _ = wsearch_loss(hv, ha, 0.3, 0.5, 0.01)
    loss.backward()
    assert torch.isfinite(hv.grad).all()


def test_loss_bad_inputs():
    with pytest.raises(ValueError, match='form'):
        wsearch_loss(VIEWS, ANCHOR, 0.3, 0.8, 0.01, form='mean')
    with pytest.raises(ValueError, match='eps1'):
        wsearch_loss(VIEWS, ANCHOR, -0.3, 0.8, 0.01)
    with pytest.raises(ValueError, match='h_anchor'):
        wsearch_loss(VIEWS, ANCHOR[0], 0.3, 0.8, 0.01)


def test_truncate():
    w = torch.tensor([[[1.0, 2.0], [3.0, -1.0]]])
    avg = torch.tensor([0.0, 1.0])
    assert torch.allclose(truncate(w, avg, 0.7),
                          torch.tensor([[[0.7, 1.7], [2.1, -0.4]]]))
    assert torch.equal(truncate(w, avg, 1.0), w)
    assert torch.equal(truncate(w, avg, 0.0), avg.expand_as(w))
    with pytest.raises(ValueError, match='w_avg'):
        truncate(w, torch.zeros(3), 0.5)


def test_w_perturb_gauss_std():
    ws = torch.full((100, 10, 100), 0.5, dtype=torch.float64)  # 1e5 entries
    g = torch.Generator().manual_seed(0)
    out = w_perturb(ws, 0.2, generator=g)
    noise = out - ws
    assert abs(float(noise.std()) - 0.2) < 0.05 * 0.2
    assert abs(float(noise.mean())) < 0.01
    assert torch.equal(w_perturb(ws, 0.0), ws)
    # the generator makes it reproducible
    again = w_perturb(ws, 0.2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again, out)


def test_w_perturb_proj_radius():
    ws = torch.randn(7, 8, 512, dtype=torch.float64)
    out = w_perturb(ws, 0.2, mode='proj',
                    generator=torch.Generator().manual_seed(1))
    norms = torch.linalg.vector_norm((out - ws).reshape(7, -1), dim=1)
    expected = 0.2 * math.sqrt(8 * 512)  # sigma sqrt(K'), K' = 4096
    assert torch.allclose(norms, torch.full_like(norms, expected),
                          rtol=1e-12, atol=0)
    # random directions, not one shared noise vector
    d = (out - ws).reshape(7, -1)
    assert not torch.allclose(d[0], d[1])
    with pytest.raises(ValueError, match='mode'):
        w_perturb(ws, 0.2, mode='ball')
    with pytest.raises(ValueError, match='sigma'):
        w_perturb(ws, -0.1)


# ---------------------------------------------------------------- w_search
class TinySynthesis(nn.Module):
    """W+ [L=2, D=16] -> 1x8x8, tanh; scale > 1 overshoots [-1, 1]."""

    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(32, 64), nn.BatchNorm1d(64), nn.Tanh(),
            nn.Linear(64, 64))

    def forward(self, ws):
        return self.scale * torch.tanh(self.net(ws)).view(-1, 1, 8, 8)


class TinyEncoder(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(256, 16)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))


@pytest.fixture
def nets():
    torch.manual_seed(0)
    g, f = TinySynthesis(), TinyEncoder()
    with torch.no_grad():  # non-trivial BN running statistics
        for _ in range(3):
            f(g(torch.randn(32, 2, 16)))
    w0 = torch.randn(3, 2, 16)
    return g, f, w0


def search(g, f, w0, **kwargs):
    kw = dict(n_views=4, eps1=0.3, eps2=0.5, steps=200, tol=0.0,
              generator=torch.Generator().manual_seed(1))
    kw.update(kwargs)
    return w_search(w0, g, f, **kw)


def test_w_search_start(nets):
    g, f, w0 = nets
    views, ws, info = search(g, f, w0, steps=0)
    assert ws.shape == (4, 3, 2, 16) and views.shape == (4, 3, 1, 8, 8)
    assert info['steps'] == 0 and info['history'] == []
    assert torch.equal(ws[0], w0)  # copy 0 starts exactly at w0
    for k in range(1, 4):
        delta = (ws[k] - w0).abs()
        assert 0 < float(delta.max()) < 0.001 * 6
    g.eval()
    assert torch.allclose(views, g(ws.reshape(12, 2, 16)).view(4, 3, 1, 8, 8)
                          .clamp(-1, 1), atol=1e-6)
    # copy 0 reproduces the anchor: distance 0
    assert torch.allclose(info['anchor_dist'][0], torch.zeros(3), atol=1e-5)


@pytest.mark.parametrize('form', ['code', 'paper'])
def test_w_search_reaches_eps1_and_keeps_nets(nets, form):
    g, f, w0 = nets
    g.train()
    f.train()
    f.fc.weight.requires_grad_(False)  # a mixed state to restore
    before = {k: v.clone() for k, v in
              itertools.chain(g.state_dict(prefix='g.').items(),
                              f.state_dict(prefix='f.').items())}
    flags = {n: p.requires_grad for n, p in
             itertools.chain(g.named_parameters('g'),
                             f.named_parameters('f'))}
    _, _, info = search(g, f, w0, form=form)
    assert info['steps'] == 200
    assert abs(float(info['anchor_dist'].mean()) - 0.3) < 0.05
    assert info['history'][-1] < 0.1 * info['history'][0]
    after = dict(itertools.chain(g.state_dict(prefix='g.').items(),
                                 f.state_dict(prefix='f.').items()))
    for k, v in before.items():  # weights and BN buffers
        assert torch.equal(after[k], v), k
    assert g.training and f.training
    assert flags == {n: p.requires_grad for n, p in
                     itertools.chain(g.named_parameters('g'),
                                     f.named_parameters('f'))}
    assert all(p.grad is None
               for p in itertools.chain(g.parameters(), f.parameters()))


def test_w_search_early_stop(nets):
    g, f, w0 = nets
    _, _, full = search(g, f, w0, steps=150, tol=0.0)
    _, _, early = search(g, f, w0, steps=150, tol=1e-3)
    assert full['steps'] == 150
    assert 0 < early['steps'] < 150
    assert early['loss'] <= 1e-3 < early['history'][-2]
    assert len(early['history']) == early['steps'] + 1
    assert torch.equal(early['stop_step'], torch.full((3, ), early['steps']))


def test_w_search_sample_stop_freezes_converged_images(nets):
    g, f, w0 = nets
    _, ws, info = search(g, f, w0, steps=150, tol=2e-3, stop='sample')
    stop_step = info['stop_step']
    assert info['converged'].all()
    assert info['steps'] == int(stop_step.max()) < 150
    assert len(set(stop_step.tolist())) > 1  # images stop at their own step
    for i, s in enumerate(stop_step.tolist()):
        # the image's latents do not move after its own stop step
        _, ws_i, _ = search(g, f, w0, steps=s, tol=0.0)
        assert torch.allclose(ws[:, i], ws_i[:, i], atol=1e-6)


def test_w_search_anchor_orig_and_clamp(nets):
    g, f, w0 = nets
    with torch.no_grad():
        x_rec = g.eval()(w0).clamp(-1, 1)
    _, ws_r, _ = search(g, f, w0, steps=20)
    _, ws_o, info = search(g, f, w0, steps=20, anchor='orig', x_orig=x_rec)
    assert torch.allclose(ws_r, ws_o, atol=1e-6)
    _, _, shifted = search(g, f, w0, steps=0, anchor='orig',
                           x_orig=-x_rec)
    assert float(shifted['anchor_dist'][0].min()) > 0.01
    with pytest.raises(ValueError, match='x_orig'):
        search(g, f, w0, anchor='orig')
    # an overshooting synthesis is clamped, through a partial of a method
    big = TinySynthesis(scale=3.0)
    views, _, _ = search(functools.partial(big.forward), f, w0, steps=2)
    assert views.abs().max() == 1.0
    assert big.training  # mode and flags restored
    assert all(p.requires_grad for p in big.parameters())


def test_w_search_lambda_needs_modules(nets):
    g, f, w0 = nets
    with pytest.warns(UserWarning, match='modules='):
        search(lambda w: g(w), f, w0, steps=1)
    g.train()
    state = copy.deepcopy(g.state_dict())
    search(lambda w: g(w), f, w0, steps=3, modules=[g])
    assert all(torch.equal(v, state[k]) for k, v in g.state_dict().items())
    assert g.training


def test_w_search_bad_args(nets):
    g, f, w0 = nets
    for kwargs, field in [(dict(n_views=0), 'n_views'),
                          (dict(steps=-1), 'steps'), (dict(lr=0.0), 'lr'),
                          (dict(stop='image'), 'stop'),
                          (dict(anchor='x'), 'anchor')]:
        with pytest.raises(ValueError, match=field):
            search(g, f, w0, **kwargs)
    with pytest.raises(ValueError, match='w0'):
        search(g, f, w0[0])


# ---------------------------------------------------- expert_distances
def test_expert_distances(nets):
    _, f, _ = nets
    f.train()
    state = copy.deepcopy(f.state_dict())
    x = torch.rand(10, 1, 8, 8) * 2 - 1
    same = expert_distances(f, x, lambda b: b, n_pairs=2, batch_size=4)
    assert same['anchor_expert'] == 0.0 and same['expert_expert'] == 0.0
    assert same['num_pairs'] == 20

    # deterministic flip: t1 = t2, so expert<->expert is 0 and
    # anchor<->expert is the mean flip distance computed by hand
    flip = functools.partial(torch.flip, dims=(3, ))
    out = expert_distances(f, x, flip)
    f.eval()
    with torch.no_grad():
        h0 = nn.functional.normalize(f(x), dim=1)
        h1 = nn.functional.normalize(f(flip(x)), dim=1)
    f.train()
    assert out['anchor_expert'] == pytest.approx(
        float((h0 - h1).norm(dim=1).mean()), abs=1e-6)
    assert out['expert_expert'] == 0.0

    g = torch.Generator().manual_seed(0)
    noisy = expert_distances(
        f, x, lambda b: b + torch.randn(b.shape, generator=g), n_pairs=3)
    for key in ('anchor_expert', 'expert_expert'):
        assert 0 < noisy[key] <= 2
    assert f.training
    for k, v in f.state_dict().items():  # BN running stats untouched
        assert torch.equal(v, state[k]), k
    with pytest.raises(ValueError, match='n_pairs'):
        expert_distances(f, x, flip, n_pairs=0)
