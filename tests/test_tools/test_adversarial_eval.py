import json

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope

from mmmix.engine import build_runner
from mmmix.registry import MODELS
from mmmix.utils import register_all_modules
from tests.test_tools.test_train_args import load_tool

NUM_CLASSES = 4  # the fake Fashion-MNIST of tests/conftest.py


def tiny_classifier_cfg(data_root, collate='pseudo_collate'):
    """A small ImageClassifier for the 28x28 grey fake Fashion-MNIST."""
    return Config(dict(
        default_scope='mmmix',
        model=dict(
            type='ImageClassifier',
            data_preprocessor=dict(
                type='ClsDataPreprocessor', mean=[72.94], std=[90.02],
                to_rgb=False, num_classes=NUM_CLASSES),
            backbone=dict(
                type='ResNet_CIFAR', depth=18, in_channels=1,
                stem_channels=4, base_channels=4),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                      in_channels=32)),
        test_dataloader=dict(
            batch_size=8,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type=collate),
            dataset=dict(
                type='mmmix.FashionMNIST', data_root=data_root,
                split='test', pipeline=[dict(type='PackInputs')]))))


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis/adversarial_eval.py')


@pytest.fixture(scope='module')
def config_and_checkpoint(fashion_root, tmp_path_factory):
    """The config file and a checkpoint of the randomly initialised model."""
    register_all_modules(init_default_scope=False)
    tmp = tmp_path_factory.mktemp('adversarial_eval')
    cfg = tiny_classifier_cfg(fashion_root)
    cfg_path, ckpt = str(tmp / 'cfg.py'), str(tmp / 'init.pth')
    cfg.dump(cfg_path)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmmix'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    return cfg_path, ckpt


def last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_attacked_errors_are_percentages(tool, config_and_checkpoint,
                                         capsys, tmp_path):
    cfg_path, ckpt = config_and_checkpoint
    out = tmp_path / 'res' / 'result.json'
    tool.main([cfg_path, ckpt, '--max-batches', '2', '--pgd-steps', '3',
               '--out', str(out)])
    rec = last_json(capsys)
    assert rec == json.loads(out.read_text())
    assert rec['num_samples'] == 16
    for key in ('clean_error', 'fgsm_error', 'pgd_error'):
        assert 0 <= rec[key] <= 100
    assert rec['fgsm_eps'] == pytest.approx(8 / 255)
    assert rec['pgd_eps'] == pytest.approx(4 / 255)
    assert rec['pgd_step'] == pytest.approx(2 / 255)
    assert rec['pgd_steps'] == 3 and rec['random_start'] is True


def test_zero_eps_gives_the_clean_error(tool, config_and_checkpoint, capsys,
                                        fashion_root, tmp_path):
    cfg_path, ckpt = config_and_checkpoint
    # default_collate: the inputs come as one uint8 tensor, not a list
    stacked = str(tmp_path / 'stacked.py')
    tiny_classifier_cfg(fashion_root, 'default_collate').dump(stacked)
    rec = None
    for path in (cfg_path, stacked):
        tool.main([path, ckpt, '--max-batches', '2', '--fgsm-eps', '0',
                   '--pgd-eps', '0', '--pgd-steps', '1',
                   '--no-random-start'])
        new = last_json(capsys)
        assert new['fgsm_error'] == new['clean_error']
        assert new['pgd_error'] == new['clean_error']
        assert new['random_start'] is False
        assert rec is None or new == rec
        rec = new
    # one attack only: the other's keys are left out
    tool.main([cfg_path, ckpt, '--max-batches', '1', '--attacks', 'fgsm',
               '--fgsm-eps', '0'])
    new = last_json(capsys)
    assert new['num_samples'] == 8 and 'pgd_error' not in new
    assert new['fgsm_error'] == new['clean_error']


def test_clean_error_matches_the_model_predictions(tool,
                                                  config_and_checkpoint):
    cfg_path, ckpt = config_and_checkpoint
    args = tool.parse_args([cfg_path, ckpt, '--max-batches', '2',
                            '--attacks', 'fgsm', '--fgsm-eps', '0'])
    model, loader = tool.build_model_and_loader(Config.fromfile(cfg_path),
                                                ckpt)
    mistakes = 0
    with torch.no_grad():
        for _, data in zip(range(2), loader):
            for sample in model.test_step(data):
                mistakes += int(sample.pred_label != sample.gt_label)
    rec = tool.evaluate(model, loader, args)
    assert rec['clean_error'] == 100 * mistakes / 16


def test_top_level_data_preprocessor_is_used_as_by_the_runner(
        tool, config_and_checkpoint, fashion_root, tmp_path):
    # mmpretrain configs keep the normalisation in a top-level
    # data_preprocessor, which mmengine's Runner merges into the model
    _, ckpt = config_and_checkpoint
    cfg = tiny_classifier_cfg(fashion_root)
    cfg.data_preprocessor = cfg.model.pop('data_preprocessor')
    cfg.work_dir = str(tmp_path)
    cfg.load_from = ckpt
    cfg.test_evaluator = dict(type='Accuracy', topk=(1, ))
    cfg.test_cfg = dict()
    runner = build_runner(cfg)
    runner.load_or_resume()
    runner.model.eval()
    model, loader = tool.build_model_and_loader(cfg, ckpt)
    torch.testing.assert_close(model.data_preprocessor.mean.flatten(),
                               torch.tensor([72.94]))
    fn = tool.UnitRangeClassifier(model)
    with torch.no_grad():
        for _, data in zip(range(2), runner.test_dataloader):
            ref = torch.stack([s.pred_score
                               for s in runner.model.test_step(data)])
            ours = fn(fn.to_unit_range(data)).softmax(1)
            torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-4)


class Identity(BaseModel):
    """``mode='tensor'`` gives the normalised input back, flattened."""

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return inputs.flatten(1)


@pytest.mark.parametrize('stack', [False, True])
def test_unit_range_split_reproduces_the_preprocessor(tool, stack):
    pre = dict(type='mmpretrain.ClsDataPreprocessor', mean=[10., 20., 30.],
               std=[2., 4., 8.], to_rgb=True)
    model = Identity(data_preprocessor=pre)
    g = torch.Generator().manual_seed(0)
    imgs = [torch.randint(256, (3, 5, 6), generator=g, dtype=torch.uint8)
            for _ in range(2)]
    data = dict(inputs=torch.stack(imgs) if stack else imgs,
                data_samples=None)
    fn = tool.UnitRangeClassifier(model)
    x01 = fn.to_unit_range(data)
    assert x01.shape == (2, 3, 5, 6) and 0 <= x01.min() <= x01.max() <= 1
    # BGR -> RGB, as the preprocessor does for 3-channel inputs
    assert torch.equal(x01, torch.stack(imgs).flip(1).float() / 255)
    ref = model.data_preprocessor(data, False)['inputs']
    assert torch.allclose(fn(x01), ref.flatten(1), atol=1e-5)
    fn.check_preprocessing(data, x01)
    # padding cannot be expressed in [0, 1] pixel space: refused
    model = Identity(data_preprocessor=dict(pre, pad_size_divisor=4))
    fn = tool.UnitRangeClassifier(model)
    with pytest.raises(RuntimeError, match='more than casting'):
        fn.check_preprocessing(data, fn.to_unit_range(data))


def test_command_line_checks(tool):
    args = tool.parse_args(['c.py', 'w.pth', '--fgsm-eps', '16/255',
                            '--attacks', 'pgd', 'fgsm'])
    assert args.fgsm_eps == pytest.approx(16 / 255)
    assert args.attacks == ['fgsm', 'pgd'] and args.random_start
    for bad in (['--fgsm-eps', '-1/255'], ['--pgd-eps', 'abc'],
                ['--pgd-steps', '0'], ['--pgd-step', '0'],
                ['--max-batches', '0']):
        with pytest.raises(SystemExit):
            tool.parse_args(['c.py', 'w.pth'] + bad)
