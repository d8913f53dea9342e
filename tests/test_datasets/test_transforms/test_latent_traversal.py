"""LatentTraversalAugment: g(truncate(w_i + eps)) of the inverted code."""
import numpy as np
import pytest
import torch

from mmmix.datasets import FashionMNIST, LatentTraversalAugment, ViewCache
from mmmix.datasets.transforms import check_generated_view_sources
from mmmix.models.generators import center_pad_or_crop
from mmmix.ops.latent_views import truncate
from mmmix.registry import MODELS
from tests.genviews_config_utils import save_generator

GEN = dict(type='mmmix.StyleGAN2Generator', resolution=32, img_channels=1,
           z_dim=6, w_dim=8, channel_base=64, channel_max=8)
N = 12


@pytest.fixture
def assets(fashion_root, tmp_path):
    ds = FashionMNIST(data_root=fashion_root, split='train', indices=N,
                      pipeline=[], serialize_data=False)
    ckpt = save_generator(GEN, str(tmp_path / 'gan.pth'))
    gen = MODELS.build(GEN)
    state = torch.load(ckpt)['state_dict']
    gen.load_state_dict({k[len('generator_ema.'):]: v
                         for k, v in state.items()})
    gen.eval()
    with torch.no_grad():
        for layer in gen.layers:
            layer.noise_strength.fill_(0.2)  # const noise must be used
    torch.save(dict(state_dict={'generator_ema.' + k: v
                                for k, v in gen.state_dict().items()}),
               ckpt)
    w = np.random.default_rng(0).normal(size=(N, gen.num_ws, gen.w_dim))
    writer = ViewCache.create(str(tmp_path / 'lat'), N, 1, (28, 28),
                              dataset=ds, latent_shape=(gen.num_ws,
                                                        gen.w_dim),
                              meta=dict(truncation=0.7))
    writer.write(0, np.arange(N), np.zeros((N, 28, 28), np.uint8))
    writer.write_latents(np.arange(N), w)
    writer.finalize(truncation=0.7)
    return dict(ds=ds, ckpt=ckpt, gen=gen, w=w, lat=str(tmp_path / 'lat'))


def _t(a, **kw):
    kw.setdefault('prob', 1.0)
    return LatentTraversalAugment(generator=GEN, checkpoint=a['ckpt'],
                                  latents=a['lat'], center_crop=28, **kw)


def _img(idx=3):
    return dict(img=np.zeros((28, 28), np.uint8), sample_idx=idx)


def test_sigma_zero_is_the_truncated_reconstruction(assets):
    out = _t(assets, sigma=0.)(_img())
    g = assets['gen']
    w = torch.tensor(assets['w'][3:4], dtype=torch.float32)
    with torch.no_grad():
        x = g.synthesis(truncate(w, g.w_avg, 0.7), noise_mode='const')
    want = ((center_pad_or_crop(x.clamp(-1, 1), 28) + 1) * 127.5).round()
    assert out['traversal_applied'] and out['img'].shape == (28, 28)
    np.testing.assert_array_equal(out['img'], want[0, 0].byte().numpy())


def test_noise_gives_new_views_and_prob_zero_keeps_the_image(assets):
    t = _t(assets, sigma=0.5)
    a, b = t(_img())['img'], t(_img())['img']
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 0
    keep = _img()
    keep['img'][:] = 7
    out = _t(assets, prob=0.)(keep)
    assert not out['traversal_applied'] and (out['img'] == 7).all()


def test_bad_input(assets):
    with pytest.raises(ValueError, match='prob'):
        _t(assets, prob=1.5)
    with pytest.raises(ValueError, match='sigma'):
        _t(assets, sigma=-1)
    with pytest.raises(KeyError, match='sample_idx'):
        _t(assets)(dict(img=np.zeros((28, 28), np.uint8)))
    with pytest.raises(IndexError, match='latents range'):
        _t(assets)(_img(N))
    other = dict(GEN, w_dim=4)
    with pytest.raises(ValueError, match='do not fit'):
        LatentTraversalAugment(prob=1., generator=other,
                               latents=assets['lat'])(_img())


def test_found_and_checked_by_the_pipeline_walk(assets, fashion_root):
    from mmengine.dataset import Compose
    ds = assets['ds']
    ds.pipeline = Compose([_t(assets)])
    assert [type(t).__name__ for t in check_generated_view_sources(ds)] \
        == ['LatentTraversalAugment']
    small = FashionMNIST(data_root=fashion_root, split='train',
                         indices=N - 2, pipeline=[], serialize_data=False)
    small.pipeline = Compose([_t(assets)])
    with pytest.raises(ValueError, match='num_samples'):
        check_generated_view_sources(small)


def test_dataset_wrappers(assets):
    """Repeat keeps the inner sample_idx (checked through it); Concat
    numbers each member from 0 and is refused (LMA spec A24)."""
    from mmengine.dataset import Compose, ConcatDataset, RepeatDataset
    ds = assets['ds']
    ds.pipeline = Compose([_t(assets)])
    assert len(check_generated_view_sources(RepeatDataset(ds, 2))) == 1
    out = RepeatDataset(ds, 2)[N + 3]  # the inner sample 3
    assert out['sample_idx'] == 3 and out['traversal_applied']
    with pytest.raises(ValueError, match='concatenates'):
        check_generated_view_sources(ConcatDataset([ds, ds]))
