"""Helpers of the LMA and learned-views config tests
(``tests/test_configs_lma.py``, ``tests/test_configs_learned_views.py``).

The configs name offline artefacts (an LMA feature bank, a kNN graph, raw
images, an IC-GAN checkpoint, generated-view caches) and real datasets that
do not exist here. :func:`fabricate` rewrites a parsed config in place so
that it trains on generated data of the same raw format (Fashion-MNIST IDX
files, CIFAR-like RGB arrays, an image folder) with tiny artefacts built
for exactly that data: a feature bank of the right width carrying the
dataset's fingerprint, a self-excluding neighbour table, the raw images, a
checkpoint of the config's generator (narrowed) and 8-view caches of the
dataset's image layout. :func:`shrink_model` narrows the networks and
:func:`run` trains a couple of iterations with mmengine's runner.
"""
import copy
import os
import os.path as osp

import numpy as np
import torch
from mmengine.registry import DefaultScope

from mmmix.datasets import FeatureBank, ViewCache, save_raw_images
from mmmix.datasets.fingerprint import raw_image
from mmmix.engine import build_runner
from mmmix.registry import DATASETS, MODELS

FASHION_ROOT = '/usr/share/datasets/fashion-mnist'
#: the generated-view transforms and the IC-GAN dataset
LMA = 'mmmix.LocalManifoldAugment'
LOAD_VIEW = 'mmmix.LoadGeneratedView'
KNN_REPLACE = 'mmmix.KNNReplace'
KNN_INSTANCE = 'mmmix.KNNInstanceDataset'
TRAVERSAL = 'mmmix.LatentTraversalAugment'
GENERATED = (LMA, LOAD_VIEW, KNN_REPLACE, TRAVERSAL)
NUM_FAKE = 4  # training images of every generated dataset


def walk(node):
    """Every dict of a config tree (depth first)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from walk(value)


def train_pipeline(cfg):
    """The transform list of the training dataset (inside a wrapper)."""
    dataset = cfg.train_dataloader.dataset
    while 'pipeline' not in dataset:
        dataset = dataset['dataset']
    return dataset['pipeline']


def multiview(pipeline):
    """The ``MultiView`` entry of a pipeline (exactly one)."""
    found = [t for t in pipeline if t['type'] == 'MultiView']
    assert len(found) == 1, [t['type'] for t in pipeline]
    return found[0]


def views(pipeline):
    """``[(count, transforms)]`` of the ``MultiView`` of a pipeline."""
    mv = multiview(pipeline)
    counts = mv['num_views']
    subs = mv['transforms']
    if isinstance(counts, int):
        assert len(subs) == 1
        counts = [counts]
    assert len(counts) == len(subs)
    return list(zip(counts, subs))


def hook_types(cfg):
    return [h['type'] for h in cfg.get('custom_hooks') or []]


# ------------------------------------------------------------- artefacts ---
def write_images(root, size, num=NUM_FAKE, seed=0):
    """``num`` random ``size`` x ``size`` PNG files under ``root``."""
    import cv2
    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    for i in range(num):
        img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        assert cv2.imwrite(osp.join(root, f'{i:03d}.png'), img)
    return root


def image_size(name):
    """The side of the generated image files for a config: TinyImageNet's
    64, STL-10's 96, else 48 (the pipelines crop / resize them)."""
    if 'tinyimagenet64' in name:
        return 64
    return 96 if 'stl10' in name else 48


def _swap_dataset(dataset, fashion_root, image_folder):
    """Point one image dataset config at generated data of its kind."""
    kind = dataset['type']
    if kind == 'mmmix.NoiseDataset' or dataset.get(
            'data_root') == image_folder:
        return  # already swapped (a dict shared by two loaders)
    keep = {k: dataset[k] for k in ('pipeline', ) if k in dataset}
    if kind.endswith('FashionMNIST'):
        dataset.update(data_root=fashion_root, indices=NUM_FAKE,
                       serialize_data=False)
        return
    dataset.clear()
    if kind in ('CIFAR10', 'CIFAR100'):  # RGB arrays
        dataset.update(type='mmmix.NoiseDataset', num_samples=NUM_FAKE,
                       shape=(32, 32, 3), gt_label=0)
    elif kind in ('CustomDataset', 'ImageNet'):  # image files
        dataset.update(type='CustomDataset', data_root=image_folder,
                       with_label=False)
    else:
        raise AssertionError(f'no generated data for {kind}')
    dataset['serialize_data'] = False
    dataset.update(keep)


def _image_datasets(cfg):
    """The image-dataset configs of the train / val loaders (inside
    ``KNNInstanceDataset``)."""
    found = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if not cfg.get(key):
            continue
        dataset = cfg[key]['dataset']
        while 'pipeline' not in dataset and 'dataset' in dataset:
            dataset = dataset['dataset']
        found.append(dataset)
    return found


def _build(dataset_cfg):
    cfg = copy.deepcopy(dict(dataset_cfg))
    cfg['pipeline'] = []
    with DefaultScope.overwrite_default_scope('mmmix'):
        return DATASETS.build(cfg)


def tiny_generator(gen_cfg):
    """The generator config with narrow convolutions (same resolution,
    channels, z / w / conditioning sizes)."""
    gen_cfg = dict(gen_cfg)
    gen_cfg.update(channel_base=8 * gen_cfg['resolution'], channel_max=8)
    return gen_cfg


def save_generator(gen_cfg, path, seed=0):
    """A GAN checkpoint whose ``generator_ema.*`` is a random generator."""
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope('mmmix'):
        net = MODELS.build(copy.deepcopy(dict(gen_cfg)))
    state = {'generator_ema.' + k: v for k, v in net.state_dict().items()}
    torch.save(dict(state_dict=state, meta=dict()), path)
    return path


def save_bank(dataset, dim, path, seed=0):
    rng = np.random.default_rng(seed)
    n = len(dataset)
    FeatureBank.save(path, rng.normal(size=(n, dim)),
                     feats_flip=rng.normal(size=(n, dim)), dataset=dataset)
    return path


def save_knn(n, k, path, seed=0):
    """An (n, k) neighbour table without self."""
    rng = np.random.default_rng(seed)
    table = np.stack([rng.choice(np.delete(np.arange(n), i), k,
                                 replace=False) for i in range(n)])
    np.save(path, table)
    return path


def save_images(dataset, path):
    """The raw images of ``dataset`` (for ``KNNReplace``)."""
    save_raw_images(dataset, path)
    return path


def save_latents(dataset, gen_cfg, path, seed=0):
    """A 1-view cache with random W+ latents (an inversion's layout)."""
    num_ws = 2 * int(np.log2(gen_cfg['resolution'])) - 2
    shape = raw_image(dataset, 0).shape
    n = len(dataset)
    writer = ViewCache.create(path, n, 1, shape, dataset=dataset,
                              latent_shape=(num_ws, gen_cfg['w_dim']),
                              meta=dict(method='reconstruction'))
    writer.write(0, np.arange(n), np.zeros((n, *shape), np.uint8))
    writer.write_latents(np.arange(n), np.random.default_rng(seed).normal(
        size=(n, num_ws, gen_cfg['w_dim'])))
    writer.finalize(truncation=0.7)
    return path


def save_cache(dataset, path, channel_order='rgb', num_views=8, seed=0):
    """An 8-view cache of random uint8 images in the dataset's layout."""
    rng = np.random.default_rng(seed)
    shape = raw_image(dataset, 0).shape
    n = len(dataset)
    writer = ViewCache.create(path, n, num_views, shape, dataset=dataset,
                              channel_order=channel_order,
                              meta=dict(method='fabricated'))
    for slot in range(num_views):
        writer.write(slot, np.arange(n),
                     rng.integers(0, 256, (n, *shape), dtype=np.uint8))
    writer.finalize()
    return path


def fabricate(cfg, tmp_path, fashion_root, image_size=32):
    """Rewrite ``cfg`` in place to run on generated data with fabricated
    artefacts (image-file datasets: ``NUM_FAKE`` random ``image_size``
    PNGs); returns ``{original path: fabricated path}``."""
    image_folder = write_images(str(tmp_path / 'images'), image_size)
    datasets = _image_datasets(cfg)
    for dataset in datasets:
        _swap_dataset(dataset, fashion_root, image_folder)
    for d in walk(cfg._cfg_dict):  # hooks' loaders (k-NN evaluation)
        if d.get('data_root') == FASHION_ROOT:
            d['data_root'] = fashion_root
    train = _build(datasets[0])
    n = len(train)
    made = {}

    def once(key, make):
        if key not in made:
            made[key] = make(str(tmp_path / f'artefact{len(made)}'))
        return made[key]

    for d in list(walk(cfg._cfg_dict)):
        kind = d.get('type')
        if kind == LMA:
            gen = tiny_generator(d['generator'])
            d['generator'] = gen
            d['checkpoint'] = once(('ckpt', repr(sorted(gen.items()))),
                                   lambda p, g=gen: save_generator(g, p))
            d['bank'] = once(('bank', gen['cond_dim']),
                             lambda p, c=gen['cond_dim']: save_bank(
                                 train, c, p))
            d['expected_num_samples'] = n
        elif kind == LOAD_VIEW:
            order = d.get('channel_order') or 'rgb'
            d['cache'] = once(('cache', d['cache']),
                              lambda p, o=order: save_cache(train, p, o))
            d['expected_num_samples'] = n
        elif kind == KNN_REPLACE:
            d['knn_file'] = once(('knn', 3),
                                 lambda p: save_knn(n, 3, p + '.npy'))
            d['images_file'] = once(('images', ),
                                    lambda p: save_images(train, p + '.npy'))
            d['expected_num_samples'] = n
        elif kind == TRAVERSAL:
            gen = tiny_generator(d['generator'])
            d['generator'] = gen
            d['checkpoint'] = once(('ckpt', repr(sorted(gen.items()))),
                                   lambda p, g=gen: save_generator(g, p))
            d['latents'] = once(('latents', repr(sorted(gen.items()))),
                                lambda p, g=gen: save_latents(train, g, p))
            d['expected_num_samples'] = n
        elif kind == KNN_INSTANCE:
            dim = cfg.model.generator.cond_dim
            d['bank'] = once(('bank', dim),
                             lambda p, c=dim: save_bank(train, c, p))
            if d.get('knn'):
                d['knn'] = once(('knn', 3),
                                lambda p: save_knn(n, 3, p + '.npy'))
            if d.get('max_samples'):
                d['max_samples'] = min(d['max_samples'], n)
    return made


# --------------------------------------------------------------- running ---
def _narrow_backbone(backbone, width=4):
    """Narrow a ResNet / ResNet_CIFAR config; returns its output width."""
    expansion = 4 if backbone['depth'] >= 50 else 1
    backbone.update(stem_channels=width, base_channels=width)
    return width * 8 * expansion


def shrink_model(cfg):
    """Narrow the networks of a pretraining or GAN config for a CPU run."""
    model = cfg.model
    if 'generator' in model:  # GAN
        for key in ('generator', 'discriminator'):
            model[key].update(channel_base=8 * model[key]['resolution'],
                              channel_max=8)
        for key in ('val_evaluator', 'test_evaluator'):
            net = cfg[key].get('feature_net')
            if net:
                _narrow_backbone(net)
                cfg[key]['checkpoint'] = None
        return
    out = _narrow_backbone(model.backbone)
    neck = model.neck
    neck['in_channels'] = out
    if 'queue_len' in model:
        model.queue_len = 16


def run(cfg, tmp_path, iters=2):
    """Train with mmengine's runner, batch 2: ``iters`` iterations of an
    iteration-based config (then one validation), one epoch (``NUM_FAKE /
    2`` iterations) of an epoch-based one; return the runner."""
    cfg.work_dir = str(tmp_path / 'work_dir')
    cfg.log_level = 'WARNING'
    loader = cfg.train_dataloader
    loader.update(batch_size=2, num_workers=0, persistent_workers=False)
    for key in ('val_dataloader', 'test_dataloader'):
        if cfg.get(key):
            cfg[key].update(batch_size=2, num_workers=0,
                            persistent_workers=False)
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks') or []
                        if h['type'] not in ('KNNEvalHook',
                                             'mmmix.KNNEvalHook')]
    cfg.default_hooks.checkpoint = None
    if cfg.train_cfg.type == 'IterBasedTrainLoop':
        cfg.train_cfg.update(max_iters=iters, val_interval=iters)
    else:  # one epoch of the NUM_FAKE images: NUM_FAKE / 2 iterations
        cfg.train_cfg.update(max_epochs=1)
    cfg.randomness = dict(seed=0, deterministic=False)
    runner = build_runner(cfg)
    runner.train()
    return runner


def logged_losses(runner):
    """``{name: value}`` of the last logged training losses."""
    scalars = runner.message_hub.log_scalars
    return {k[len('train/'):]: v.current()
            for k, v in scalars.items()
            if k.startswith('train/') and 'loss' in k}


def first_of_each_view(pipeline):
    """The first transform of each view pipeline of the ``MultiView``."""
    return [sub[0] for _, sub in views(pipeline)]


def same_except(a, b, keys):
    """``a`` and ``b`` (config dicts) are equal outside ``keys``."""
    a = {k: v for k, v in a.items() if k not in keys}
    b = {k: v for k, v in b.items() if k not in keys}
    return a == b


def cheap_config_text(monkeypatch):
    """Make ``Config.pretty_text`` a plain repr for the test: mmengine's
    runner formats the whole config with yapf three times (log, dump,
    visualiser), seconds per config on this machine."""
    from mmengine.config import Config
    monkeypatch.setattr(Config, 'pretty_text', property(
        lambda self: repr(self._cfg_dict.to_dict())))
