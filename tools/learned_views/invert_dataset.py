"""Invert a dataset into the W+ space of a trained GAN (learned views, U9).

Usage::

    python tools/learned_views/invert_dataset.py GAN_CONFIG GAN_CKPT \
        DATA_CONFIG --out DIR [--loader train_dataloader] [--steps 200] \
        [--lr 0.05] [--batch-size 256] [--truncation 0.7] \
        [--encoder-steps 0] [--encoder-batch-size 64] [--encoder-lr 1e-3] \
        [--encoder-channels 32] [--lambda-dom 2.0] [--encoder-only] \
        [--perceptual-config CFG --perceptual-ckpt CKPT \
         --perceptual-prefix backbone. --lambda-perc 1.0] \
        [--part i --num-parts n] [--num-workers 0] [--seed 0] \
        [--no-progress]

Loads the EMA generator of GAN_CKPT (a runner checkpoint of the
``mmmix.GAN`` of GAN_CONFIG, keys ``generator_ema.*``, strictly) and reads
the images of DATA_CONFIG's ``--loader`` dataset (the innermost dataset
with a pipeline, pipeline replaced by its loading transforms +
``PackInputs``) in dataset order. Every image goes to ``[-1, 1]`` at the
generator's resolution through the GAN's data preprocessor (Fashion-MNIST:
28 -> 32 by centre padding with black) and its W+ code is optimised with
Adam (:func:`mmmix.models.generators.invert_latents`) from a warm start:

- ``w_avg`` by default;
- with ``--encoder-steps K > 0``, a :class:`~mmmix.models.LatentEncoder`
  trained for K steps on the generator's own samples and saved as
  ``DIR/encoder.pth`` (re-used, not retrained, by later runs and parts;
  ``--encoder-only`` trains it and stops, so that parallel parts share
  it); its output also drives the in-domain term (``--lambda-dom``,
  reference 2.0).

Codes are synthesised as ``truncate(w, w_avg, --truncation)`` (reference
0.7): the stored codes are pre-truncation, like the view builders expect,
so W-perturb with sigma 0 at the same truncation gives back the
reconstruction. ``--perceptual-*`` adds ``lambda_perc MSE`` of a frozen
backbone's stage features (a VGG19 stand-in; no VGG weights exist offline).

Output: a :class:`~mmmix.datasets.ViewCache` in DIR with one view slot,
the reconstruction (clamped, centre-cropped back to the dataset's size;
method ``'reconstruction'``), ``latents.npy`` float32 ``(N, L, D)``, and
``recon_mse.npy`` / ``recon_mse_init.npy`` (per-image pixel MSE in
``[-1, 1]`` at the dataset's size, after / before the optimisation).
``meta.json`` (written once every row is done) has the dataset
fingerprint, the GAN checkpoint's sha256, the hyper-parameters and the
mean MSEs. Runs are resumable and can be split: ``--part i --num-parts n``
processes a contiguous run of the (global) batches, rows already written
are skipped, and a build created with other hyper-parameters is refused.
The last line printed is a JSON summary.
"""
import argparse
import json
import os
import os.path as osp
import sys

import numpy as np
import torch
from mmengine.config import Config
from mmengine.utils import ProgressBar

from mmmix.datasets import ViewCache
from mmmix.datasets.feature_bank import file_sha256
from mmmix.datasets.fingerprint import raw_image
from mmmix.engine.checkpoint import safe_torch_load
from mmmix.engine.view_generation import (
    batch_plan,
    build_clean_dataset,
    build_embedding,
    crop_to,
    dataset_channel_order,
    iter_dataset_batches,
    load_gan_generator,
    pixel_normalizer,
    to_generator_input,
)
from mmmix.models.generators import (
    LatentEncoder,
    invert_latents,
    train_latent_encoder,
)
from mmmix.utils import register_all_modules

ENCODER_FILE = 'encoder.pth'
MSE_FILE = 'recon_mse.npy'
MSE_INIT_FILE = 'recon_mse_init.npy'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('gan_config')
    parser.add_argument('gan_checkpoint')
    parser.add_argument('data_config')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--loader', default='train_dataloader')
    parser.add_argument('--steps', type=int, default=200)
    parser.add_argument('--lr', type=float, default=0.05)
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--truncation', type=float, default=0.7,
                        help='psi of the synthesis (0, 1]')
    parser.add_argument('--encoder-steps', type=int, default=0)
    parser.add_argument('--encoder-batch-size', type=int, default=64)
    parser.add_argument('--encoder-lr', type=float, default=1e-3)
    parser.add_argument('--encoder-channels', type=int, default=32)
    parser.add_argument('--lambda-dom', type=float, default=2.0,
                        help='in-domain weight (with an encoder)')
    parser.add_argument('--encoder-only', action='store_true',
                        help='train / save the encoder, then stop')
    parser.add_argument('--perceptual-config', default=None)
    parser.add_argument('--perceptual-ckpt', default=None)
    parser.add_argument('--perceptual-prefix', default='backbone.')
    parser.add_argument('--lambda-perc', type=float, default=1.0)
    parser.add_argument('--part', type=int, default=0)
    parser.add_argument('--num-parts', type=int, default=1)
    parser.add_argument('--num-workers', type=int, default=0)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the encoder training')
    parser.add_argument('--no-progress', action='store_true')
    args = parser.parse_args(argv)
    if not 0 < args.truncation <= 1:
        parser.error(f'--truncation must be in (0, 1], got {args.truncation}')
    for name in ('steps', 'encoder_steps'):
        if getattr(args, name) < 0:
            parser.error(f'--{name.replace("_", "-")} must be >= 0')
    if args.batch_size < 1 or args.encoder_batch_size < 1:
        parser.error('batch sizes must be >= 1')
    if (args.perceptual_config is None) != (args.perceptual_ckpt is None):
        parser.error('--perceptual-config and --perceptual-ckpt go together')
    if args.encoder_only and args.encoder_steps < 1:
        parser.error('--encoder-only needs --encoder-steps >= 1')
    return args


def _encoder_cfg(gen, channels: int) -> dict:
    return dict(type='mmmix.LatentEncoder', resolution=gen.resolution,
                img_channels=gen.img_channels, num_ws=gen.num_ws,
                w_dim=gen.w_dim, channels=channels)


def get_encoder(args, gen, out: str):
    """Train and save the warm-start encoder, or load the saved one.

    Returns:
        tuple: ``(encoder, 'trained' | 'loaded')``.
    """
    cfg = _encoder_cfg(gen, args.encoder_channels)
    hparams = dict(steps=args.encoder_steps,
                   batch_size=args.encoder_batch_size, lr=args.encoder_lr,
                   seed=args.seed, truncation=1.0, lambda_img=1.0)
    path = osp.join(out, ENCODER_FILE)
    kwargs = {k: v for k, v in cfg.items() if k != 'type'}
    if osp.isfile(path):
        ckpt = safe_torch_load(path, map_location='cpu')
        meta = ckpt.get('meta', {})
        if meta.get('encoder_cfg') != cfg or meta.get('hparams') != hparams:
            raise ValueError(
                f'{path} was trained with other settings '
                f'({meta.get("encoder_cfg")}, {meta.get("hparams")}) than '
                f'requested ({cfg}, {hparams}); remove it or use another '
                '--out')
        encoder = LatentEncoder(**kwargs).to(gen.w_avg.device)
        encoder.load_state_dict(ckpt['state_dict'], strict=True)
        return encoder.eval(), 'loaded'
    torch.manual_seed(args.seed)  # the encoder's initial weights
    encoder = LatentEncoder(**kwargs).to(gen.w_avg.device)
    bar = (None if args.no_progress else
           ProgressBar(args.encoder_steps, file=sys.stdout))
    history = train_latent_encoder(
        gen, encoder, args.encoder_steps, args.encoder_batch_size,
        lr=args.encoder_lr, seed=args.seed,
        callback=None if bar is None else (lambda step, loss: bar.update()))
    if bar is not None:
        sys.stdout.write('\n')
    os.makedirs(out, exist_ok=True)
    tmp = path + '.tmp'
    torch.save(
        dict(state_dict={k: v.cpu()
                         for k, v in encoder.state_dict().items()},
             meta=dict(encoder_cfg=cfg, hparams=hparams,
                       final_loss=history['loss'][-1],
                       final_latent_mse=history['latent_mse'][-1],
                       final_image_mse=history['image_mse'][-1],
                       first_loss=history['loss'][0])), tmp)
    os.replace(tmp, path)
    return encoder.eval(), 'trained'


def _perceptual(args, height: int, width: int):
    """A frozen backbone's stage features of ``[-1, 1]`` images (cropped
    to the dataset's size and normalised like its training inputs)."""
    cfg = Config.fromfile(args.perceptual_config)
    model, _ = build_embedding(cfg, args.perceptual_ckpt,
                               args.perceptual_prefix, embed='backbone')
    prep = pixel_normalizer(model.data_preprocessor)

    def fn(x):
        return model.backbone(prep((crop_to(x, height, width) + 1) * 127.5))

    return model, fn


def _memmap(path: str, num: int, exists: bool) -> np.ndarray:
    if exists and osp.isfile(path):
        return np.load(path, mmap_mode='r+')
    arr = np.lib.format.open_memmap(path, mode='w+', dtype=np.float32,
                                    shape=(num, ))
    arr[:] = np.nan
    arr.flush()
    return arr


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    gen, gan_prep = load_gan_generator(Config.fromfile(args.gan_config),
                                       args.gan_checkpoint)
    if gen.cond_dim:
        raise ValueError('invert_dataset needs an unconditional generator, '
                         f'got cond_dim={gen.cond_dim}')
    encoder, encoder_status = None, None
    if args.encoder_steps > 0:
        encoder, encoder_status = get_encoder(args, gen, args.out)
        if args.encoder_only:
            summary = dict(out=args.out, encoder=encoder_status,
                           encoder_file=osp.join(args.out, ENCODER_FILE))
            print(json.dumps(summary))
            return summary

    data_cfg = Config.fromfile(args.data_config)
    dataset = build_clean_dataset(data_cfg, args.loader)
    num = len(dataset)
    shape = tuple(int(s) for s in raw_image(dataset, 0).shape)
    height, width = shape[:2]
    psi = float(args.truncation)
    hparams = dict(
        steps=args.steps, lr=args.lr, batch_size=args.batch_size,
        truncation=psi, noise_mode='const',
        init='encoder' if encoder is not None else 'w_avg',
        lambda_dom=args.lambda_dom if encoder is not None else 0.0,
        encoder_steps=args.encoder_steps,
        encoder_batch_size=(args.encoder_batch_size
                            if encoder is not None else None),
        encoder_lr=args.encoder_lr if encoder is not None else None,
        encoder_channels=(args.encoder_channels
                          if encoder is not None else None),
        seed=args.seed if encoder is not None else None,
        perceptual_sha256=(file_sha256(args.perceptual_ckpt)
                           if args.perceptual_ckpt else None),
        perceptual_prefix=(args.perceptual_prefix
                           if args.perceptual_ckpt else None),
        lambda_perc=args.lambda_perc if args.perceptual_ckpt else 0.0)
    existed = osp.isfile(osp.join(args.out, 'build.json'))
    writer = ViewCache.create(
        args.out, num, 1, shape,
        meta=dict(method='reconstruction', hparams=hparams,
                  loader=args.loader, truncation=psi,
                  latent_space='W+ (pre-truncation)'),
        latent_shape=(gen.num_ws, gen.w_dim),
        channel_order=dataset_channel_order(dataset), dataset=dataset,
        checkpoint=args.gan_checkpoint)
    stored = (writer.build.get('meta') or {}).get('hparams')
    if stored != json.loads(json.dumps(hparams)):
        raise ValueError(f'{args.out} holds a partial inversion with other '
                         f'hyper-parameters: stored {stored} vs requested '
                         f'{hparams}; use another --out')
    mse_all = _memmap(osp.join(args.out, MSE_FILE), num, existed)
    mse0_all = _memmap(osp.join(args.out, MSE_INIT_FILE), num, existed)

    perc_model = perceptual = None
    if args.perceptual_ckpt:
        perc_model, perceptual = _perceptual(args, height, width)
    w_avg = gen.w_avg

    def to_pre_truncation(w):  # encoder codes -> the optimised space
        return w if psi == 1 else w_avg + (w - w_avg) / psi

    enc_fn = None
    if encoder is not None:
        def enc_fn(x):
            return to_pre_truncation(encoder(x))

    def row_done(rows):
        return bool(np.asarray(writer.done[0, rows]).all()
                    and np.asarray(writer.latents_done[rows]).all())

    plan = batch_plan(num, args.batch_size, args.part, args.num_parts)
    todo = [(k, rows) for k, rows in plan if not row_done(rows)]
    bar = (ProgressBar(len(todo), file=sys.stdout)
           if todo and not args.no_progress else None)
    mse_run, mse0_run = [], []
    batches = iter_dataset_batches(dataset, [rows for _, rows in todo],
                                   args.num_workers)
    for (_, rows), inputs in zip(todo, batches):
        x = to_generator_input(inputs, gan_prep)
        with torch.no_grad():
            w_init = (enc_fn(x) if enc_fn is not None else
                      w_avg.expand(x.shape[0], gen.num_ws, -1))
        ws, info = invert_latents(
            gen.synthesis, x, w_init, steps=args.steps, lr=args.lr,
            perceptual=perceptual, lambda_perc=args.lambda_perc,
            encoder=enc_fn,
            lambda_dom=args.lambda_dom if enc_fn is not None else 0.0,
            truncation_psi=psi, w_avg=w_avg,
            modules=[m for m in (gen, perc_model, encoder) if m is not None])
        with torch.no_grad():
            real = crop_to(x, height, width)
            recon = crop_to(info['recon'], height, width)
            mse = (recon - real).square().flatten(1).mean(1).cpu().numpy()
            w_init_recon = gen.synthesis(
                w_init if psi == 1 else w_avg + psi * (w_init - w_avg),
                noise_mode='const').clamp(-1, 1)
            mse0 = (crop_to(w_init_recon, height, width) -
                    real).square().flatten(1).mean(1).cpu().numpy()
        mse_all[rows] = mse
        mse0_all[rows] = mse0
        mse_all.flush()
        mse0_all.flush()
        writer.write_latents(rows, ws)
        writer.write(0, rows, recon)
        mse_run.append(mse)
        mse0_run.append(mse0)
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    missing = int((~(np.asarray(writer.done[0])
                     & np.asarray(writer.latents_done))).sum())
    summary = dict(
        out=args.out, num_samples=num, part=args.part,
        num_parts=args.num_parts, rows_inverted=int(sum(map(len, mse_run))),
        rows_missing=missing, encoder=encoder_status,
        mse_mean=(float(np.concatenate(mse_run).mean())
                  if mse_run else None),
        mse_init_mean=(float(np.concatenate(mse0_run).mean())
                       if mse0_run else None),
        checkpoint_sha256=writer.build['checkpoint_sha256'],
        finalized=False)
    if missing == 0:
        meta = writer.finalize(
            recon_mse_mean=float(np.mean(mse_all, dtype=np.float64)),
            recon_mse_init_mean=float(np.mean(mse0_all, dtype=np.float64)),
            image_space='[-1, 1] at the dataset size')
        summary.update(finalized=True,
                       recon_mse_mean=meta['recon_mse_mean'],
                       recon_mse_init_mean=meta['recon_mse_init_mean'])
    print(json.dumps(summary))
    return summary


if __name__ == '__main__':
    main()
