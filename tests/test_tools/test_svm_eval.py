"""tools/analysis/svm_eval.py: SVM and low-shot modes on .npy features, and
the whole path from a config + checkpoint on a generated VOC folder."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmmix.engine import build_model_from_cfg
from tests.test_evaluation.test_svm import multilabel
from tests.test_tools.test_train_args import load_tool

TOOL = load_tool('analysis/svm_eval.py')


def save_npy(tmp_path, **arrays):
    paths = {}
    for name, arr in arrays.items():
        paths[name] = str(tmp_path / f'{name}.npy')
        np.save(paths[name], arr)
    return paths


@pytest.fixture
def npy_features(tmp_path):
    xtr, ytr = multilabel(60, seed=0, noise=0.3)
    xte, yte = multilabel(40, seed=1, noise=0.3)
    yte[:3, 0] = -1  # some ignored test entries
    return save_npy(tmp_path, xtr=xtr, ytr=ytr, xte=xte, yte=yte)


def last_json(capsys):
    out = capsys.readouterr().out.strip().splitlines()
    return out, json.loads(out[-1])


def test_svm_mode_on_features(npy_features, tmp_path, capsys):
    p = npy_features
    out_file = str(tmp_path / 'res.json')
    res = TOOL.main([
        '--features', p['xtr'], p['xte'], '--labels', p['ytr'], p['yte'],
        '--mode', 'svm', '--costs', '1', '10', '--out', out_file,
        '--no-progress'
    ])
    lines, printed = last_json(capsys)
    assert printed['mAP'] == pytest.approx(res['mAP'])
    assert (printed['mode'], printed['feat_dim'], printed['num_train'],
            printed['num_test']) == ('svm', 8, 60, 40)
    assert len(printed['ap']) == 3 and set(printed['cost']) <= {1., 10.}
    assert printed['mAP'] > 90
    assert any(line.startswith('| mean |') for line in lines)
    with open(out_file) as f:
        assert json.load(f) == printed


def test_low_shot_mode_on_features(npy_features, capsys):
    p = npy_features
    TOOL.main([
        '--features', p['xtr'], p['xte'], '--labels', p['ytr'], p['yte'],
        '--mode', 'low-shot', '--costs', '1', '--shots', '1', '2',
        '--num-samples', '2', '--seed', '3', '--no-progress'
    ])
    _, res = last_json(capsys)
    assert res['mode'] == 'low-shot' and res['shots'] == [1, 2]
    assert set(res['per_shot']) == {'1', '2'}  # JSON keys
    assert res['mean_mAP'] == pytest.approx(
        np.mean(list(res['per_shot'].values())))


def test_argument_errors(npy_features):
    with pytest.raises(SystemExit):
        TOOL.parse_args([])
    with pytest.raises(SystemExit):
        TOOL.parse_args(['--features', npy_features['xtr'],
                         npy_features['xte']])


CLASSES = ('cat', 'dog')
#: (image id, [(class, difficult)]): cat 4 / 2, dog 4 / 2 in trainval (a
#: difficult-only dog in image t07, a cat both ways in t00)
TRAINVAL = [
    ('t00', [('cat', 0), ('cat', 1)]), ('t01', [('cat', 0)]),
    ('t02', [('cat', 0), ('dog', 0)]), ('t03', [('cat', 0)]),
    ('t04', [('dog', 0)]), ('t05', [('dog', 0)]), ('t06', [('dog', 0)]),
    ('t07', [('dog', 1)]), ('t08', []), ('t09', []),
]
TEST = [('e00', [('cat', 0)]), ('e01', [('dog', 0)]),
        ('e02', [('cat', 0), ('dog', 1)]), ('e03', [('dog', 0)])]


def write_voc(root):
    """A VOC2007-format folder (JPEGImages, Annotations, ImageSets)."""
    rng = np.random.default_rng(0)
    for sub in ('JPEGImages', 'Annotations', 'ImageSets/Main'):
        os.makedirs(osp.join(root, sub))
    for split, items in (('trainval', TRAINVAL), ('test', TEST)):
        with open(osp.join(root, 'ImageSets/Main', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(i for i, _ in items) + '\n')
        for img_id, objects in items:
            cv2.imwrite(osp.join(root, 'JPEGImages', f'{img_id}.jpg'),
                        rng.integers(0, 255, (40, 48, 3), dtype=np.uint8))
            objs = ''.join(f'<object><name>{n}</name><difficult>{d}'
                           '</difficult></object>' for n, d in objects)
            with open(osp.join(root, 'Annotations', f'{img_id}.xml'),
                      'w') as f:
                f.write(f'<annotation>{objs}</annotation>')


def test_from_config_and_checkpoint_on_voc_files(tmp_path, capsys):
    root = str(tmp_path / 'VOC2007')
    write_voc(root)
    cfg = Config(dict(
        default_scope='mmmix',
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='ResNet', depth=18, stem_channels=8,
                          base_channels=8, out_indices=(2, 3)),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=2, in_channels=64)),
        data_preprocessor=dict(
            type='ClsDataPreprocessor', mean=[127.5] * 3, std=[64.] * 3,
            to_rgb=True)))
    cfg_path = str(tmp_path / 'model.py')
    cfg.dump(cfg_path)
    torch.manual_seed(0)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=build_model_from_cfg(cfg).state_dict(),
                    meta=dict()), ckpt)

    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='Resize', scale=(64, 64)),
                dict(type='PackInputs')]

    def loader(split):
        return dict(batch_size=4, num_workers=0,
                    dataset=dict(type='VOC', data_root=root, split=split,
                                 metainfo=dict(classes=CLASSES),
                                 pipeline=pipeline),
                    sampler=dict(type='DefaultSampler', shuffle=False),
                    collate_fn=dict(type='default_collate'))

    eval_cfg = str(tmp_path / 'eval.py')
    Config(dict(train_dataloader=loader('trainval'),
                test_dataloader=loader('test'))).dump(eval_cfg)
    feat_dir = str(tmp_path / 'feats')
    TOOL.main([cfg_path, ckpt, '--eval-config', eval_cfg, '--mode', 'svm',
               '--costs', '1', '--stage', '-2', '--pool-size', '2',
               '--save-features', feat_dir, '--no-progress'])
    _, res = last_json(capsys)
    # res4 of a width-8 ResNet-18: 32 channels, pooled to 2x2
    assert res['feat_dim'] == 128 and res['num_train'] == 10
    assert len(res['ap']) == 2
    targets = np.load(osp.join(feat_dir, 'train_targets.npy'))
    assert targets.tolist() == [[1, 0], [1, 0], [1, 1], [1, 0], [0, 1],
                                [0, 1], [0, 1], [0, -1], [0, 0], [0, 0]]
    assert np.load(osp.join(feat_dir, 'test_targets.npy')).tolist() == [
        [1, 0], [0, 1], [1, -1], [0, 1]]
    feats = np.load(osp.join(feat_dir, 'train_feats.npy'))
    assert feats.shape == (10, 128) and np.isfinite(feats).all()

    # the default data: mmpretrain's VOC with its 20 classes
    from mmmix.engine.runner import MMMixRunner
    voc = MMMixRunner.build_dataloader(
        TOOL.voc_dataloader(root, 'test', 2, 0)).dataset
    targets = TOOL.dataset_targets(voc)
    assert targets.shape == (4, 20)
    cat, dog = voc.metainfo['classes'].index('cat'), voc.metainfo[
        'classes'].index('dog')
    assert targets[2, cat] == 1 and targets[2, dog] == -1
    assert targets.sum() == 4 - 1  # 4 present entries, 1 ignored
