"""Clip transforms and PackClipInputs (spec U10)."""
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate

from mmmix.datasets.transforms import (
    ClipMultiView,
    ClipRandomFlip,
    ClipRandomResizedCrop,
    FrameWise,
    PackClipInputs,
)
from mmmix.registry import TRANSFORMS

T, H, W = 4, 64, 96


def position_clip(t=T, h=H, w=W):
    """Frame k: channel 0 = row, channel 1 = column, channel 2 = 10 k."""
    ys, xs = np.mgrid[0:h, 0:w]
    return [
        np.stack([ys, xs, np.full_like(ys, 10 * k)], -1).astype(np.uint8)
        for k in range(t)
    ]


def photo_clip(t=T, seed=0):
    """T copies of one colourful random image."""
    img = np.random.default_rng(seed).integers(0, 256, (H, W, 3),
                                               dtype=np.uint8)
    return [img.copy() for _ in range(t)]


def test_clip_random_resized_crop_same_box_on_all_frames():
    crop = ClipRandomResizedCrop(
        scale=32, crop_ratio_range=(0.1, 0.5), interpolation='nearest')
    boxes = set()
    for seed in range(10):
        np.random.seed(seed)
        out = crop(dict(imgs=position_clip()))
        y1, x1, h, w = out['crop_box']
        boxes.add(out['crop_box'])
        assert out['img_shape'] == (32, 32)
        for k, frame in enumerate(out['imgs']):
            assert frame.shape == (32, 32, 3) and frame.dtype == np.uint8
            # same pixel positions in every frame, the frame's own content
            assert np.array_equal(frame[..., :2], out['imgs'][0][..., :2])
            assert np.all(frame[..., 2] == 10 * k)
        rows, cols = out['imgs'][0][..., 0], out['imgs'][0][..., 1]
        assert rows.min() >= y1 and rows.max() < y1 + h
        assert cols.min() >= x1 and cols.max() < x1 + w
    assert len(boxes) > 1  # the box is random across clips
    # (w, h) tuple scale, as mmpretrain
    out = ClipRandomResizedCrop(scale=(40, 20))(dict(imgs=position_clip()))
    assert out['imgs'][0].shape == (20, 40, 3)
    with pytest.raises(TypeError, match='imgs'):
        crop(dict(img=position_clip()[0]))
    with pytest.raises(ValueError, match='one size'):
        crop(dict(imgs=[np.zeros((8, 8, 3), np.uint8),
                        np.zeros((9, 8, 3), np.uint8)]))


def test_clip_random_flip_is_shared():
    seen = set()
    for seed in range(12):
        np.random.seed(seed)
        clip = position_clip()
        out = ClipRandomFlip(prob=0.5)(dict(imgs=clip))
        flipped = [bool(f[0, 0, 1] == W - 1) for f in out['imgs']]
        assert len(set(flipped)) == 1 and flipped[0] == out['flip']
        seen.add(out['flip'])
        for k, f in enumerate(out['imgs']):
            expect = clip[k][:, ::-1] if out['flip'] else clip[k]
            assert np.array_equal(f, expect)
    assert seen == {True, False}
    out = ClipRandomFlip(prob=1.0)(dict(imgs=position_clip()))
    assert out['flip'] and out['flip_direction'] == 'horizontal'
    out = ClipRandomFlip(prob=0.0)(dict(imgs=position_clip()))
    assert not out['flip'] and out['flip_direction'] is None


JITTER = dict(
    type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
    hue=0.1)


def test_framewise_consistent_vs_independent():
    np.random.seed(0)
    fresh = FrameWise([JITTER])(dict(imgs=photo_clip()))['imgs']
    assert all(f.shape == (H, W, 3) and f.dtype == np.uint8 for f in fresh)
    assert not any(
        np.array_equal(fresh[i], fresh[j]) for i in range(T)
        for j in range(i + 1, T))
    same = FrameWise([JITTER], consistent=True)
    outs = []
    for seed in (0, 1):
        np.random.seed(seed)
        imgs = same(dict(imgs=photo_clip()))['imgs']
        assert all(np.array_equal(imgs[0], f) for f in imgs[1:])
        outs.append(imgs[0])
    assert not np.array_equal(outs[0], outs[1])  # still random per clip
    assert not np.array_equal(outs[0], photo_clip()[0])


def test_framewise_with_nested_wrappers_from_config():
    pipeline = TRANSFORMS.build(
        dict(
            type='FrameWise',
            consistent=True,
            transforms=[
                dict(type='RandomApply', transforms=[JITTER], prob=0.8),
                dict(
                    type='RandomGrayscale',
                    prob=0.2,
                    keep_channels=True,
                    channel_weights=(0.114, 0.587, 0.2989)),
                dict(
                    type='GaussianBlur',
                    magnitude_range=(0.1, 2.0),
                    magnitude_std='inf',
                    prob=0.5),
            ]))
    for seed in range(4):
        np.random.seed(seed)
        imgs = pipeline(dict(imgs=photo_clip()))['imgs']
        assert all(np.array_equal(imgs[0], f) for f in imgs[1:])


def test_framewise_local_crops_have_independent_boxes():
    local = FrameWise([
        dict(
            type='RandomResizedCrop',
            scale=16,
            crop_ratio_range=(0.05, 0.4),
            interpolation='nearest')
    ])
    np.random.seed(0)
    out = local(dict(imgs=position_clip()))
    assert out['img_shape'] == (16, 16)
    corners = {(int(f[0, 0, 0]), int(f[0, 0, 1])) for f in out['imgs']}
    assert len(corners) == T  # a different box in every frame
    for k, f in enumerate(out['imgs']):
        assert f.shape == (16, 16, 3) and np.all(f[..., 2] == 10 * k)
    shared = FrameWise(local.pipeline.transforms, consistent=True)
    out = shared(dict(imgs=position_clip()))
    assert all(np.array_equal(out['imgs'][0][..., :2], f[..., :2])
               for f in out['imgs'])


def dora_pipeline(num_local=2):
    """The tiny DoRA view pipeline (spec 3.6): 1 global + m local views."""
    return [
        dict(type='ClipRandomResizedCrop', scale=48,
             crop_ratio_range=(0.2, 1.0)),
        dict(
            type='ClipMultiView',
            num_views=[1, num_local],
            transforms=[
                [
                    dict(type='ClipRandomResizedCrop', scale=32,
                         crop_ratio_range=(0.4, 1.0),
                         interpolation='bicubic'),
                    dict(type='ClipRandomFlip', prob=0.5),
                    dict(type='FrameWise', transforms=[
                        dict(type='RandomApply', transforms=[JITTER],
                             prob=0.8),
                        dict(type='RandomGrayscale', prob=0.2,
                             keep_channels=True,
                             channel_weights=(0.114, 0.587, 0.2989)),
                    ]),
                ],
                [
                    dict(type='FrameWise', transforms=[
                        dict(type='RandomResizedCrop', scale=16,
                             crop_ratio_range=(0.05, 0.4),
                             interpolation='bicubic'),
                        dict(type='RandomApply', transforms=[JITTER],
                             prob=0.8),
                    ]),
                ],
            ]),
        dict(type='PackClipInputs'),
    ]


def test_multiview_pack_and_collate():
    from mmcv.transforms import Compose
    pipeline = Compose([TRANSFORMS.build(t) for t in dora_pipeline(2)])
    items = []
    for i in range(2):
        np.random.seed(i)
        results = dict(
            imgs=photo_clip(seed=i),
            sample_idx=i,
            frame_inds=np.arange(T) * 30 + i,
            video_idx=0,
            video='a.mp4')
        items.append(pipeline(results))
    inputs = items[0]['inputs']
    assert [tuple(x.shape) for x in inputs] == [(T, 3, 32, 32),
                                                (T, 3, 16, 16),
                                                (T, 3, 16, 16)]
    assert all(x.dtype == torch.uint8 for x in inputs)
    sample = items[1]['data_samples']
    assert sample.sample_idx == 1 and sample.video_idx == 0
    assert sample.frame_inds.tolist() == [1, 31, 61, 91]
    batch = default_collate(items)
    assert [tuple(x.shape) for x in batch['inputs']] == [
        (2, T, 3, 32, 32), (2, T, 3, 16, 16), (2, T, 3, 16, 16)
    ]
    assert len(batch['data_samples']) == 2


def test_multiview_copies_the_clip_and_groups():
    view = ClipMultiView(
        num_views=[2, 1],
        transforms=[[dict(type='ClipRandomFlip', prob=1.0)],
                    [dict(type='ClipRandomResizedCrop', scale=8)]])
    clip = position_clip()
    out = view(dict(imgs=clip))
    assert out['num_views'] == [2, 1] and len(out['imgs']) == 3
    assert out['img_shape'] == [(H, W), (H, W), (8, 8)]
    assert np.array_equal(out['imgs'][0][1], clip[1][:, ::-1])
    assert out['imgs'][2][0].shape == (8, 8, 3)
    assert np.array_equal(clip[1][0, :, 1], np.arange(W))  # untouched
    # one flat pipeline is one group
    single = ClipMultiView(3, [dict(type='ClipRandomFlip', prob=0.0)])
    assert len(single(dict(imgs=position_clip()))['imgs']) == 3
    with pytest.raises(ValueError, match='pipelines'):
        ClipMultiView([1, 2], [[dict(type='ClipRandomFlip')]])


def test_pack_clip_inputs_single_clip_and_gray():
    clip = position_clip()
    packed = PackClipInputs()(dict(imgs=clip, sample_idx=3, flip=False))
    x = packed['inputs']
    assert isinstance(x, torch.Tensor) and x.shape == (T, 3, H, W)
    assert x.dtype == torch.uint8
    # channel-first layout: x[t, c, y, w] = frame_t[y, w, c]
    assert torch.equal(x[2].permute(1, 2, 0), torch.from_numpy(clip[2]))
    assert packed['data_samples'].sample_idx == 3
    gray = PackClipInputs()(dict(imgs=[c[..., 0] for c in clip]))
    assert gray['inputs'].shape == (T, 1, H, W)
    with pytest.raises(ValueError, match='differ in shape'):
        PackClipInputs()(dict(imgs=[clip[0], clip[1][:10]]))
    assert 'PackClipInputs' in repr(PackClipInputs())
