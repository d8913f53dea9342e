"""Shared fixtures: generated data in the real formats, tiny configs.

Nothing here downloads: datasets are written as the files the dataset classes
read (IDX for Fashion-MNIST, image folders), small enough for a CPU test.
"""
import copy
import functools
import gzip
import os
import os.path as osp
import sys

import numpy as np
import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
QUICKSTART = osp.join(
    ROOT, 'configs/quickstart/mocov2_resnet18-w16_1xb256-4e_fashionmnist.py')
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
if 'PYTEST_XDIST_WORKER' in os.environ:
    torch.set_num_threads(1)  # one thread per xdist worker


def write_idx(path, array, compress=True):
    """Write a uint8 array as an IDX file (magic 0x00000803 for 3-D)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b''.join(
        int(d).to_bytes(4, 'big') for d in array.shape)
    opener = gzip.open if compress else open
    with opener(path, 'wb') as f:
        f.write(header + array.tobytes())


def make_fashion_like(num_train=120, num_test=40, num_classes=4, seed=0):
    """28x28 images: a class-specific bar pattern plus noise."""
    rng = np.random.default_rng(seed)
    protos = np.zeros((num_classes, 28, 28), np.float32)
    for c in range(num_classes):
        protos[c, :, 3 + 6 * c:6 + 6 * c] = 200  # one vertical bar per class

    def sample(n):
        y = np.arange(n) % num_classes
        x = protos[y] + rng.normal(0, 25, (n, 28, 28))
        return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.uint8)

    return sample(num_train), sample(num_test)


def write_fashion_mnist(root, compress=True, **kwargs):
    os.makedirs(root, exist_ok=True)
    (xtr, ytr), (xte, yte) = make_fashion_like(**kwargs)
    ext = '.gz' if compress else ''
    write_idx(osp.join(root, 'train-images-idx3-ubyte' + ext), xtr, compress)
    write_idx(osp.join(root, 'train-labels-idx1-ubyte' + ext), ytr, compress)
    write_idx(osp.join(root, 't10k-images-idx3-ubyte' + ext), xte, compress)
    write_idx(osp.join(root, 't10k-labels-idx1-ubyte' + ext), yte, compress)
    return (xtr, ytr), (xte, yte)


@pytest.fixture(scope='session')
def fashion_root(tmp_path_factory):
    """A generated Fashion-MNIST folder (gzipped IDX files)."""
    root = str(tmp_path_factory.mktemp('fashion_mnist'))
    write_fashion_mnist(root)
    return root


@pytest.fixture(scope='session')
def image_folder(tmp_path_factory):
    """A generated ImageNet-style folder: root/<class>/<n>.png."""
    import cv2
    root = tmp_path_factory.mktemp('image_folder')
    rng = np.random.default_rng(0)
    for c in range(3):
        os.makedirs(root / f'class_{c}')
        for i in range(4):
            img = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
            cv2.imwrite(str(root / f'class_{c}' / f'{i}.png'), img)
    return str(root)


def png_size(path):
    """``(width, height)`` of a PNG file (asserts the PNG signature)."""
    with open(path, 'rb') as f:
        head = f.read(24)
    assert head[:8] == b'\x89PNG\r\n\x1a\n', f'{path} is not a PNG'
    return int.from_bytes(head[16:20], 'big'), int.from_bytes(
        head[20:24], 'big')


def pipeline_input_shapes(cfg, tmp_path, keys=('train_dataloader',
                                               'val_dataloader')):
    """``{key: shape of results['inputs']}``: each loader's pipeline run on
    one generated 300 x 400 image file."""
    import cv2
    from mmengine.registry import DefaultScope

    from mmmix.registry import TRANSFORMS
    path = str(tmp_path / 'pipeline_input.png')
    rng = np.random.default_rng(0)
    assert cv2.imwrite(path, rng.integers(0, 256, (300, 400, 3),
                                          dtype=np.uint8))
    shapes = {}
    for key in keys:
        with DefaultScope.overwrite_default_scope('mmmix'):
            transforms = [TRANSFORMS.build(t)
                          for t in cfg[key].dataset.pipeline]
        results = dict(img_path=path, gt_label=0, sample_idx=0)
        for t in transforms:
            results = t(results)
        shapes[key] = tuple(results['inputs'].shape)
    return shapes


def tiny_quickstart_cfg(data_root, work_dir, max_epochs=2, **hook_kwargs):
    """The quickstart config shrunk to run in seconds on generated data."""
    from mmengine.config import Config
    cfg = Config.fromfile(QUICKSTART)
    cfg.work_dir = str(work_dir)
    cfg.model.queue_len = 32
    cfg.model.backbone.update(stem_channels=4, base_channels=4)
    cfg.model.neck.update(in_channels=32, hid_channels=16)
    cfg.train_dataloader.update(
        batch_size=8, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.data_root = data_root
    hook = cfg.custom_hooks[0]
    for key in ('bank_dataloader', 'query_dataloader'):
        hook[key].batch_size = 16
        hook[key].dataset.data_root = data_root
    hook.update(num_neighbors=(5, ), topk=(1, ), progress=False,
                interval=max_epochs)
    hook.update(hook_kwargs)
    return short_test_schedule(cfg, max_epochs)


# ------------------------------------------------- config-test helpers ----
@functools.lru_cache(maxsize=None)
def parse_config(path):
    """``Config.fromfile(path)``, parsed once per session (callers that
    modify it take a ``copy.deepcopy``)."""
    from mmengine.config import Config
    return Config.fromfile(path)


def load_config(path):
    """A private copy of the config at ``path`` (parsed once)."""
    return copy.deepcopy(parse_config(path))


def strip_scope(node):
    """``node`` without the ``_scope_`` keys of inherited dicts."""
    if isinstance(node, dict):
        return {k: strip_scope(v) for k, v in node.items() if k != '_scope_'}
    if isinstance(node, (list, tuple)):
        return [strip_scope(v) for v in node]
    return node


def mmpretrain_cfg(path):
    """A config of the installed mmpretrain (``mmpretrain::<path>``)."""
    import mmpretrain
    return parse_config(osp.join(osp.dirname(mmpretrain.__file__), '.mim',
                                 'configs', path))


def check_subset_annotation_read(cfg, tmp_path):
    """The train set of ``cfg`` (an ImageNet subset config: ``ann_file``
    lines ``<wnid>/<file> <label>``) selects exactly the listed images of
    data_root/train: a 1 % file of two images beside one unlisted image."""
    from mmengine.registry import DefaultScope

    from mmmix.registry import DATASETS
    root = tmp_path / 'imagenet'
    listed = ['n01440764/n01440764_10026.JPEG 0',
              'n01443537/n01443537_1000.JPEG 1']
    os.makedirs(root / 'meta')
    (root / 'meta' / '1percent.txt').write_text('\n'.join(listed) + '\n')
    for line in listed + ['n01443537/n01443537_2.JPEG 1']:  # one unlisted
        path = root / 'train' / line.split()[0]
        os.makedirs(path.parent, exist_ok=True)
        path.write_bytes(b'')
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.update(data_root=str(root), pipeline=[], lazy_init=False)
    dataset_cfg.pop('_scope_', None)
    with DefaultScope.overwrite_default_scope('mmmix'):
        dataset = DATASETS.build(dataset_cfg)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [osp.relpath(i['img_path'], root / 'train') for i in infos] == [
        line.split()[0] for line in listed]
    assert [int(i['gt_label']) for i in infos] == [0, 1]


@pytest.fixture(scope='module')
def fake_imagenet(tmp_path_factory):
    """data/imagenet-like folder: train/<wnid>/<file>.JPEG and
    meta/train.txt, 4 random 300x400 JPEGs."""
    import cv2
    root = tmp_path_factory.mktemp('imagenet')
    rng = np.random.default_rng(0)
    lines = []
    for i in range(4):
        rel = f'n0000000{i % 2}/img_{i}.JPEG'
        os.makedirs(root / 'train' / osp.dirname(rel), exist_ok=True)
        img = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
        assert cv2.imwrite(str(root / 'train' / rel), img)
        lines.append(f'{rel} {i % 2}')
    os.makedirs(root / 'meta')
    (root / 'meta' / 'train.txt').write_text('\n'.join(lines) + '\n')
    return str(root)


def short_test_schedule(cfg, max_epochs):
    """``cfg`` set for a short deterministic test run: ``max_epochs``
    epochs, cosine over them, a log line per step, every checkpoint kept,
    seed 0, warnings only."""
    cfg.train_cfg.max_epochs = max_epochs
    cfg.param_scheduler = [
        dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True)
    ]
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.max_keep_ckpts = -1
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.log_level = 'WARNING'
    return cfg


@pytest.fixture
def runtime_info():
    """Set keys of mmengine's MessageHub runtime info (``epoch``,
    ``max_iters``, ...) inside a test; the previous values (or their
    absence) are restored afterwards. Yields ``set_info(key, value)``."""
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()
    missing = object()
    saved = {}

    def set_info(key, value):
        saved.setdefault(key, hub.runtime_info.get(key, missing))
        hub.update_info(key, value)

    yield set_info
    for key, value in saved.items():
        if value is missing:
            hub._runtime_info.pop(key, None)
        else:
            hub.update_info(key, value)


@pytest.fixture
def hub(runtime_info):
    """The MessageHub with ``max_iters`` 10 and ``epoch`` 0 (what an EMA
    teacher and DINO's temperature read), restored afterwards."""
    from mmengine.logging import MessageHub
    runtime_info('max_iters', 10)
    runtime_info('epoch', 0)
    return MessageHub.get_current_instance()


@pytest.fixture
def hub_epoch(runtime_info):
    """``set(epoch)`` of the MessageHub, restored afterwards."""
    return lambda epoch: runtime_info('epoch', epoch)
