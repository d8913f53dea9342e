"""Every config under configs/ parses and builds, and its model trains.

Configs whose data is Fashion-MNIST get generated data in the same format
and a batch from their real train dataloader. The others (CIFAR,
TinyImageNet, ImageNet: no data here) get two random images of the raw
kind their dataset yields (an array, or an image file when the pipeline
starts by loading one) run through their own train pipeline, so the input
size (32, 64, 224) comes from the pipeline's crop, not from the file name.
For every config the data pipelines, optimizer, LR schedulers and
evaluators are built, and a ``MixupClassifier`` runs a ``mode='loss'``
forward in each of its mixing modes with finite losses.
"""
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.config.config import ConfigDict

from mmmix.datasets.fashion_mnist import DEBIAN_FASHION_MNIST
from mmmix.engine import build_runner
from mmmix.engine.runner import resolve_collate_fn
from mmmix.registry import PARAM_SCHEDULERS, TRANSFORMS
from mmmix.utils import register_all_modules
from tests.conftest import ROOT

register_all_modules(init_default_scope=False)
CONFIGS = sorted(
    f for f in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in f)

#: the network input size each dataset's train pipeline must produce
#: (CustomDataset is keyed by the data root's folder name)
EXPECTED_SIZE = {
    'CIFAR10': 32,
    'CIFAR100': 32,
    'ImageNet': 224,
    'tiny-imagenet-200': 64,
}
#: raw image size fed to the synthetic pipelines: larger than every crop and
#: not square, so the output size is the pipeline's doing
RAW_HW = (80, 96)


def walk(node):
    """Every dict in a config tree."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from walk(value)


def data_roots(cfg):
    return {d['data_root'] for d in walk(cfg._cfg_dict) if 'data_root' in d}


def uses_fashion_mnist_only(cfg):
    roots = data_roots(cfg)
    return bool(roots) and roots <= {DEBIAN_FASHION_MNIST}


def swap_data_roots(node, fixtures):
    """Point every dataset at generated data of the same format."""
    for d in walk(node):
        if d.get('data_root') == DEBIAN_FASHION_MNIST:
            d['data_root'] = fixtures['fashion_mnist']


def pipelines(cfg):
    """Every transform list of the config (dataloaders, hooks, variables)."""
    found = []
    for d in walk(cfg._cfg_dict):
        for key, value in d.items():
            if key.endswith('pipeline') and isinstance(value, (list, tuple)):
                found.append((key, value))
    return found


def innermost_dataset(loader_cfg):
    dataset = loader_cfg['dataset']
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset['dataset']
    return dataset


def preprocessor_cfg(cfg):
    """The data preprocessor the runner gives the model."""
    return cfg.model.get('data_preprocessor') or cfg.get(
        'data_preprocessor') or {}


def expected_size(dataset):
    if dataset['type'] in EXPECTED_SIZE:
        return EXPECTED_SIZE[dataset['type']]
    return EXPECTED_SIZE.get(osp.basename(str(dataset.get('data_root', ''))))


def build_transforms(pipeline):
    return [TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in pipeline]


def run_pipeline(transforms, img, label, index, tmp_path, tag):
    """A raw sample as the dataset yields it (an array, or an image file if
    the pipeline loads one), through ``transforms``."""
    if type(transforms[0]).__name__ == 'LoadImageFromFile':
        path = str(tmp_path / f'{tag}_{index}.png')
        assert cv2.imwrite(path, img)
        results = dict(img_path=path, gt_label=label, sample_idx=index)
    else:
        results = dict(img=img, gt_label=label, sample_idx=index)
    for t in transforms:
        results = t(results)
        assert results is not None, f'{t} dropped the sample'
    assert 'inputs' in results and 'data_samples' in results
    return results


def synthetic_batch(cfg, tmp_path, num_classes, batch_size=2, seed=0):
    """Random raw images and labels through the train pipeline, collated by
    the config's collate function; also returns the input size the
    dataset needs."""
    rng = np.random.default_rng(seed)
    dataset = innermost_dataset(cfg.train_dataloader)
    transforms = build_transforms(dataset['pipeline'])
    channels = len(preprocessor_cfg(cfg)['mean'])
    samples = [
        run_pipeline(
            transforms,
            rng.integers(0, 256, RAW_HW + (channels, ), dtype=np.uint8),
            int(rng.integers(num_classes)), i, tmp_path, 'train')
        for i in range(batch_size)
    ]
    collate = resolve_collate_fn(
        cfg.train_dataloader.get('collate_fn',
                                 dict(type='pseudo_collate')))
    return collate(samples), expected_size(dataset), dataset['type']


def run_other_pipelines(cfg, tmp_path):
    """The val/test pipelines accept a raw sample of the same kind."""
    channels = len(preprocessor_cfg(cfg)['mean'])
    for key in ('val_dataloader', 'test_dataloader'):
        if cfg.get(key):
            transforms = build_transforms(
                innermost_dataset(cfg[key])['pipeline'])
            run_pipeline(transforms, np.zeros(RAW_HW + (channels, ),
                                              np.uint8), 0, 0, tmp_path, key)


def check_schedule_and_evaluators(runner, cfg):
    paramwise = cfg.optim_wrapper.get('paramwise_cfg') or {}
    names = [name for name, _ in runner.model.named_parameters()]
    for key, options in (paramwise.get('custom_keys') or {}).items():
        # mmengine ignores misspelt options and keys matching nothing
        assert set(options) <= {'lr_mult', 'decay_mult'}, options
        assert any(key in name for name in names), \
            f'paramwise custom key {key!r} matches no parameter'
    optim_wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for scheduler in schedulers:
        PARAM_SCHEDULERS.build(
            ConfigDict(scheduler),
            default_args=dict(optimizer=optim_wrapper, epoch_length=10))
    for key in ('val_evaluator', 'test_evaluator'):
        if cfg.get(key):
            runner.build_evaluator(cfg[key])


def check_losses(model, data):
    """One loss forward per mixing mode (or one if the model has none)."""
    modes = getattr(model, 'mix_modes', None)
    choices = range(len(modes)) if modes else [None]
    seen = []
    for index in choices:
        if index is not None:
            model.choose_mode = lambda device=None, i=index: i
        try:
            losses = model(**data, mode='loss')
        finally:
            model.__dict__.pop('choose_mode', None)
        assert losses, f'mode {index}: no losses'
        for name, value in losses.items():
            if torch.is_tensor(value):
                assert torch.isfinite(value).all(), \
                    f'mode {index}: {name} = {value}'
        seen.append(sorted(losses))
    return seen


def test_configs_found():
    assert CONFIGS, 'no configs found'
    assert any(not uses_fashion_mnist_only(Config.fromfile(c))
               for c in CONFIGS), 'expected configs for paper datasets'


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(c, ROOT) for c in CONFIGS])
def test_config_builds(path, fashion_root, tmp_path):
    cfg = Config.fromfile(path)
    real_data = uses_fashion_mnist_only(cfg)
    swap_data_roots(cfg._cfg_dict, dict(fashion_mnist=fashion_root))
    cfg.work_dir = str(tmp_path / 'work_dir')
    cfg.log_level = 'WARNING'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key):
            cfg[key].update(batch_size=2, num_workers=0,
                            persistent_workers=False)
    head = cfg.model.get('head') or {}
    preprocessor = preprocessor_cfg(cfg)
    if 'num_classes' in head and 'num_classes' in preprocessor:
        assert head['num_classes'] == preprocessor['num_classes'], (
            f"head.num_classes={head['num_classes']} but the data "
            f"preprocessor's is {preprocessor['num_classes']}")

    runner = build_runner(cfg)
    for name, pipeline in pipelines(cfg):
        assert build_transforms(pipeline), f'empty {name}'
    check_schedule_and_evaluators(runner, cfg)

    model = runner.model
    model.train()
    if real_data:
        loader = runner.build_dataloader(cfg.train_dataloader)
        batch = next(iter(loader))
    else:
        run_other_pipelines(cfg, tmp_path)
        batch, size, dataset_type = synthetic_batch(
            cfg, tmp_path, num_classes=head['num_classes'])
        assert size is not None, f'no expected input size for {dataset_type}'
    with torch.no_grad():
        data = model.data_preprocessor(batch, True)
        if not real_data:
            shape = tuple(data['inputs'].shape)
            assert shape == (2, 3, size, size), (
                f'train pipeline gives {shape}, {dataset_type} needs '
                f'{size}x{size}')
        check_losses(model, data)
