"""Build a generated-view cache from inverted latents (learned views, U11).

Usage::

    python tools/learned_views/build_view_cache.py GAN_CONFIG GAN_CKPT \
        --latents DIR --out CACHE --method {wperturb,wsearch} \
        [--num-views 8] [--truncation PSI] [--crop SIZE] [--batch-size 64] \
        [--seed 0] [--part i --num-parts n] [--max-samples N] \
        [--data-config CFG [--loader train_dataloader]] [--num-workers 0] \
        [--no-progress]
        W-perturb:  [--sigma 0.2] [--mode {gauss,proj}]
        W-search:   --encoder-config CFG --encoder-ckpt CKPT \
                    [--encoder-prefix ''] [--embed {proj,backbone}] \
                    [--eps1 0.3] [--eps2 0.5] [--lam 0.01] [--steps 1000] \
                    [--lr 0.01] [--init-noise 0.001] [--tol 1e-3] \
                    [--form {code,paper}] [--anchor {recon,orig}] \
                    [--stop {batch,sample}]

DIR is the output of ``invert_dataset.py`` (a finalized
:class:`~mmmix.datasets.ViewCache` with ``latents.npy``); GAN_CKPT must be
the checkpoint it was inverted with (sha256 checked) and its EMA generator
``g`` is loaded (keys ``generator_ema.*``, strictly). Codes are synthesised
as ``g(truncate(w, w_avg, psi))`` with constant noise and clamped to
``[-1, 1]``; ``--truncation`` defaults to the inversion's, so that the
cache's ``w`` reproduce the images.

- ``wperturb`` (VG2, spec 4.4): view ``k`` of image ``i`` is
  ``g(truncate(w_i + noise_ik))`` with ``noise = sigma * N(0, I)``
  (``gauss``) or that noise rescaled to the norm ``sigma sqrt(L D)``
  (``proj``); the noise of a row depends only on ``(--seed, row)``.
- ``wsearch`` (VG1, spec 4.3): :func:`mmmix.ops.latent_views.w_search`
  with ``f`` the frozen model of ``--encoder-config`` / ``--encoder-ckpt``
  (backbone + neck, or the pooled backbone with ``--embed backbone``, in
  eval mode, L2-normalised); generated images reach ``f`` cropped to the
  dataset's size and normalised like its training inputs. The start noise
  of a batch depends on ``(--seed, batch index)`` and the batch early stop
  on the batch, so the cache depends on ``--batch-size``.

Views are centre-cropped to ``--crop`` (default: the dataset's size, the
size of the latents cache's images) and written as uint8 to slots
``0..n-1`` of a :class:`~mmmix.datasets.ViewCache` (the real image is not
stored); ``meta.json`` records the method, its hyper-parameters, the GAN
checkpoint's sha256, the inversion's meta and, for W-search, the encoder's
sha256. The dataset fingerprint is the latents' (checked against
``--data-config``'s dataset when given). ``--max-samples N`` builds the
first N rows only (figures; such a cache has no fingerprint). Runs are
resumable and can be split into ``--num-parts`` parts of whole batches, so
the parts of a split build equal a single run with the same seed and batch
size. The last line printed is a JSON summary.
"""
import argparse
import json
import os.path as osp
import sys
import warnings

import numpy as np
import torch
from mmengine.config import Config
from mmengine.utils import ProgressBar

from mmmix.datasets import ViewCache
from mmmix.datasets.feature_bank import file_sha256
from mmmix.datasets.fingerprint import check_fingerprint, dataset_fingerprint
from mmmix.engine.view_generation import (
    EMBEDS,
    batch_plan,
    build_clean_dataset,
    build_embedding,
    crop_to,
    generated_to_pixels,
    iter_dataset_batches,
    load_gan_generator,
    to_generator_input,
)
from mmmix.ops.latent_views import (
    PERTURB_MODES,
    WSEARCH_ANCHORS,
    WSEARCH_FORMS,
    WSEARCH_STOPS,
    truncate,
    w_perturb,
    w_search,
)
from mmmix.utils import register_all_modules

METHODS = ('wperturb', 'wsearch')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('gan_config')
    parser.add_argument('gan_checkpoint')
    parser.add_argument('--latents', required=True,
                        help='output folder of invert_dataset.py')
    parser.add_argument('--out', required=True, help='cache folder')
    parser.add_argument('--method', required=True, choices=METHODS)
    parser.add_argument('--num-views', type=int, default=8)
    parser.add_argument('--truncation', type=float, default=None,
                        help="psi; default: the inversion's")
    parser.add_argument('--crop', type=int, default=None,
                        help="view size; default: the dataset's")
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--part', type=int, default=0)
    parser.add_argument('--num-parts', type=int, default=1)
    parser.add_argument('--max-samples', type=int, default=None)
    parser.add_argument('--data-config', default=None)
    parser.add_argument('--loader', default='train_dataloader')
    parser.add_argument('--num-workers', type=int, default=0)
    parser.add_argument('--no-progress', action='store_true')
    # W-perturb
    parser.add_argument('--sigma', type=float, default=0.2)
    parser.add_argument('--mode', choices=PERTURB_MODES, default='gauss')
    # W-search
    parser.add_argument('--encoder-config', default=None)
    parser.add_argument('--encoder-ckpt', default=None)
    parser.add_argument('--encoder-prefix', default='')
    parser.add_argument('--embed', choices=EMBEDS, default='proj')
    parser.add_argument('--eps1', type=float, default=0.3)
    parser.add_argument('--eps2', type=float, default=0.5)
    parser.add_argument('--lam', type=float, default=0.01)
    parser.add_argument('--steps', type=int, default=1000)
    parser.add_argument('--lr', type=float, default=0.01)
    parser.add_argument('--init-noise', type=float, default=0.001)
    parser.add_argument('--tol', type=float, default=1e-3)
    parser.add_argument('--form', choices=WSEARCH_FORMS, default='code')
    parser.add_argument('--anchor', choices=WSEARCH_ANCHORS, default='recon')
    parser.add_argument('--stop', choices=WSEARCH_STOPS, default='batch')
    args = parser.parse_args(argv)
    if args.num_views < 1:
        parser.error(f'--num-views must be >= 1, got {args.num_views}')
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    if args.truncation is not None and not 0 < args.truncation <= 1:
        parser.error(f'--truncation must be in (0, 1], got '
                     f'{args.truncation}')
    if args.max_samples is not None and args.max_samples < 1:
        parser.error(f'--max-samples must be >= 1, got {args.max_samples}')
    if args.seed < 0:
        parser.error(f'--seed must be >= 0, got {args.seed}')
    if args.method == 'wsearch':
        if args.encoder_config is None or args.encoder_ckpt is None:
            parser.error('--method wsearch needs --encoder-config and '
                         '--encoder-ckpt (the frozen pretrained f)')
        if args.anchor == 'orig' and args.data_config is None:
            parser.error("--anchor orig needs --data-config (the images)")
        if args.anchor == 'recon' and args.eps1**2 <= args.tol:
            # every view starts within init_noise of the anchor: the start
            # loss is about eps1^2 and the batch stops before any step
            warnings.warn(f'--eps1 {args.eps1} gives a start loss of about '
                          f'eps1^2 = {args.eps1**2:.2g} <= --tol {args.tol}:'
                          ' W-search will stop before its first step (views '
                          '= reconstructions); lower --tol')
    return args


def _row_generator(seed: int, row: int) -> torch.Generator:
    state = np.random.SeedSequence([seed, row]).generate_state(
        1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def perturb_batch(w0: torch.Tensor, rows, num_views: int, sigma: float,
                  mode: str, seed: int) -> torch.Tensor:
    """``(n, B, L, D)`` perturbed codes; row ``r``'s noise is drawn from a
    generator seeded by ``(seed, r)`` (independent of the batching)."""
    out = [w_perturb(w0[i].cpu().expand(num_views, *w0.shape[1:]), sigma,
                     mode, generator=_row_generator(seed, int(r)))
           for i, r in enumerate(rows)]
    return torch.stack(out, 1).to(w0.device)


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str))


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    lat = ViewCache.open(args.latents)
    if lat.latents is None:
        raise ValueError(f'{args.latents} holds no latents.npy: pass the '
                         'output folder of invert_dataset.py as --latents')
    gan_sha = file_sha256(args.gan_checkpoint)
    if lat.meta.get('checkpoint_sha256') != gan_sha:
        raise ValueError(
            f'the latents of {args.latents} were inverted with a GAN '
            f'checkpoint of sha256 {lat.meta.get("checkpoint_sha256")}, '
            f'not {args.gan_checkpoint} ({gan_sha})')
    gen, gan_prep = load_gan_generator(Config.fromfile(args.gan_config),
                                       args.gan_checkpoint)
    device = gen.w_avg.device
    num_all = lat.num_samples
    num = min(args.max_samples or num_all, num_all)
    height, width = int(lat.meta['height']), int(lat.meta['width'])
    crop = args.crop
    crop_h, crop_w = (height, width) if crop is None else (crop, crop)
    if crop_h > gen.resolution or crop_w > gen.resolution:
        raise ValueError(f'--crop must be <= the generator resolution '
                         f'{gen.resolution}, got {crop}')
    shape = (crop_h, crop_w)
    if lat.meta.get('layout') == 'HWC':
        shape += (int(lat.meta['channels']), )
    lat_hp = lat.meta.get('hparams') or {}
    psi = (args.truncation if args.truncation is not None else float(
        lat_hp.get('truncation', lat.meta.get('truncation', 1.0))))

    dataset = None
    fingerprint = lat.meta.get('fingerprint')
    if args.data_config is not None:
        dataset = build_clean_dataset(Config.fromfile(args.data_config),
                                      args.loader)
        current = dataset_fingerprint(dataset)
        if fingerprint is not None:
            check_fingerprint(fingerprint, current,
                              what=f'the latents of {args.latents}')
        fingerprint = current
    subset = None
    if num < num_all:
        subset = dict(first_rows=num, of_num_samples=num_all)
        fingerprint = None

    common = dict(num_views=args.num_views, truncation=psi,
                  noise_mode='const', batch_size=args.batch_size,
                  seed=args.seed, crop=[crop_h, crop_w])
    if args.method == 'wperturb':
        hparams = dict(common, sigma=args.sigma, mode=args.mode)
    else:
        hparams = dict(
            common, eps1=args.eps1, eps2=args.eps2, lam=args.lam,
            steps=args.steps, lr=args.lr, init_noise=args.init_noise,
            tol=args.tol, form=args.form, anchor=args.anchor,
            stop=args.stop, embed=args.embed,
            encoder_config=osp.basename(args.encoder_config),
            encoder_prefix=args.encoder_prefix,
            encoder_sha256=file_sha256(args.encoder_ckpt))
    latents_meta = {k: lat.meta.get(k) for k in (
        'method', 'hparams', 'recon_mse_mean', 'recon_mse_init_mean',
        'latent_shape', 'checkpoint_sha256', 'num_samples')}
    writer = ViewCache.create(
        args.out, num, args.num_views, shape,
        meta=_jsonable(dict(method=args.method, hparams=hparams,
                            latents=latents_meta, subset=subset,
                            slots='generated views 0..n-1; the real '
                            'image is not stored')),
        channel_order=lat.meta.get('channel_order', 'rgb'),
        fingerprint=fingerprint, checkpoint=args.gan_checkpoint)
    stored = (writer.build.get('meta') or {}).get('hparams')
    if stored != _jsonable(hparams):
        raise ValueError(f'{args.out} holds a partial build with other '
                         f'hyper-parameters: stored {stored} vs requested '
                         f'{_jsonable(hparams)}; use another --out')

    w_avg = gen.w_avg

    def synthesis(ws):
        return gen.synthesis(truncate(ws, w_avg, psi), noise_mode='const')

    embed_model = embed = None
    if args.method == 'wsearch':
        embed_model, embed_fn = build_embedding(
            Config.fromfile(args.encoder_config), args.encoder_ckpt,
            args.encoder_prefix, args.embed)

        def embed(x):  # [-1, 1] at the generator's size -> (B, d)
            return embed_fn(generated_to_pixels(x, height, width))

    def batch_done(rows):
        return bool(np.asarray(writer.done[:, rows]).all())

    plan = batch_plan(num, args.batch_size, args.part, args.num_parts)
    todo = [(k, rows) for k, rows in plan if not batch_done(rows)]
    originals = None
    if args.method == 'wsearch' and args.anchor == 'orig':
        originals = iter_dataset_batches(dataset, [r for _, r in todo],
                                         args.num_workers)
    bar = (ProgressBar(len(todo), file=sys.stdout)
           if todo and not args.no_progress else None)
    rows_written, dists, steps_run = 0, [], []
    for k, rows in todo:
        w0 = torch.from_numpy(np.array(lat.latents[rows])).to(device)
        if args.method == 'wperturb':
            ws = perturb_batch(w0, rows, args.num_views, args.sigma,
                               args.mode, args.seed)
            with torch.no_grad():
                views = synthesis(ws.flatten(0, 1)).clamp(-1, 1)
            views = views.view(args.num_views, len(rows), *views.shape[1:])
        else:
            x_orig = None
            if originals is not None:
                x_orig = to_generator_input(next(originals), gan_prep)
            rng = torch.Generator(device=device)
            rng.manual_seed(int(np.random.SeedSequence(
                [args.seed, k]).generate_state(1, np.uint64)[0]))
            views, _, info = w_search(
                w0, synthesis, embed, args.num_views, eps1=args.eps1,
                eps2=args.eps2, lam=args.lam, steps=args.steps, lr=args.lr,
                init_noise=args.init_noise, tol=args.tol, form=args.form,
                anchor=args.anchor, x_orig=x_orig, stop=args.stop,
                generator=rng, modules=[gen, embed_model])
            dists.append(info['anchor_dist'].mean().item())
            steps_run.append(info['steps'])
        views = crop_to(views, crop_h, crop_w)
        for slot in range(args.num_views):
            writer.write(slot, rows, views[slot])
        rows_written += len(rows)
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    missing = int(len(writer.missing()))
    summary = dict(out=args.out, method=args.method, num_samples=num,
                   num_views=args.num_views, part=args.part,
                   num_parts=args.num_parts, rows_written=rows_written,
                   rows_missing=missing, truncation=psi,
                   checkpoint_sha256=gan_sha, finalized=False)
    if dists:
        summary.update(anchor_dist_mean=float(np.mean(dists)),
                       wsearch_steps_mean=float(np.mean(steps_run)))
    if missing == 0:
        writer.finalize()
        summary['finalized'] = True
    print(json.dumps(summary))
    return summary


if __name__ == '__main__':
    main()
