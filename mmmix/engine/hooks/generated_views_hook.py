"""Checks the generated-view sources of a training set before training."""
from mmengine.hooks import Hook

from mmmix.datasets.transforms.generated_views import (
    check_generated_view_sources,
)
from mmmix.registry import HOOKS


@HOOKS.register_module()
class GeneratedViewsHook(Hook):
    """Before training, check every generated-view transform of the train
    dataset's pipeline (:class:`~mmmix.datasets.LocalManifoldAugment`,
    :class:`~mmmix.datasets.LoadGeneratedView`,
    :class:`~mmmix.datasets.KNNReplace`) and of a batched
    :class:`~mmmix.models.LMASelfSupDataPreprocessor` against the
    dataset: the feature
    bank, view cache or neighbour images must carry the fingerprint of the
    very dataset (same length, same images at the checked indices), and
    each transform should be the first of its view pipeline. The
    transforms alone only see one sample's index, so this is where a bank
    or cache built for another dataset, size or subset is refused.

    Args:
        strict (bool): raise when the pipeline has no generated-view
            transform at all. Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, strict: bool = True):
        self.strict = strict

    def before_train(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        found = check_generated_view_sources(dataset)
        model = getattr(runner.model, 'module', runner.model)
        preprocessor = getattr(model, 'data_preprocessor', None)
        if hasattr(preprocessor, 'check_dataset'):  # batched LMA
            preprocessor.check_dataset(dataset)
            found.append(preprocessor)
        if self.strict and not found:
            raise ValueError(
                'GeneratedViewsHook found no LocalManifoldAugment, '
                'LoadGeneratedView or KNNReplace in the train pipeline of '
                f'{type(dataset).__name__} and no batched LMA data '
                'preprocessor')
        runner.logger.info(
            'generated-view sources checked against the train set: ' +
            ', '.join(type(t).__name__ for t in found))
