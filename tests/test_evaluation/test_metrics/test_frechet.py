import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.models import LeNet5
from mmpretrain.structures import DataSample
from torch import nn

from mmmix.evaluation import FrechetDistance
from mmmix.ops import feature_statistics, frechet_distance
from mmmix.registry import METRICS
from mmmix.utils import register_all_modules

register_all_modules(init_default_scope=False)


def make_images(n, shape=(1, 4, 4), seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, ) + shape, generator=g) * 2 - 1


def samples_of(real, fake, as_dict=False):
    out = []
    for r, f in zip(real, fake):
        s = DataSample()
        if r is not None:
            s.set_field(r, 'real_img')
        s.set_field(f, 'fake_img')
        out.append(s.to_dict() if as_dict else s)
    return out


def run_metric(real, fake, batch_size=7, **kwargs):
    """Evaluate in batches, as a val loop does (DataSamples -> dicts)."""
    evaluator = Evaluator(METRICS.build(dict(type='FrechetDistance',
                                             **kwargs)))
    samples = samples_of(real, fake)
    for i in range(0, len(samples), batch_size):
        evaluator.process(samples[i:i + batch_size])
    return evaluator.evaluate(len(samples))


def direct_fd(real_feats, fake_feats):
    return frechet_distance(*feature_statistics(real_feats),
                            *feature_statistics(fake_feats))


def test_identical_sets_give_zero_and_keys():
    real = make_images(40)
    out = run_metric(real, real.clone())
    assert set(out) == {'fd', 'fd_num_samples'}
    assert abs(out['fd']) <= 1e-6
    assert out['fd_num_samples'] == 40
    # DataSample objects straight into process() work too
    metric = FrechetDistance(prefix_name='fd_px')
    metric.process(None, samples_of(real, real))
    res = metric.compute_metrics(metric.results)
    assert set(res) == {'fd_px', 'fd_px_num_samples'}
    assert abs(res['fd_px']) <= 1e-6


def test_raw_pixels_equal_ops_value_and_normalisation():
    real, fake = make_images(50, seed=1), make_images(50, seed=2) * 0.5
    expected = direct_fd(real.flatten(1), fake.flatten(1))
    assert expected > 0.1
    assert run_metric(real, fake)['fd'] == pytest.approx(expected, rel=1e-6)
    # mean/std on the 0-255 scale: ((x + 1) * 127.5 - 127.5) / s = x *
    # 127.5 / s, so FD scales by (127.5 / s)^2
    out = run_metric(real, fake, mean=127.5, std=63.75)
    assert out['fd'] == pytest.approx(4 * expected, rel=1e-6)


def test_real_stats_file(tmp_path):
    real, fake = make_images(30, seed=3), make_images(30, seed=4) + 0.2
    mu, sigma = feature_statistics(real.flatten(1))
    path = str(tmp_path / 'real.npz')
    np.savez(path, mu=mu.numpy(), sigma=sigma.numpy())
    out = run_metric([None] * 30, fake, real_stats=path)
    assert out['fd'] == pytest.approx(
        direct_fd(real.flatten(1), fake.flatten(1)), rel=1e-9)
    with pytest.raises(KeyError, match='real_img'):
        run_metric([None] * 30, fake)
    np.savez(path, mu=mu.numpy()[:3], sigma=sigma.numpy()[:3, :3])
    with pytest.raises(ValueError, match='real_stats'):
        run_metric([None] * 30, fake, real_stats=path)


def lenet_checkpoint(tmp_path, seed=0):
    """A classifier checkpoint: 'backbone.*' LeNet5 weights + a head."""
    torch.manual_seed(seed)
    net = LeNet5()
    state = {f'backbone.{k}': v for k, v in net.state_dict().items()}
    state['head.fc.weight'] = torch.randn(10, 120)
    path = str(tmp_path / 'cls.pth')
    torch.save(dict(state_dict=state, meta=dict(epoch=1)), path)
    return path, net


def test_feature_net_checkpoint_prefix(tmp_path):
    path, ref = lenet_checkpoint(tmp_path)
    cfg = dict(type='mmpretrain.LeNet5')
    metric = FrechetDistance(feature_net=cfg, checkpoint=path,
                             prefix='backbone.')
    net = metric.feature_net
    for k, v in ref.state_dict().items():
        assert torch.equal(net.state_dict()[k], v), k
    assert not net.training
    assert not any(p.requires_grad for p in net.parameters())

    real = make_images(24, (1, 32, 32), seed=5)
    fake = make_images(24, (1, 32, 32), seed=6)
    out = run_metric(real, fake, feature_net=cfg, checkpoint=path,
                     prefix='backbone.')
    with torch.no_grad():
        fr, ff = ref(real)[-1].flatten(1), ref(fake)[-1].flatten(1)
    assert out['fd'] == pytest.approx(direct_fd(fr, ff), rel=1e-5)

    with pytest.raises(ValueError, match=r"prefix='encoder\.'"):
        FrechetDistance(feature_net=cfg, checkpoint=path, prefix='encoder.')
    # the whole classifier is no LeNet5: strict loading fails, naming prefix
    with pytest.raises(RuntimeError, match="prefix=''"):
        FrechetDistance(feature_net=cfg, checkpoint=path)
    with pytest.raises(ValueError, match='feature_net'):
        FrechetDistance(checkpoint=path)


def test_intensity_shift_gives_positive_fd(tmp_path):
    path, _ = lenet_checkpoint(tmp_path, seed=1)
    kw = dict(feature_net=dict(type='mmpretrain.LeNet5'), checkpoint=path,
              prefix='backbone.', mean=127.5, std=127.5)
    real = make_images(24, (1, 32, 32), seed=7) * 0.5
    same = run_metric(real, real.clone(), **kw)['fd']
    shifted = run_metric(real, (real + 0.4).clamp(-1, 1), **kw)['fd']
    assert abs(same) <= 1e-6
    assert shifted > 1e-3


class TwoStage(nn.Module):
    """A backbone-like net whose output is a tuple of feature maps."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 5, 3, stride=2, padding=1)

    def forward(self, x):
        a = self.a(x)
        return a, self.b(a)


def test_tuple_output_last_stage_pooled_and_channel_order():
    torch.manual_seed(0)
    net = TwoStage()
    metric = FrechetDistance(feature_net=net, mean=[10., 20., 30.],
                             std=[50., 60., 70.], to_rgb=True)
    x = make_images(3, (3, 8, 8))
    feats = metric.features(x)
    rgb = x.flip(1)
    prep = ((rgb + 1) * 127.5 - torch.tensor([10., 20., 30.]).view(
        3, 1, 1)) / torch.tensor([50., 60., 70.]).view(3, 1, 1)
    with torch.no_grad():
        expected = net(prep)[1].mean(dim=(2, 3))
    assert feats.shape == (3, 5)
    assert torch.allclose(feats, expected, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match='mean and std'):
        FrechetDistance(mean=127.5)
    with pytest.raises(ValueError, match='std'):
        FrechetDistance(mean=0, std=0)
    with pytest.raises(ValueError, match='prefix_name'):
        FrechetDistance(prefix_name='')
    with pytest.raises(FileNotFoundError, match='real_stats'):
        FrechetDistance(real_stats='/nonexistent/real.npz')
    metric = FrechetDistance(mean=[0, 0, 0], std=[1, 1, 1])
    with pytest.raises(ValueError, match='mean has 3 values'):
        metric.process(None, samples_of(make_images(2), make_images(2)))
    metric = FrechetDistance()
    metric.process(None, samples_of(make_images(1), make_images(1)))
    with pytest.raises(ValueError, match='at least 2'):
        metric.compute_metrics(metric.results)
