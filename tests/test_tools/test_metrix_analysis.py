import json
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.model import BaseModel
from mmpretrain.models import ClsDataPreprocessor
from mmpretrain.structures import DataSample

from mmmix.ops import utilization
from mmmix.registry import MODELS
from tests.test_tools.test_train_args import load_tool

KEYS = {'utilization', 'utilization_mixed', 'alignment', 'uniformity',
        'positivity', 'num_train', 'num_test', 'num_mixed', 'settings'}


class TinyEmbedder(BaseModel):
    """forward(inputs, mode='tensor') -> (B, d) unit embeddings."""

    def __init__(self, in_dim=48, dim=8):
        super().__init__(data_preprocessor=ClsDataPreprocessor())
        self.fc = nn.Linear(in_dim, dim)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        assert mode == 'tensor'
        return F.normalize(self.fc(inputs.flatten(1).float()), dim=1)


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis/metrix_analysis.py')


def batches(num_classes, per_class, batch_size, seed):
    """mmpretrain-style batches: a list of per-sample (3, 4, 4) tensors
    (pseudo_collate) and DataSamples with a gt_label."""
    g = torch.Generator().manual_seed(seed)
    protos = torch.randn(num_classes, 3, 4, 4, generator=g) * 3
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    images = protos[labels] + torch.randn(len(labels), 3, 4, 4, generator=g)
    out = []
    for start in range(0, len(labels), batch_size):
        sl = slice(start, start + batch_size)
        out.append(dict(
            inputs=list(images[sl]),
            data_samples=[DataSample().set_gt_label(int(y))
                          for y in labels[sl]]))
    return out


def test_analyse_writes_json_and_plot(tool, tmp_path):
    torch.manual_seed(0)
    model = TinyEmbedder()
    train = batches(5, 8, 7, seed=0)
    test = batches(4, 6, 5, seed=1)
    out_dir = tmp_path / 'analysis'
    res = tool.analyse(model, train, test, str(out_dir), mix_epochs=2,
                       num_pairs=500)
    assert (out_dir / 'positivity.png').stat().st_size > 0
    with open(out_dir / 'metrix_analysis.json') as f:
        data = json.load(f)
    assert set(data) == KEYS
    assert data == json.loads(json.dumps(res))
    assert data['num_train'] == 40 and data['num_test'] == 24
    assert data['num_mixed'] == 80
    assert 0 <= data['utilization_mixed'] <= data['utilization'] <= 4
    assert 0 <= data['alignment'] <= 4
    assert -8 <= data['uniformity'] <= 0
    pos = data['positivity']
    assert set(pos) == {'lambda', 'threshold', 'empirical', 'theoretical'}
    assert pos['lambda'][0] == 0.05 and pos['lambda'][-1] == 0.95
    assert all(len(v) == 19 for v in pos.values())
    assert all(0 <= v <= 1 for v in pos['empirical'] + pos['theoretical'])
    np.testing.assert_allclose(pos['empirical'], pos['theoretical'])
    assert pos['threshold'][9] == pytest.approx(0.77)  # lam = 0.5
    assert data['settings']['mix_epochs'] == 2
    # the clean utilization is eq. (4.25) on the model's embeddings
    with torch.no_grad():
        def embed(bs):
            return torch.cat([model(torch.stack(b['inputs']))
                              for b in bs])
        assert data['utilization'] == pytest.approx(
            utilization(embed(test), embed(train)), abs=1e-5)


def test_analyse_max_samples_and_no_mixes(tool, tmp_path):
    model = TinyEmbedder()
    train = batches(5, 8, 7, seed=0)
    test = batches(4, 6, 5, seed=1)
    res = tool.analyse(model, train, test, str(tmp_path), mix_epochs=0,
                       max_samples=16, num_pairs=100, lams=(0.2, 0.8))
    assert res['num_train'] == res['num_test'] == 16
    assert res['num_mixed'] == 0
    assert res['utilization_mixed'] == res['utilization']
    assert res['positivity']['lambda'] == [0.2, 0.8]
    # same seed, same result
    again = tool.analyse(model, train, test, str(tmp_path), mix_epochs=0,
                         max_samples=16, num_pairs=100, lams=(0.2, 0.8))
    assert again == res
    assert not math.isnan(res['uniformity'])


def test_analyse_needs_labels(tool, tmp_path):
    train = batches(3, 4, 4, seed=0)
    for b in train:
        b['data_samples'] = [DataSample() for _ in b['data_samples']]
    with pytest.raises(ValueError, match='gt_label'):
        tool.analyse(TinyEmbedder(), train, batches(3, 4, 4, seed=1),
                     str(tmp_path))


def tiny_cfg(data_root):
    pack = [dict(type='PackInputs')]
    return Config(dict(
        default_scope='mmmix',
        model=dict(type='MetrixAnalysisTinyEmbedder', in_dim=28 * 28),
        train_dataloader=dict(
            batch_size=16, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(type='mmmix.FashionMNIST', data_root=data_root,
                         split='train',
                         pipeline=[dict(type='RandomFlip', prob=1.0)] +
                         pack)),
        test_dataloader=dict(
            batch_size=8, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            dataset=dict(type='mmmix.FashionMNIST', data_root=data_root,
                         split='test', pipeline=pack))))


def test_train_loader_uses_the_eval_pipeline(tool, fashion_root):
    cfg = tiny_cfg(fashion_root)
    loader = tool.train_eval_loader_cfg(cfg)
    assert loader.dataset.split == 'train'
    assert loader.dataset.pipeline == [dict(type='PackInputs')]
    assert loader.sampler == dict(type='DefaultSampler', shuffle=False)
    assert loader.batch_size == 8
    assert loader.collate_fn == dict(type='default_collate')
    assert cfg.train_dataloader.dataset.pipeline[0].type == 'RandomFlip'
    # wrapped training datasets get the pipeline inside
    cfg.train_dataloader.dataset = dict(type='RepeatDataset', times=2,
                                        dataset=cfg.train_dataloader.dataset)
    loader = tool.train_eval_loader_cfg(cfg)
    assert loader.dataset.dataset.pipeline == [dict(type='PackInputs')]
    with pytest.raises(ValueError, match='val_dataloader'):
        tool.train_eval_loader_cfg(cfg, 'val')


@pytest.fixture
def registered_embedder():
    MODELS.register_module('MetrixAnalysisTinyEmbedder', module=TinyEmbedder,
                           force=True)
    yield
    MODELS._module_dict.pop('MetrixAnalysisTinyEmbedder', None)


def test_cli_end_to_end(tool, fashion_root, tmp_path, capsys,
                        registered_embedder):
    cfg = tiny_cfg(fashion_root)
    cfg_path, ckpt = str(tmp_path / 'cfg.py'), str(tmp_path / 'model.pth')
    cfg.dump(cfg_path)
    torch.manual_seed(0)
    torch.save({'state_dict': TinyEmbedder(28 * 28).state_dict(),
                'meta': {}}, ckpt)
    out_dir = tmp_path / 'out'
    res = tool.main([cfg_path, ckpt, '--out-dir', str(out_dir),
                     '--max-samples', '48', '--num-pairs', '200',
                     '--cfg-options', 'test_dataloader.batch_size=16'])
    assert 'utilization' in capsys.readouterr().out
    assert json.loads((out_dir / 'metrix_analysis.json').read_text()) == \
        json.loads(json.dumps(res))
    assert (out_dir / 'positivity.png').exists()
    # 48 of the 120 training images; the whole (40 image) test set
    assert (res['num_train'], res['num_test']) == (48, 40)
    args = tool.parse_args([cfg_path, ckpt, '--out-dir', 'd'])
    assert (args.split, args.mix_epochs, args.max_samples) == ('test', 1,
                                                               None)
    with pytest.raises(SystemExit):
        tool.parse_args([cfg_path, ckpt])  # --out-dir is required
