import hashlib
import pickle

import numpy as np
import pytest
import torch

from mmmix.datasets import FashionMNIST, ViewCache, to_uint8


def test_to_uint8_endpoints_and_error():
    x = torch.tensor([-1.0, -2.0, 1.0, 3.0, 0.0, 1 / 127.5 - 1]).view(
        1, 1, 2, 3)
    q = to_uint8(x)
    assert q.dtype == np.uint8 and q.shape == (1, 2, 3, 1)
    assert q.ravel().tolist() == [0, 0, 255, 255, 128, 1]
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64, 3, 5, 5)).astype(np.float32)
    q = to_uint8(x).transpose(0, 3, 1, 2).astype(np.float64)
    # error <= 0.5/255 on the [0, 1] scale
    err = np.abs(q / 255 - (x.astype(np.float64) + 1) / 2)
    assert err.max() <= 0.5 / 255 + 1e-12
    with pytest.raises(ValueError, match=r'\(B, C, H, W\)'):
        to_uint8(np.zeros((3, 5, 5)))


def test_round_trip_colour_memmap_and_meta(tmp_path):
    rng = np.random.default_rng(0)
    n, v, h, w = 6, 3, 4, 5
    ckpt = tmp_path / 'g.pth'
    ckpt.write_bytes(b'gen')
    writer = ViewCache.create(str(tmp_path / 'c'), n, v, (h, w, 3),
                              meta=dict(method='wsearch',
                                        hparams=dict(eps=0.2)),
                              latent_shape=(2, 7), checkpoint=str(ckpt))
    imgs = rng.uniform(-1.3, 1.3, (v, n, 3, h, w)).astype(np.float32)
    lat = rng.normal(size=(n, 2, 7)).astype(np.float32)
    for s in range(v):
        writer.write(s, torch.arange(n), torch.from_numpy(imgs[s]))
    writer.write_latents(np.arange(n), lat)
    meta = writer.finalize(extra_key=1)
    assert meta['method'] == 'wsearch' and meta['hparams'] == dict(eps=0.2)
    assert (meta['height'], meta['width'], meta['channels']) == (h, w, 3)
    assert meta['channel_order'] == 'rgb' and meta['extra_key'] == 1
    assert meta['checkpoint_sha256'] == hashlib.sha256(b'gen').hexdigest()
    cache = ViewCache.open(str(tmp_path / 'c'))
    assert isinstance(cache.views, np.memmap)
    assert cache.views.shape == (v, n, h, w, 3)
    assert not cache.views.flags.writeable  # read-only map
    got = cache.get(2, 4)
    assert got.dtype == np.uint8 and got.shape == (h, w, 3)
    assert not isinstance(got, np.memmap) and got.flags.writeable
    expect = np.clip(imgs[2, 4].transpose(1, 2, 0).astype(np.float64), -1,
                     1)
    assert np.abs(got / 255 - (expect + 1) / 2).max() <= 0.5 / 255 + 1e-12
    np.testing.assert_array_equal(cache.latents, lat)
    again = pickle.loads(pickle.dumps(cache))
    assert isinstance(again.views, np.memmap)
    np.testing.assert_array_equal(again.get(0, 1), cache.get(0, 1))
    with pytest.raises(IndexError, match=r'view_slot 3 is out of range '
                       r'\[0, 3\)'):
        cache.get(3, 0)
    with pytest.raises(IndexError, match=r'sample index 6 is out of range '
                       r'\[0, 6\)'):
        cache.get(0, 6)


def test_grey_layout_and_uint8_input(tmp_path):
    writer = ViewCache.create(str(tmp_path), 3, 1, (4, 4))
    writer.write(0, [0], torch.full((1, 1, 4, 4), -1.0))
    writer.write(0, [1, 2], np.full((2, 4, 4), 77, np.uint8))
    with pytest.raises(ValueError, match=r'\(B, C, H, W\) = \(B, 1, 4, 4\)'):
        writer.write(0, [0], torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r'uint8 images must be'):
        writer.write(0, [0], np.zeros((1, 4, 4, 1), np.uint8))
    with pytest.raises(TypeError, match='dtype int32'):
        writer.write(0, [0], np.zeros((1, 4, 4), np.int32))
    with pytest.raises(ValueError, match='2 indices but 1 images'):
        writer.write(0, [0, 1], np.zeros((1, 4, 4), np.uint8))
    writer.finalize()
    cache = ViewCache.open(str(tmp_path))
    assert cache.meta['layout'] == 'HW' and cache.sample_shape == (4, 4)
    assert (cache.get(0, 0) == 0).all() and (cache.get(0, 2) == 77).all()


def test_partial_build_resumes(tmp_path):
    path = str(tmp_path / 'c')
    writer = ViewCache.create(path, 5, 2, (2, 2))
    writer.write(0, [0, 1], np.full((2, 2, 2), 9, np.uint8))
    writer.write(1, [0, 3], np.full((2, 2, 2), 4, np.uint8))
    assert writer.missing(0).tolist() == [2, 3, 4]
    assert writer.missing(1).tolist() == [1, 2, 4]
    assert writer.missing().tolist() == [1, 2, 3, 4]  # some slot missing
    with pytest.raises(ValueError, match=r'per view slot: \[3, 3\]'):
        writer.finalize()
    with pytest.raises(FileNotFoundError, match='partial build'):
        ViewCache.open(path)
    del writer  # "crash"
    with pytest.raises(ValueError, match='num_views: stored 2 vs requested'
                       ' 3'):
        ViewCache.create(path, 5, 3, (2, 2))
    writer = ViewCache.create(path, 5, 2, (2, 2))  # resume
    assert writer.missing(0).tolist() == [2, 3, 4]
    for s in range(2):
        rows = writer.missing(s)
        writer.write(s, rows, np.full((len(rows), 2, 2), 1, np.uint8))
    writer.finalize()
    cache = ViewCache.open(path)
    assert (cache.get(0, 1) == 9).all() and (cache.get(1, 3) == 4).all()
    assert (cache.get(1, 0) == 4).all() and (cache.get(1, 1) == 1).all()
    # resume=False starts afresh and un-finalizes
    fresh = ViewCache.create(path, 5, 2, (2, 2), resume=False)
    assert len(fresh.missing()) == 5
    with pytest.raises(FileNotFoundError):
        ViewCache.open(path)


def test_fingerprint_checked_on_open(fashion_root, tmp_path):
    ds = FashionMNIST(data_root=fashion_root, pipeline=[])
    writer = ViewCache.create(str(tmp_path), 120, 1, (28, 28), dataset=ds)
    writer.write(0, np.arange(120), np.zeros((120, 28, 28), np.uint8))
    writer.finalize()
    ViewCache.open(str(tmp_path), dataset=ds)
    sub = FashionMNIST(data_root=fashion_root, pipeline=[],
                       indices=list(range(60)))
    with pytest.raises(ValueError, match='view cache .*num_samples: stored '
                       '120 vs current 60'):
        ViewCache.open(str(tmp_path), dataset=sub)
    with pytest.raises(ValueError, match='num_samples=7 but the dataset has '
                       '120'):
        ViewCache.create(str(tmp_path / 'x'), 7, 1, (28, 28), dataset=ds)
    with pytest.raises(ValueError, match='shape must be'):
        ViewCache.create(str(tmp_path / 'x'), 7, 1, (28, ))
    with pytest.raises(ValueError, match='channel_order'):
        ViewCache.create(str(tmp_path / 'x'), 7, 1, (2, 2),
                         channel_order='rbg')
