"""Top-1 error of a classifier under white-box FGSM and PGD attacks.

Usage::

    python tools/analysis/adversarial_eval.py CONFIG CHECKPOINT \
        [--fgsm-eps 8/255] [--pgd-eps 4/255] [--pgd-step 2/255] \
        [--pgd-steps 10] [--no-random-start] [--attacks fgsm pgd] \
        [--max-batches N] [--seed 0] [--cfg-options K=V ...] \
        [--out result.json]

The model (an mmpretrain ``ImageClassifier`` or a subclass) and the test
dataloader are built from the config and the checkpoint is loaded; the model
is evaluated in eval mode, without any mixing. Every attack needs input
gradients, so this does not run mmengine's ``TestLoop`` (which runs under
``torch.no_grad``).

Definitions and assumptions (report them next to the numbers):

* Attacks are l_inf and act on pixels scaled to [0, 1]: the dataloader's
  0-255 inputs go through the model's ``data_preprocessor`` steps except the
  normalisation (cast to float, BGR->RGB when ``to_rgb``), are divided by 255,
  and the normalisation ``(255 * x - mean) / std`` runs inside the attacked
  function. Adversarial inputs are clipped to [0, 1]; they are not rounded
  to 8-bit values.
* FGSM: one signed-gradient step of size eps = 8/255 on the cross-entropy.
* PGD: eps = 4/255, step 2/255, as in the papers; **10 steps and a random
  start** (uniform in the eps-ball) are assumptions, the thesis does not state
  them. The last iterate is scored. ``--seed`` seeds the random start.
* The reported number is the top-1 error in % on the attacked inputs (clean
  samples that are already misclassified count as errors).

The last line printed is a JSON object with the results, e.g.
``{"clean_error": 5.1, "fgsm_error": 40.2, "pgd_error": 30.7, ...}``;
``--out`` also writes it to a file.
"""
import argparse
import json
import os.path as osp
from fractions import Fraction

import torch
from mmengine.config import Config, DictAction
from mmengine.utils import ProgressBar, mkdir_or_exist

from mmmix.engine import MMMixRunner, build_model_from_cfg
from mmmix.evaluation.metrics.utils import to_int_label
from mmmix.ops import fgsm, pgd
from mmmix.utils import register_all_modules

ATTACKS = ('fgsm', 'pgd')


def fraction(text: str) -> float:
    """``'8/255'``, ``'0.03'`` or ``'0'`` -> float, >= 0."""
    try:
        value = float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError) as e:
        raise argparse.ArgumentTypeError(
            f'expected a number or a fraction like 8/255, got {text!r}') from e
    if value < 0:
        raise argparse.ArgumentTypeError(f'must be >= 0, got {text!r}')
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Top-1 error under FGSM and PGD attacks')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--fgsm-eps', type=fraction, default=8 / 255,
        help='FGSM step and l_inf budget in [0,1] pixels (default 8/255)')
    parser.add_argument(
        '--pgd-eps', type=fraction, default=4 / 255,
        help='PGD l_inf budget in [0,1] pixels (default 4/255)')
    parser.add_argument(
        '--pgd-step', type=fraction, default=2 / 255,
        help='PGD step size (default 2/255)')
    parser.add_argument(
        '--pgd-steps', type=int, default=10,
        help='PGD steps (default 10, an assumption)')
    parser.add_argument(
        '--no-random-start', dest='random_start', action='store_false',
        help='start PGD at the clean input instead of a uniform draw in '
        'the eps-ball')
    parser.add_argument(
        '--attacks', nargs='+', choices=ATTACKS, default=list(ATTACKS),
        help='attacks to run (default: fgsm pgd)')
    parser.add_argument(
        '--max-batches', type=int, default=None,
        help='stop after this many test batches (default: all)')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the PGD random start')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs')
    parser.add_argument('--out', help='also write the JSON result here')
    args = parser.parse_args(argv)
    if args.pgd_steps < 1:
        parser.error(f'--pgd-steps must be >= 1, got {args.pgd_steps}')
    if 'pgd' in args.attacks and args.pgd_step <= 0:
        parser.error(f'--pgd-step must be > 0, got {args.pgd_step}')
    if args.max_batches is not None and args.max_batches < 1:
        parser.error(f'--max-batches must be >= 1, got {args.max_batches}')
    args.attacks = [a for a in ATTACKS if a in args.attacks]
    return args


def build_model_and_loader(cfg: Config, checkpoint: str, seed: int = 0):
    """The config's model with the checkpoint loaded, and its test loader."""
    if cfg.get('test_dataloader') is None:
        raise ValueError('the config has no test_dataloader')
    model = build_model_from_cfg(cfg, checkpoint)
    loader = MMMixRunner.build_dataloader(cfg.test_dataloader, seed=seed)
    return model, loader


class UnitRangeClassifier:
    """A classifier seen as ``logits = f(x01)`` with ``x01`` in [0, 1].

    Splits what the model's data preprocessor does to a batch of 0-255 pixels
    into :meth:`to_unit_range` (device, stacking, BGR->RGB, float, / 255) and
    :meth:`__call__` (``* 255``, normalisation, ``model(mode='tensor')``).

    Args:
        model (BaseModel): an mmpretrain classifier whose ``mode='tensor'``
            forward returns ``(N, K)`` logits.
    """

    def __init__(self, model):
        self.model = model
        pre = model.data_preprocessor
        self.preprocessor = pre
        self.to_rgb = bool(getattr(pre, 'to_rgb', False)
                           or getattr(pre, '_channel_conversion', False))
        if getattr(pre, '_enable_normalize', False):
            self.mean, self.std = pre.mean, pre.std
        else:
            self.mean = self.std = None

    def to_unit_range(self, data: dict) -> torch.Tensor:
        """A batch's ``inputs`` (0-255) as a float tensor in [0, 1]."""
        inputs = self.preprocessor.cast_data(data['inputs'])
        if isinstance(inputs, (list, tuple)):  # pseudo_collate
            shapes = {tuple(i.shape) for i in inputs}
            if len(shapes) != 1:
                raise ValueError(
                    'test images of different sizes in one batch '
                    f'({sorted(shapes)}); resize or crop them in the '
                    'test pipeline')
            inputs = torch.stack(list(inputs))
        if inputs.dim() != 4:
            raise ValueError('expected (N, C, H, W) image inputs, got shape '
                             f'{tuple(inputs.shape)}')
        if self.to_rgb and inputs.size(1) == 3:
            inputs = inputs.flip(1)
        x01 = inputs.float() / 255
        if x01.numel() and (x01.min() < 0 or x01.max() > 1):
            raise ValueError(
                'the test dataloader must give 0-255 pixel values, got '
                f'values in [{float(inputs.min())}, {float(inputs.max())}]')
        return x01

    def normalize(self, x01: torch.Tensor) -> torch.Tensor:
        x = x01 * 255
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return x

    def __call__(self, x01: torch.Tensor) -> torch.Tensor:
        return self.model(self.normalize(x01), mode='tensor')

    def check_preprocessing(self, data: dict, x01: torch.Tensor) -> None:
        """Fail if :meth:`normalize` does not reproduce the preprocessor."""
        ref = self.preprocessor(data, False)['inputs']
        if isinstance(ref, (list, tuple)):
            ref = torch.stack(list(ref))
        ours = self.normalize(x01)
        if ref.shape != ours.shape or not torch.allclose(
                ref.float(), ours, rtol=1e-4, atol=1e-4):
            raise RuntimeError(
                'the data preprocessor does more than casting, BGR->RGB and '
                'mean/std normalisation (e.g. padding); the attack cannot '
                'be expressed in [0, 1] pixel space for this config')


def num_mistakes(logits: torch.Tensor, labels: torch.Tensor) -> int:
    """Number of top-1 mistakes in a batch."""
    return int((logits.argmax(dim=1) != labels).sum())


def batch_labels(data: dict, device) -> torch.Tensor:
    labels = [to_int_label(s.gt_label) for s in data['data_samples']]
    if any(label < 0 for label in labels):
        raise ValueError('every test sample needs a gt_label')
    return torch.as_tensor(labels, dtype=torch.long, device=device)


def evaluate(model, loader, args) -> dict:
    """Clean and attacked top-1 error (%) over the test loader."""
    fn = UnitRangeClassifier(model)
    generator = None
    mistakes = dict.fromkeys(('clean', ) + tuple(args.attacks), 0)
    total = len(loader)
    if args.max_batches is not None:
        total = min(total, args.max_batches)
    bar = ProgressBar(total)
    num_samples = 0
    for i, data in enumerate(loader):
        if i >= total:
            break
        x01 = fn.to_unit_range(data)
        labels = batch_labels(data, x01.device)
        if generator is None:  # first batch
            generator = torch.Generator(x01.device).manual_seed(args.seed)
        with torch.no_grad():
            if i == 0:
                fn.check_preprocessing(data, x01)
            mistakes['clean'] += num_mistakes(fn(x01), labels)
        if 'fgsm' in mistakes:
            x_adv = fgsm(fn, x01, labels, args.fgsm_eps)
            with torch.no_grad():
                mistakes['fgsm'] += num_mistakes(fn(x_adv), labels)
        if 'pgd' in mistakes:
            x_adv = pgd(fn, x01, labels, args.pgd_eps, args.pgd_step,
                        steps=args.pgd_steps,
                        random_start=args.random_start, generator=generator)
            with torch.no_grad():
                mistakes['pgd'] += num_mistakes(fn(x_adv), labels)
        num_samples += len(labels)
        bar.update()
    print(flush=True)  # the progress bar ends without a newline
    if not num_samples:
        raise ValueError('the test dataloader is empty')
    result = {f'{k}_error': 100 * v / num_samples for k, v in mistakes.items()}
    if 'fgsm' in args.attacks:
        result['fgsm_eps'] = args.fgsm_eps
    if 'pgd' in args.attacks:
        result.update(pgd_eps=args.pgd_eps, pgd_step=args.pgd_step,
                      pgd_steps=args.pgd_steps,
                      random_start=args.random_start)
    result['num_samples'] = num_samples
    return result


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    torch.manual_seed(args.seed)
    model, loader = build_model_and_loader(cfg, args.checkpoint, args.seed)
    result = evaluate(model, loader, args)
    lines = [f'clean top-1 error: {result["clean_error"]:.2f}%']
    if 'fgsm' in args.attacks:
        lines.append(f'FGSM (eps={args.fgsm_eps:.5f}) top-1 error: '
                     f'{result["fgsm_error"]:.2f}%')
    if 'pgd' in args.attacks:
        lines.append(
            f'PGD (eps={args.pgd_eps:.5f}, step={args.pgd_step:.5f}, '
            f'{args.pgd_steps} steps, random start={args.random_start}) '
            f'top-1 error: {result["pgd_error"]:.2f}%')
    print('\n'.join(lines))
    text = json.dumps(result)
    if args.out is not None:
        mkdir_or_exist(osp.dirname(osp.abspath(args.out)))
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    print(text, flush=True)
    return result


if __name__ == '__main__':
    main()
