import pytest
import torch
from mmengine.dataset import ConcatDataset, default_collate
from mmengine.evaluator import Evaluator
from mmpretrain.structures import DataSample

from mmmix.datasets import FashionMNIST, NoiseDataset
from mmmix.evaluation import OODDetection
from mmmix.ops import ood_detection_scores
from mmmix.registry import METRICS, MODELS
from mmmix.utils import register_all_modules

register_all_modules(init_default_scope=False)

KEYS = ('det_acc', 'det_acc_best', 'auroc', 'aupr_in', 'aupr_out',
        'id_accuracy')


def probs_with_max(conf, argmax, num_classes=4):
    """A probability vector whose maximum ``conf`` is at ``argmax``."""
    rest = (1 - conf) / (num_classes - 1)
    assert rest < conf
    p = torch.full((num_classes, ), rest)
    p[argmax] = conf
    return p


def run_metric(samples, batch_size=3, **kwargs):
    """Evaluate DataSamples in batches, as a test loop does."""
    evaluator = Evaluator(METRICS.build(dict(type='OODDetection', **kwargs)))
    for i in range(0, len(samples), batch_size):
        evaluator.process(samples[i:i + batch_size])
    return evaluator.evaluate(len(samples))


def make_samples(id_conf, id_pred, id_label, ood_conf, ood_label=-1):
    samples = [
        DataSample().set_pred_score(probs_with_max(c, p)).set_gt_label(y)
        for c, p, y in zip(id_conf, id_pred, id_label)
    ]
    samples += [
        DataSample().set_pred_score(probs_with_max(c, 1)).set_gt_label(
            ood_label) for c in ood_conf
    ]
    return samples


def test_hand_made_case():
    id_conf, ood_conf = [0.9, 0.8, 0.4], [0.6, 0.3]
    samples = make_samples(id_conf, [0, 2, 1], [0, 1, 1], ood_conf)
    res = run_metric(samples)
    assert set(res) == {f'ood/{k}' for k in KEYS}
    # threshold 0.5: TPR 2/3, TNR 1/2; best (0.7): TPR 2/3, TNR 1
    assert res['ood/det_acc'] == pytest.approx(100 * (2 / 3 + 1 / 2) / 2)
    assert res['ood/det_acc_best'] == pytest.approx(100 * (2 / 3 + 1) / 2)
    assert res['ood/auroc'] == pytest.approx(100 * 5 / 6)  # 5 of 6 pairs
    # ranked 0.9 I, 0.8 I, 0.6 O, 0.4 I, 0.3 O
    assert res['ood/aupr_in'] == pytest.approx(100 * (1 + 1 + 3 / 4) / 3)
    assert res['ood/aupr_out'] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert res['ood/id_accuracy'] == pytest.approx(100 * 2 / 3)
    expected = ood_detection_scores(
        torch.tensor(id_conf), torch.tensor(ood_conf), 0.5)
    for key, value in expected.items():
        assert res[f'ood/{key}'] == pytest.approx(value)
    # the threshold argument reaches det_acc only
    res_07 = run_metric(samples, threshold=0.7)
    assert res_07['ood/det_acc'] == pytest.approx(100 * (2 / 3 + 1) / 2)
    assert res_07['ood/auroc'] == pytest.approx(res['ood/auroc'])


def test_perfect_separation():
    g = torch.Generator().manual_seed(0)
    id_conf = 0.8 + 0.2 * torch.rand(30, generator=g)
    ood_conf = 0.3 + 0.15 * torch.rand(20, generator=g)
    samples = make_samples(id_conf, [0] * 30, [0] * 30, ood_conf)
    res = run_metric(samples, batch_size=8)
    for key in KEYS:
        assert res[f'ood/{key}'] == pytest.approx(100)
    # inverted scores: OOD more confident than ID
    res = run_metric(make_samples(ood_conf, [0] * 20, [1] * 20, id_conf))
    assert res['ood/auroc'] == pytest.approx(0)
    assert res['ood/id_accuracy'] == 0


def test_identical_distributions_give_chance():
    g = torch.Generator().manual_seed(1)
    n = 1500  # per part: AUROC has a standard deviation of ~1 point
    probs = torch.softmax(2 * torch.randn(2 * n, 10, generator=g), 1)
    labels = torch.randint(0, 10, (2 * n, ), generator=g)
    labels[n:] = -1
    samples = [
        DataSample().set_pred_score(p).set_gt_label(int(y))
        for p, y in zip(probs, labels)
    ]
    res = run_metric(samples, batch_size=500)
    assert res['ood/auroc'] == pytest.approx(50, abs=3)
    assert res['ood/aupr_in'] == pytest.approx(50, abs=4)
    assert res['ood/aupr_out'] == pytest.approx(50, abs=4)
    assert res['ood/det_acc_best'] < 56
    assert res['ood/id_accuracy'] == pytest.approx(
        100 * float((probs[:n].argmax(1) == labels[:n]).double().mean()))


def test_is_ood_metainfo_marks_samples_with_valid_labels():
    id_conf, ood_conf = [0.9, 0.8, 0.4], [0.6, 0.3]
    by_label = run_metric(make_samples(id_conf, [0, 2, 1], [0, 1, 1],
                                       ood_conf))
    samples = make_samples(id_conf, [0, 2, 1], [0, 1, 1], ood_conf,
                           ood_label=1)
    for s in samples[3:]:
        s.set_metainfo(dict(is_ood=True))
    assert run_metric(samples) == pytest.approx(by_label)


@pytest.mark.parametrize('labels, what', [([0, 1, 2], '0 OOD'),
                                          ([-1, -1], '0 ID')])
def test_one_part_empty(labels, what):
    samples = [
        DataSample().set_pred_score(probs_with_max(0.7, 0)).set_gt_label(y)
        for y in labels
    ]
    with pytest.raises(ValueError, match=what):
        run_metric(samples)


def test_bad_arguments_and_missing_scores():
    for threshold in (-0.1, 1.5, 'half', None):
        with pytest.raises(ValueError, match='threshold'):
            OODDetection(threshold=threshold)
    metric = OODDetection()
    with pytest.raises(KeyError, match='pred_score'):
        metric.process(None, [DataSample().set_gt_label(0).to_dict()])


def tiny_classifier(to_onehot):
    return MODELS.build(
        dict(
            type='mmpretrain.ImageClassifier',
            data_preprocessor=dict(
                type='mmpretrain.ClsDataPreprocessor', num_classes=4,
                mean=[72.9], std=[90.0], to_onehot=to_onehot),
            backbone=dict(
                type='mmpretrain.ResNet_CIFAR', depth=18, in_channels=1,
                stem_channels=4, base_channels=4),
            neck=dict(type='mmpretrain.GlobalAveragePooling'),
            head=dict(
                type='mmpretrain.LinearClsHead', num_classes=4,
                in_channels=32))).eval()


def test_end_to_end_fashion_mnist_and_noise(fashion_root):
    """ConcatDataset -> collate -> classifier -> OODDetection.

    With ``gt_label=-1`` the data preprocessor must not make one-hot labels;
    with one-hot labels, NoiseDataset(gt_label=0) plus the packed ``is_ood``
    flag gives the same result.
    """
    pack = [dict(type='PackInputs', meta_keys=('sample_idx', 'is_ood'))]
    fmnist = FashionMNIST(data_root=fashion_root, split='test',
                          indices=6, pipeline=pack)

    def evaluate(model, noise):
        data = ConcatDataset([fmnist, noise], ignore_keys=['classes'])
        evaluator = Evaluator(OODDetection())
        for i in range(0, len(data), 4):  # the 2nd batch mixes ID and OOD
            batch = default_collate(
                [data[j] for j in range(i, min(i + 4, len(data)))])
            with torch.no_grad():
                evaluator.process(model.test_step(batch), batch)
        return evaluator.evaluate(len(data))

    torch.manual_seed(0)
    model = tiny_classifier(to_onehot=False)
    by_label = evaluate(model, NoiseDataset(num_samples=4, shape=(28, 28),
                                            pipeline=pack))
    assert set(by_label) == {f'ood/{k}' for k in KEYS}

    onehot = tiny_classifier(to_onehot=True)
    onehot.load_state_dict(model.state_dict())
    with pytest.raises(RuntimeError, match='non-negative'):
        evaluate(onehot, NoiseDataset(num_samples=4, shape=(28, 28),
                                      pipeline=pack))
    by_flag = evaluate(onehot, NoiseDataset(num_samples=4, shape=(28, 28),
                                            gt_label=0, pipeline=pack))
    assert by_flag == pytest.approx(by_label)
