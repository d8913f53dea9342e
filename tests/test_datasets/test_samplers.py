"""ClassBalancedSampler: P classes x Q images per batch, seeded, sharded."""
from collections import Counter
from unittest import mock

import numpy as np
import pytest
from torch.utils.data import DataLoader

from mmmix.datasets import ClassBalancedSampler
from mmmix.registry import DATA_SAMPLERS

SAMPLERS = 'mmmix.datasets.samplers'


class LabelList:
    """A dataset with ``get_gt_labels`` (mmpretrain style)."""

    def __init__(self, labels):
        self.labels = np.asarray(labels)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return i

    def get_gt_labels(self):
        return self.labels


class InfoList:
    """A dataset with only ``get_data_info`` (mmengine style)."""

    def __init__(self, labels):
        self.labels = list(labels)

    def __len__(self):
        return len(self.labels)

    def get_data_info(self, i):
        return dict(gt_label=self.labels[i])


def _labels(num_classes=12, sizes=None, seed=0):
    """Class ``c`` has ``sizes[c]`` images, shuffled in the dataset."""
    sizes = sizes or [4 + c % 5 for c in range(num_classes)]
    labels = np.repeat(np.arange(num_classes), sizes)
    return np.random.default_rng(seed).permutation(labels)


def _batches(sampler):
    idx = list(sampler)
    assert len(idx) == len(sampler)
    b = sampler.batch_size
    return [idx[i:i + b] for i in range(0, len(idx), b)]


def _check_batch(batch, labels, p, q):
    counts = Counter(labels[i] for i in batch)
    assert len(counts) == p and set(counts.values()) == {q}


def test_batches_hold_p_classes_of_q_images():
    labels = _labels()
    sampler = ClassBalancedSampler(
        LabelList(labels), samples_per_class=3, batch_size=12, seed=0)
    assert sampler.classes_per_batch == 4
    batches = _batches(sampler)
    assert len(batches) == len(labels) // 12  # floor(N / B)
    assert len(sampler) == len(batches) * 12
    for batch in batches:
        _check_batch(batch, labels, 4, 3)
        # class by class, and no repeat inside a class that has >= Q images
        for k in range(4):
            group = batch[3 * k:3 * k + 3]
            assert len({labels[i] for i in group}) == 1
            assert len(set(group)) == 3


def test_labels_from_get_data_info_and_dataloader():
    labels = _labels(num_classes=6, sizes=[5] * 6)
    sampler = DATA_SAMPLERS.build(
        dict(type='ClassBalancedSampler', samples_per_class=5,
             batch_size=10, seed=1),
        default_args=dict(dataset=InfoList(labels.tolist())))
    loader = DataLoader(
        list(range(len(labels))), batch_size=10, sampler=sampler)
    batches = [b.tolist() for b in loader]
    assert len(batches) == 3
    for batch in batches:
        _check_batch(batch, labels, 2, 5)


def test_seeded_reproducible_and_epochs_differ():
    labels = _labels()

    def make(seed):
        return ClassBalancedSampler(
            LabelList(labels), samples_per_class=2, batch_size=8, seed=seed)

    a, b = make(3), make(3)
    assert list(a) == list(b)
    assert list(a) == list(a)  # iterating again: same epoch, same order
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    b.set_epoch(1)
    assert list(a) == list(b)
    assert list(make(4)) != first


def test_seed_none_uses_sync_random_seed():
    labels = _labels()
    with mock.patch(f'{SAMPLERS}.sync_random_seed', return_value=123) as m:
        sampler = ClassBalancedSampler(LabelList(labels), 2, 8)
    m.assert_called_once()
    assert sampler.seed == 123
    assert list(sampler) == list(
        ClassBalancedSampler(LabelList(labels), 2, 8, seed=123))


def test_all_classes_sampled_evenly():
    labels = _labels(num_classes=30, sizes=[6] * 30)
    sampler = ClassBalancedSampler(
        LabelList(labels), samples_per_class=3, batch_size=12, seed=0)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        seen = Counter()
        for batch in _batches(sampler):
            seen.update({labels[i] for i in batch})
        # 15 batches x 4 classes = 60 slots: about twice each of 30 classes
        assert set(seen) == set(range(30))
        assert 1 <= min(seen.values()) and max(seen.values()) <= 3


def test_small_classes_drawn_with_replacement():
    # classes of 1 and 2 images, Q = 4: repeats are unavoidable
    labels = np.array([0] + [1, 1] + [2] * 6 + [3] * 7)
    sampler = ClassBalancedSampler(
        LabelList(labels), samples_per_class=4, batch_size=8, seed=0)
    singles = np.flatnonzero(labels == 0).tolist()
    for epoch in range(5):
        sampler.set_epoch(epoch)
        for batch in _batches(sampler):
            _check_batch(batch, labels, 2, 4)
            for k in range(2):
                group = batch[4 * k:4 * k + 4]
                cls = labels[group[0]]
                if cls == 0:
                    assert group == singles * 4
                elif cls == 1:
                    assert set(group) <= {1, 2}
                else:  # enough images: no repeats
                    assert len(set(group)) == 4


@pytest.mark.parametrize('round_up,per_rank', [(True, 4), (False, 3)])
def test_two_rank_sharding(round_up, per_rank):
    labels = _labels(num_classes=21, sizes=[4] * 21)  # 84 images
    data = LabelList(labels)

    def make(rank):
        with mock.patch(f'{SAMPLERS}.get_dist_info', return_value=(rank, 2)):
            return ClassBalancedSampler(
                data, samples_per_class=2, batch_size=12, seed=5,
                round_up=round_up)

    r0, r1 = make(0), make(1)
    single = ClassBalancedSampler(data, 2, 12, seed=5)
    assert single.total_batches == 7  # floor(84 / 12), for all ranks
    b0, b1 = _batches(r0), _batches(r1)
    assert len(b0) == len(b1) == per_rank
    assert len(r0) == len(r1) == per_rank * 12
    for batch in b0 + b1:
        _check_batch(batch, labels, 6, 2)
    # the ranks take alternate batches of one shared sequence
    assert not any(a == b for a, b in zip(b0, b1))
    merged = [b for pair in zip(b0, b1) for b in pair]
    full = _batches(single)
    if round_up:  # one extra batch fills the last round
        assert len(merged) == 8 and merged[:7] == full
    else:  # the 7th batch is dropped
        assert merged == full[:6]
    # every rank moves on with the epoch
    r0.set_epoch(1)
    assert _batches(r0) != b0


def test_errors():
    labels = _labels(num_classes=3, sizes=[5] * 3)
    with pytest.raises(ValueError, match='multiple of samples_per_class'):
        ClassBalancedSampler(LabelList(labels), samples_per_class=4,
                             batch_size=10, seed=0)
    with pytest.raises(ValueError, match='4 distinct classes.*only 3'):
        ClassBalancedSampler(LabelList(labels), samples_per_class=2,
                             batch_size=8, seed=0)
    with pytest.raises(ValueError, match='samples_per_class'):
        ClassBalancedSampler(LabelList(labels), samples_per_class=0, seed=0)
    with pytest.raises(ValueError, match='batch_size'):
        ClassBalancedSampler(LabelList(labels), batch_size=2.5, seed=0)


def test_at_least_one_batch():
    labels = _labels(num_classes=4, sizes=[2] * 4)  # N = 8 < B = 12
    sampler = ClassBalancedSampler(
        LabelList(labels), samples_per_class=3, batch_size=12, seed=0)
    batches = _batches(sampler)
    assert len(batches) == 1
    _check_batch(batches[0], labels, 4, 3)
