"""GeneratedViewsHook: generated-view sources checked before training."""
from types import SimpleNamespace
from unittest import mock

import pytest
from mmengine.dataset import Compose
from mmengine.logging import MMLogger

from mmmix.datasets import FashionMNIST
from mmmix.engine.hooks import GeneratedViewsHook
from mmmix.utils import register_all_modules
from tests.genviews_config_utils import save_cache


def _dataset(root, n, pipeline=()):
    register_all_modules()
    ds = FashionMNIST(data_root=root, split='train', indices=n, pipeline=[],
                      serialize_data=False)
    ds.pipeline = Compose(list(pipeline))
    return ds


def _runner(dataset, preprocessor=None):
    model = SimpleNamespace(data_preprocessor=preprocessor)
    return SimpleNamespace(
        train_dataloader=SimpleNamespace(dataset=dataset), model=model,
        logger=MMLogger.get_instance('test_generated_views_hook'))


def _load_view(cache):
    return dict(type='mmmix.LoadGeneratedView', cache=cache)


def test_checks_caches_against_the_train_set(fashion_root, tmp_path):
    cache = save_cache(_dataset(fashion_root, 40), str(tmp_path / 'c'))
    ok = _dataset(fashion_root, 40, [_load_view(cache)])
    GeneratedViewsHook().before_train(_runner(ok))
    other = _dataset(fashion_root, 30, [_load_view(cache)])  # another subset
    with pytest.raises(ValueError, match='num_samples'):
        GeneratedViewsHook().before_train(_runner(other))


def test_strict_needs_a_source_and_sees_the_batched_path(fashion_root):
    plain = _dataset(fashion_root, 20)
    with pytest.raises(ValueError, match='found no LocalManifoldAugment'):
        GeneratedViewsHook().before_train(_runner(plain))
    GeneratedViewsHook(strict=False).before_train(_runner(plain))
    pre = mock.Mock(spec=['check_dataset'])
    GeneratedViewsHook().before_train(_runner(plain, pre))
    pre.check_dataset.assert_called_once_with(plain)
