"""ExternalGenerator: a user-installed network behind mmmix's generator
interface, usable by LMASampler."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from mmmix.datasets import FeatureBank
from mmmix.models.generators import ExternalGenerator
from mmmix.models.utils import LMASampler


class ToyNet(nn.Module):
    """A conditional 'external' generator with outputs in [0, 1]."""

    def __init__(self, z_dim=4, cond_dim=3, size=8):
        super().__init__()
        self.fc = nn.Linear(z_dim + cond_dim, size * size)
        self.size = size

    def forward(self, z, cond):
        x = torch.sigmoid(self.fc(torch.cat([z, cond], 1)))
        return x.view(-1, 1, self.size, self.size)


def _wrap(**kw):
    args = dict(factory=f'{__name__}:ToyNet', z_dim=4, cond_dim=3,
                img_channels=1, resolution=8, output_range='0,1')
    args.update(kw)
    return ExternalGenerator(**args)


def test_adapts_range_and_freezes():
    torch.manual_seed(0)
    gen = _wrap()
    z, h = torch.randn(5, 4), torch.randn(5, 3)
    out = gen(z, h)
    torch.testing.assert_close(out, gen.net(z, h) * 2 - 1)
    assert out.min() >= -1 and out.max() <= 1
    assert not any(p.requires_grad for p in gen.parameters())
    assert not gen.net.training


def test_checkpoint_and_keyword_inputs(tmp_path):
    torch.manual_seed(1)
    net = ToyNet()
    torch.save({'g': net.state_dict()}, tmp_path / 'g.pth')

    def build(**kwargs):
        return ToyNet(**kwargs)

    gen = ExternalGenerator(build, z_dim=4, cond_dim=3, img_channels=1,
                            resolution=8, checkpoint=str(tmp_path / 'g.pth'),
                            checkpoint_key='g', output_range='0,1',
                            z_arg='z', cond_arg='cond')
    z, h = torch.randn(2, 4), torch.randn(2, 3)
    torch.testing.assert_close(gen(z, h), net(z, h) * 2 - 1)


def test_errors_name_the_problem():
    with pytest.raises(ImportError, match='no_such_generator_pkg'):
        ExternalGenerator('no_such_generator_pkg.models:G', z_dim=4)
    with pytest.raises(ValueError, match='package.module:attribute'):
        ExternalGenerator('ToyNet', z_dim=4)
    with pytest.raises(ValueError, match='output_range'):
        _wrap(output_range='0,255')
    with pytest.raises(ValueError, match='returned shape'):
        _wrap(resolution=16)(torch.randn(2, 4), torch.randn(2, 3))
    with pytest.raises(ValueError, match='cond must be given'):
        _wrap()(torch.randn(2, 4))


def test_lma_sampler_uses_it(tmp_path):
    torch.manual_seed(0)
    gen = _wrap()
    rows = np.random.default_rng(0).normal(size=(6, 3))
    FeatureBank.save(str(tmp_path / 'bank'), rows)
    sampler = LMASampler(gen, bank=str(tmp_path / 'bank'))
    g = torch.Generator().manual_seed(0)
    out = sampler.sample(torch.tensor([2, 5]), generator=g)
    assert out.shape == (2, 1, 8, 8)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, 4, generator=g)
    h = torch.tensor(rows[[2, 5]], dtype=torch.float32)
    h = h / h.norm(dim=1, keepdim=True)
    torch.testing.assert_close(out, gen(z, h))
