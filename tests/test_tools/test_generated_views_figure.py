"""tools/analysis/generated_views.py: real images beside LMA samples and
cached views, from fabricated artefacts."""
import json

import pytest

from mmmix.datasets import FashionMNIST
from tests.conftest import png_size, tiny_quickstart_cfg
from tests.genviews_config_utils import (
    save_bank,
    save_cache,
    save_generator,
)
from tests.test_tools.test_train_args import load_tool

GEN = dict(type='mmmix.StyleGAN2Generator', resolution=32, img_channels=1,
           z_dim=6, w_dim=8, cond_dim=5, channel_base=64, channel_max=8)


@pytest.fixture
def artefacts(fashion_root, tmp_path):
    cfg = tiny_quickstart_cfg(fashion_root, tmp_path / 'work')
    data_cfg = str(tmp_path / 'data.py')
    cfg.dump(data_cfg)
    dataset = FashionMNIST(
        **{k: v for k, v in cfg.train_dataloader.dataset.items()
           if k not in ('type', 'pipeline')}, pipeline=[],
        serialize_data=False)
    gan_cfg = tmp_path / 'gan.py'
    gan_cfg.write_text(f'model = dict(type="mmmix.GAN", generator={GEN!r})')
    return dict(
        data_cfg=data_cfg, gan_cfg=str(gan_cfg),
        ckpt=save_generator(GEN, str(tmp_path / 'gan.pth')),
        bank=save_bank(dataset, 5, str(tmp_path / 'bank')),
        cache=save_cache(dataset, str(tmp_path / 'cache'), num_views=3),
        out=str(tmp_path / 'fig' / 'views.png'))


def test_figure_of_real_lma_and_cached_views(artefacts, capsys):
    a = artefacts
    load_tool('analysis/generated_views.py').main([
        a['data_cfg'], '--out', a['out'], '--indices', '0', '3', '5',
        '--lma-config', a['gan_cfg'], '--lma-ckpt', a['ckpt'], '--bank',
        a['bank'], '--lma-samples', '2', '--center-crop', '28', '--cache',
        f'wperturb={a["cache"]}', '--cache-views', '2'])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary['indices'] == [0, 3, 5]
    assert summary['columns'] == [['real', 1], ['LMA', 2], ['wperturb', 2]]
    width, height = png_size(a['out'])
    assert width > height > 0  # 5 columns, 3 rows


def test_figure_refuses_out_of_range_indices(artefacts):
    with pytest.raises(IndexError, match='out of range'):
        load_tool('analysis/generated_views.py').main([
            artefacts['data_cfg'], '--out', artefacts['out'], '--indices',
            '100000'])
