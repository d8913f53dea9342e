import copy

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.structures import DataSample
from scipy import stats

from mmmix.datasets import FeatureBank
from mmmix.models.utils import LMASelfSupDataPreprocessor
from mmmix.registry import MODELS
from mmmix.utils import register_all_modules

NUM_ROWS = 6
REAL = 7  # the value of the real views (not a multiple of 51)


class PaintGenerator(nn.Module):
    """Paints every pixel of sample ``b`` with ``-1 + 2 i / 5``, where
    ``i = argmax(cond[b])`` (bank row ``i`` is the one-hot ``e_i``): uint8
    ``51 i``. With ``mark_z`` pixel (0, 0) holds ``z[b, 0] / 4`` (which
    latent was drawn). Colour: channel 0 (R) as above, channel 1 (G) 0
    (uint8 128), channel 2 (B) 1 (uint8 255)."""

    def __init__(self, z_dim=4, cond_dim=NUM_ROWS, img_channels=1,
                 resolution=8, mark_z=True):
        super().__init__()
        self.z_dim, self.cond_dim = z_dim, cond_dim
        self.img_channels, self.resolution = img_channels, resolution
        self.mark_z = mark_z
        self.calls = []

    def forward(self, z, cond=None, truncation_psi=1.0, noise_mode='random'):
        self.calls.append(len(z))
        r = self.resolution
        value = -1 + 2 * cond.argmax(1).float() / (NUM_ROWS - 1)
        out = value.view(-1, 1, 1, 1).repeat(1, self.img_channels, r, r)
        if self.img_channels == 3:
            out[:, 1] = 0
            out[:, 2] = 1
        if self.mark_z:
            out[:, :, 0, 0] = (z[:, :1] / 4).clamp(-1, 1)
        return out.to(z.device)


@pytest.fixture(scope='module')
def bank(tmp_path_factory):
    path = tmp_path_factory.mktemp('bank')
    FeatureBank.save(str(path), np.eye(NUM_ROWS))
    return FeatureBank.load(str(path))


def batch(indices, views=2, shape=(1, 8, 8), value=REAL, dtype=torch.uint8):
    inputs = [torch.full((len(indices), *shape), value, dtype=dtype)
              for _ in range(views)]
    samples = [DataSample(metainfo=dict(sample_idx=int(i)))
               for i in indices]
    return dict(inputs=inputs, data_samples=samples)


def build(bank, prob, **kw):
    gen = kw.pop('gen', None) or PaintGenerator(
        **kw.pop('gen_kw', {}))
    return LMASelfSupDataPreprocessor(prob=prob, generator=gen, bank=bank,
                                      **kw)


def test_prob_zero_or_eval_is_the_parent(bank):
    ref = SelfSupDataPreprocessor(mean=[72.9], std=[90.0])
    rng = np.random.default_rng(0)
    inputs = [torch.from_numpy(rng.integers(0, 256, (5, 1, 8, 8),
                                            dtype=np.uint8))
              for _ in range(2)]
    data = dict(inputs=inputs,
                data_samples=[DataSample(metainfo=dict(sample_idx=i))
                              for i in range(5)])
    want = ref(copy.deepcopy(data), True)['inputs']
    for prob, training in ((0.0, True), (1.0, False)):
        pre = build(bank, prob, mean=[72.9], std=[90.0])
        got = pre(copy.deepcopy(data), training)['inputs']
        assert len(got) == 2
        for a, b in zip(got, want):
            assert torch.equal(a, b)
        assert pre._sampler is None  # the generator is never built


def test_prob_one_replaces_every_view_with_its_row(bank):
    idx = [3, 0, 5, 3, 1]
    gen = PaintGenerator()
    pre = build(bank, 1.0, gen=gen, mean=[10.0], std=[2.0])
    out = pre(batch(idx), True)
    views = out['inputs']
    assert len(views) == 2 and len(out['data_samples']) == 5
    for x in views:
        assert x.shape == (5, 1, 8, 8) and x.dtype == torch.float32
        pix = x * 2 + 10  # undo the normalisation
        for b, i in enumerate(idx):
            body = pix[b, 0].flatten()[1:]  # pixel (0, 0) holds z
            assert torch.allclose(body, torch.tensor(51.0 * i)), (b, i)
    # ONE generator call for all 10 views; fresh z per view
    assert gen.calls == [10]
    assert not torch.equal(views[0][:, 0, 0, 0], views[1][:, 0, 0, 0])
    assert pre.last_replaced_fraction == 1.0
    assert (pre.num_replaced_views, pre.num_views_seen) == (10, 10)


def test_a_single_view_tensor_and_float_inputs_are_not_modified(bank):
    pre = build(bank, 1.0)
    data = batch([2, 4], views=1, dtype=torch.float32)
    data['inputs'] = data['inputs'][0]
    before = data['inputs'].clone()
    out = pre(data, True)['inputs']
    assert isinstance(out, torch.Tensor) and out.shape == (2, 1, 8, 8)
    assert torch.equal(data['inputs'], before)
    assert torch.allclose(out[1, 0, 1:], torch.tensor(204.0))


def test_view_pipeline_runs_on_generated_views(bank):
    pipe = [dict(type='RandomResizedCrop', scale=6, crop_ratio_range=(0.5,
                                                                      1.)),
            dict(type='RandomApply', prob=1.0,
                 transforms=[dict(type='ColorJitter', brightness=0.4)]),
            dict(type='RandomFlip', prob=0.5)]
    pre = build(bank, 1.0, gen_kw=dict(mark_z=False), view_pipeline=pipe,
                seed=0)
    idx = list(range(NUM_ROWS)) * 20
    views = pre(batch(idx, shape=(1, 6, 6)), True)['inputs']
    for x in views:
        assert x.shape == (len(idx), 1, 6, 6)
        # constant images stay constant; brightness in [0.6, 1.4]; uint8
        assert torch.equal(x, x[:, :, :1, :1].expand_as(x))
        assert torch.equal(x, x.round()) and x.max() <= 255
        base = 51.0 * torch.tensor(idx)
        v = x[:, 0, 0, 0]
        nz = base > 0
        f = v[nz] / base[nz]
        assert (f >= 0.6 - 1 / 51).all() and (f <= 1.4 + 1 / 51).all()
        assert f.std() > 0.1  # per-image factors
        assert (v[~nz] == 0).all()
    # a pipeline that does not end at the view size
    pre = build(bank, 1.0, view_pipeline=pipe)
    with pytest.raises(ValueError, match='view_pipeline'):
        pre(batch([1, 2]), True)


def test_per_view_independence(bank):
    alpha, n = 0.3, 4000
    pre = build(bank, alpha, gen_kw=dict(mark_z=False, resolution=8),
                center_crop=2)
    idx = np.random.default_rng(0).integers(0, NUM_ROWS, n)
    views = pre(batch(idx, shape=(1, 2, 2)), True)['inputs']
    hit = torch.stack([(x[:, 0, 0, 0] != REAL) for x in views])  # (2, n)
    # replaced views carry their sample's row (51 i), real ones are intact
    for x, h in zip(views, hit):
        assert torch.equal(x[h, 0, 0, 0], 51.0 * torch.from_numpy(idx)[h])
        assert (x[~h] == REAL).all()
    both = int((hit[0] & hit[1]).sum())
    one = int((hit[0] ^ hit[1]).sum())
    none = n - both - one
    expected = np.array([(1 - alpha)**2, 2 * alpha * (1 - alpha),
                         alpha**2]) * n
    assert stats.chisquare([none, one, both], expected).pvalue > 1e-4
    for h in hit:
        assert stats.binomtest(int(h.sum()), n, alpha).pvalue > 1e-4
    frac = float(hit.float().mean())
    assert pre.last_replaced_fraction == pytest.approx(frac)


def test_seeded_runs_repeat_and_differ_from_other_seeds(bank):
    pipe = [dict(type='RandomResizedCrop', scale=8),
            dict(type='RandomFlip', prob=0.5)]
    data = batch(list(range(NUM_ROWS)) * 4)
    a = build(bank, 0.5, seed=1, view_pipeline=pipe)(copy.deepcopy(data),
                                                     True)['inputs']
    b = build(bank, 0.5, seed=1, view_pipeline=pipe)(copy.deepcopy(data),
                                                     True)['inputs']
    c = build(bank, 0.5, seed=2, view_pipeline=pipe)(copy.deepcopy(data),
                                                     True)['inputs']
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


@pytest.mark.parametrize('order,to_rgb,want', [
    ('rgb', False, (51, 128, 255)),
    ('bgr', False, (255, 128, 51)),
    ('bgr', True, (51, 128, 255)),
])
def test_channel_order(bank, order, to_rgb, want):
    # row 1: R = 51, G = 128, B = 255 (RGB out of the generator)
    pre = build(bank, 1.0, gen_kw=dict(img_channels=3, mark_z=False),
                channel_order=order, to_rgb=to_rgb)
    x = pre(batch([1], views=1, shape=(3, 8, 8)), True)['inputs'][0]
    got = tuple(int(v) for v in x[0, :, 3, 3])
    assert got == want


def test_errors(bank, tmp_path):
    with pytest.raises(ValueError, match='prob'):
        build(bank, 1.5)
    with pytest.raises(ValueError, match='prob'):
        build(bank, True)
    with pytest.raises(ValueError, match='channel_order'):
        build(bank, 0.3, channel_order='hsv')
    with pytest.raises(ValueError, match='Solarize'):
        build(bank, 0.3, view_pipeline=[dict(type='Solarize', thr=9)])
    pre = build(bank, 1.0)
    data = batch([1, 2])
    del data['data_samples'][1].sample_idx
    with pytest.raises(KeyError, match='sample_idx'):
        pre(data, True)
    data = batch([1, 2])
    data['data_samples'] = None
    with pytest.raises(KeyError, match='sample_idx'):
        pre(data, True)
    # the generator is conditioned on 4-d features, the bank has 6
    pre = build(bank, 1.0, gen_kw=dict(cond_dim=4))
    with pytest.raises(ValueError, match='cond_dim'):
        pre(batch([1]), True)
    pre = build(bank, 1.0, expected_num_samples=7)
    with pytest.raises(ValueError, match='expected_num_samples'):
        pre(batch([1]), True)
    pre = build(bank, 1.0)
    with pytest.raises(ValueError, match='channels'):
        pre(batch([1], shape=(3, 8, 8)), True)
    with pytest.raises(IndexError, match='out of range'):
        pre(batch([NUM_ROWS]), True)
    pre = build(bank, 1.0, view_pipeline=[[], [], []])
    with pytest.raises(ValueError, match='per-view'):
        pre(batch([1]), True)


def test_registered_not_a_submodule_and_copyable(bank):
    register_all_modules(init_default_scope=False)
    pre = MODELS.build(dict(type='mmmix.LMASelfSupDataPreprocessor',
                            prob=1.0, generator=PaintGenerator(), bank=bank,
                            view_pipeline=[[], []], seed=0))
    pre(batch([1, 2]), True)
    assert pre._sampler is not None
    assert list(pre.state_dict()) == []  # mean / std are not persistent
    assert not list(pre.parameters())
    twin = copy.deepcopy(pre)
    assert twin._sampler is None
    out = twin(batch([4]), True)['inputs']
    assert torch.allclose(out[1][0, 0, 1:], torch.tensor(204.0))
