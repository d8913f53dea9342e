"""VideoClipDataset / WalkingToursDataset on synthetic videos (spec U9).

Every synthetic frame encodes its index in a top band of 8 black/white
16x16 blocks (bit b = block b; large blocks so MJPG keeps them) and holds 3
moving rectangles, red, green and blue.
"""
import json
import os
import os.path as osp
import pickle

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate

from mmmix.datasets import VideoClipDataset, WalkingToursDataset
from mmmix.registry import DATASETS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VTEST = osp.join(ROOT, 'data', 'videos', 'vtest.avi')

H, W, N, FPS = 96, 128, 120, 30
BLOCK = 16
# RGB colour and top-left (y, x) of each rectangle at frame i
RECTS = (((255, 0, 0), lambda i: (24, 4 + i % 40)),
         ((0, 255, 0), lambda i: (52, 90 - i % 40)),
         ((0, 0, 255), lambda i: (24 + i % 20, 100)))
RECT = 20


def make_frame(i: int, scene: int = 0) -> np.ndarray:
    """Frame ``i`` as an RGB array (96x128)."""
    bg = (90, 90, 90) if scene == 0 else (30, 160, 200)
    img = np.empty((H, W, 3), np.uint8)
    img[:] = bg
    if scene == 1:  # a textured second scene (stripes)
        img[BLOCK:, ::8] = (220, 120, 20)
    for b in range(8):
        img[:BLOCK, b * BLOCK:(b + 1) * BLOCK] = 255 if (i >> b) & 1 else 0
    for color, pos in RECTS:
        y, x = pos(i)
        img[y:y + RECT, x:x + RECT] = color
    return img


def decode_index(frame: np.ndarray) -> int:
    """The index encoded in a (possibly resized) RGB frame."""
    h, w = frame.shape[:2]
    sy, sx = h / H, w / W
    value = 0
    for b in range(8):
        y0, y1 = int(4 * sy), max(int(12 * sy), int(4 * sy) + 1)
        x0 = int((b * BLOCK + 4) * sx)
        x1 = max(int((b * BLOCK + 12) * sx), x0 + 1)
        if frame[y0:y1, x0:x1].mean() > 127:
            value |= 1 << b
    return value


def write_avi(path: str, num: int = N, fps: float = FPS, scenes=None):
    """An MJPG AVI of ``num`` synthetic frames; ``scenes[i]`` per frame."""
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), fps,
                             (W, H))
    assert writer.isOpened()
    for i in range(num):
        scene = 0 if scenes is None else scenes[i]
        writer.write(cv2.cvtColor(make_frame(i, scene), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_frame_folder(folder: str, num: int = N, fps=FPS):
    """PNG frames ``frame_<i>.png`` (unpadded: natural sort needed)."""
    os.makedirs(folder, exist_ok=True)
    for i in range(num):
        cv2.imwrite(
            osp.join(folder, f'frame_{i}.png'),
            cv2.cvtColor(make_frame(i), cv2.COLOR_RGB2BGR))
    if fps is not None:
        with open(osp.join(folder, 'meta.json'), 'w') as f:
            json.dump(dict(fps=fps), f)
    return folder


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp('videos')
    paths = dict(
        avi=write_avi(str(root / 'synth.avi')),
        short=write_avi(str(root / 'short.avi'), num=50),
        folder=write_frame_folder(str(root / 'synth_frames')),
        nofps=write_frame_folder(str(root / 'nofps_frames'), num=40,
                                 fps=None),
    )
    paths['root'] = str(root)
    return paths


def clip_indices(dataset, idx):
    return [decode_index(f) for f in dataset[idx]['imgs']]


@pytest.mark.parametrize('source', ['avi', 'folder'])
def test_length_and_frame_indices(videos, source):
    code = VideoClipDataset(videos[source], num_frames=4, stride_frames=10)
    exact = VideoClipDataset(
        videos[source], num_frames=4, stride_frames=10, len_mode='exact')
    assert len(code) == N - 4 * 10
    assert len(exact) == N - 3 * 10
    for i in (0, 1, 37, len(code) - 1):
        assert clip_indices(code, i) == [i + 10 * j for j in range(4)]
    last = exact[len(exact) - 1]
    assert last['frame_inds'].tolist() == [89, 99, 109, 119]
    assert [decode_index(f) for f in last['imgs']] == [89, 99, 109, 119]
    # reading backwards (seek) and forwards (grab) on a cached capture,
    # and always seeking with a capture opened per item
    seek = VideoClipDataset(
        videos[source],
        num_frames=4,
        stride_frames=10,
        len_mode='exact',
        max_grab=0,
        max_open_videos=0)
    for i in (50, 3, 4, 80):
        assert clip_indices(exact, i) == [i + 10 * j for j in range(4)]
        assert clip_indices(seek, i) == [i + 10 * j for j in range(4)]


def test_item_keys_rgb_and_shapes(videos):
    dataset = VideoClipDataset(videos['avi'], num_frames=3, stride_frames=5)
    item = dataset[7]
    assert len(item['imgs']) == 3
    for t, frame in enumerate(item['imgs']):
        assert frame.dtype == np.uint8 and frame.shape == (H, W, 3)
        i = 7 + 5 * t
        for color, pos in RECTS:  # red comes out red, etc.
            y, x = pos(i)
            centre = frame[y + 6:y + RECT - 6, x + 6:x + RECT - 6]
            centre = centre.reshape(-1, 3).mean(0)
            assert np.all(np.abs(centre - color) < 40), (color, centre)
    assert item['frame_inds'].tolist() == [7, 12, 17]
    assert item['video'] == videos['avi']
    assert item['video_name'] == 'synth.avi'
    assert item['video_idx'] == 0 and item['sample_idx'] == 7
    assert item['fps'] == FPS and item['total_frames'] == N
    assert item['clip_len'] == 3 and item['frame_interval'] == 5
    assert item['ori_shape'] == (H, W) and item['img_shape'] == (H, W)
    # negative index
    assert dataset[-1]['sample_idx'] == len(dataset) - 1
    with pytest.raises(IndexError):
        dataset.get_data_info(len(dataset))


def test_fps_based_stride(videos):
    dataset = VideoClipDataset(videos['avi'], num_frames=3)  # 1 s = 30
    assert dataset.video_infos[0]['stride'] == 30
    assert len(dataset) == N - 3 * 30
    assert clip_indices(dataset, 11) == [11, 41, 71]
    half = VideoClipDataset(videos['folder'], num_frames=3,
                            stride_seconds=0.5)  # fps from meta.json
    assert half.video_infos[0]['stride'] == 15
    assert clip_indices(half, 2) == [2, 17, 32]
    # round(fps * s), at least 1
    tiny = VideoClipDataset(videos['avi'], num_frames=2, stride_seconds=1e-3)
    assert tiny.video_infos[0]['stride'] == 1
    # a folder without fps needs fps= or stride_frames=
    with pytest.raises(ValueError, match='nofps_frames.*no fps'):
        VideoClipDataset(videos['nofps'], num_frames=2)
    with_fps = VideoClipDataset(videos['nofps'], num_frames=2, fps=10)
    assert with_fps.video_infos[0]['stride'] == 10
    assert clip_indices(with_fps, 3) == [3, 13]


def test_multi_video_never_crosses_a_boundary(videos):
    dataset = VideoClipDataset([videos['avi'], videos['short'],
                                videos['folder']],
                               num_frames=3,
                               stride_frames=10,
                               len_mode='exact')
    counts = [N - 20, 50 - 20, N - 20]
    assert len(dataset) == sum(counts)
    assert list(dataset.clips_per_video.values()) == counts
    offsets = np.cumsum([0] + counts)
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        vid = int(np.searchsorted(offsets, idx, side='right') - 1)
        assert info['video_idx'] == vid
        start = idx - offsets[vid]
        assert info['frame_inds'].tolist() == [start, start + 10, start + 20]
        assert info['frame_inds'][-1] < dataset.video_infos[vid]['num_frames']
    # decode the clips on both sides of the boundaries
    for idx in (offsets[1] - 1, offsets[1], offsets[2] - 1, offsets[2]):
        item = dataset[idx]
        assert ([decode_index(f) for f in item['imgs']
                 ] == item['frame_inds'].tolist())
    assert dataset[offsets[1] - 1]['frame_inds'].tolist() == [99, 109, 119]
    assert dataset[offsets[2] - 1]['video'] == videos['short']
    assert dataset[offsets[2] - 1]['frame_inds'].tolist() == [29, 39, 49]


def test_cuts_and_start_stride(videos):
    # T=3, s=10: a cut at 50 drops starts 30..49 (span start..start+20)
    kw = dict(num_frames=3, stride_frames=10)
    dataset = VideoClipDataset(videos['avi'], cuts=[[50]], **kw)
    expected = [s for s in range(N - 30) if not s < 50 <= s + 20]
    assert dataset._starts.tolist() == expected
    assert len(dataset) == 90 - 20
    assert clip_indices(dataset, 30) == [50, 60, 70]  # begins on the cut
    assert clip_indices(dataset, 29) == [29, 39, 49]  # ends before it
    # cuts by name, several cuts, avoid_cuts=False ignores them
    by_name = VideoClipDataset(
        videos['avi'], cuts={'synth': [50, 100]}, **kw)
    assert by_name._starts.tolist() == [
        s for s in expected if not s < 100 <= s + 20
    ]
    ignored = VideoClipDataset(
        videos['avi'], cuts=[[50]], avoid_cuts=False, **kw)
    assert len(ignored) == 90
    # start_stride keeps every n-th start frame, then cuts apply
    strided = VideoClipDataset(videos['avi'], start_stride=7, **kw)
    assert strided._starts.tolist() == list(range(0, 90, 7))
    assert clip_indices(strided, 3) == [21, 31, 41]
    both = VideoClipDataset(
        videos['avi'], start_stride=7, cuts=[[50]], **kw)
    assert both._starts.tolist() == [
        s for s in range(0, 90, 7) if not s < 50 <= s + 20
    ]
    with pytest.raises(ValueError, match='cuts has 2 lists for 1 videos'):
        VideoClipDataset(videos['avi'], cuts=[[1], [2]], **kw)


def test_errors_name_the_file(videos, tmp_path):
    broken = tmp_path / 'broken.avi'
    broken.write_bytes(os.urandom(2000))
    with pytest.raises(OSError, match='broken.avi'):
        VideoClipDataset(str(broken), num_frames=2, stride_frames=1)
    with pytest.raises(OSError, match='missing.avi.*does not exist'):
        VideoClipDataset(str(tmp_path / 'missing.avi'), num_frames=2)
    zero = str(tmp_path / 'zero.avi')
    cv2.VideoWriter(zero, cv2.VideoWriter_fourcc(*'MJPG'), 30,
                    (W, H)).release()
    with pytest.raises(ValueError, match='zero.avi.*has no frames'):
        VideoClipDataset(zero, num_frames=2, stride_frames=1)
    empty = tmp_path / 'empty_frames'
    empty.mkdir()
    with pytest.raises(ValueError, match='empty_frames.*has no frames'):
        VideoClipDataset(str(empty), num_frames=2, stride_frames=1)
    # T and stride do not fit: name the video, its frames and the span
    with pytest.raises(ValueError,
                       match=r'short.avi.* has 50 frames.*needs 201 frames'):
        VideoClipDataset(videos['short'], num_frames=20, stride_frames=10)
    with pytest.raises(ValueError, match=r'needs 191 frames'):
        VideoClipDataset(
            videos['short'],
            num_frames=20,
            stride_frames=10,
            len_mode='exact')
    with pytest.warns(UserWarning, match='short.avi.*skipped'):
        skipped = VideoClipDataset([videos['short'], videos['avi']],
                                   num_frames=3,
                                   stride_frames=20,
                                   skip_short=True)
    assert [v['name'] for v in skipped.video_infos] == ['synth.avi']
    with pytest.raises(ValueError, match='len_mode'):
        VideoClipDataset(videos['avi'], len_mode='paper')


def test_read_failure_names_file_and_frame(videos, tmp_path):
    # a corrupted frame in a folder
    folder = write_frame_folder(str(tmp_path / 'bad_frames'), num=20)
    with open(osp.join(folder, 'frame_7.png'), 'wb') as f:
        f.write(b'not a png')
    dataset = VideoClipDataset(folder, num_frames=2, stride_frames=5)
    dataset[0]  # frames 0, 5
    with pytest.raises(OSError, match=r'frame 7 of .*bad_frames'):
        dataset[2]  # frames 2, 7
    # a header that promises more frames than the file holds
    index = tmp_path / 'index.json'
    index.write_text(
        json.dumps(
            dict(data_list=[dict(video=videos['avi'], num_frames=200,
                                 fps=FPS)])))
    liar = VideoClipDataset(ann_file=str(index), num_frames=2,
                            stride_frames=50)
    assert len(liar) == 100
    assert clip_indices(liar, 10) == [10, 60]
    with pytest.raises(OSError, match=r'frame 1[0-9]{2} of video .*synth'):
        liar[90]  # frames 90, 140


def test_resize_at_decode_time(videos):
    small = VideoClipDataset(
        videos['avi'], num_frames=2, stride_frames=3, resize_short=48)
    item = small[4]
    assert item['imgs'][0].shape == (48, 64, 3)
    assert item['ori_shape'] == (H, W) and item['img_shape'] == (48, 64)
    assert [decode_index(f) for f in item['imgs']] == [4, 7]
    capped = VideoClipDataset(
        videos['folder'], num_frames=2, stride_frames=3, max_side=32)
    assert capped[0]['imgs'][0].shape == (24, 32, 3)


def test_index_json_scan_and_walking_tours(videos, tmp_path):
    index = tmp_path / 'index.json'
    index.write_text(
        json.dumps(
            dict(
                metainfo=dict(dataset_type='VideoFrameIndex'),
                data_list=[
                    dict(video=osp.relpath(videos['avi'], tmp_path),
                         num_frames=N, fps=FPS, cuts=[50]),
                    dict(video='whatever.avi', num_frames=N, fps=FPS,
                         frames_dir=osp.relpath(videos['folder'], tmp_path))
                ])))
    dataset = VideoClipDataset(ann_file=str(index), num_frames=3,
                               stride_frames=10)
    assert dataset.metainfo['dataset_type'] == 'VideoFrameIndex'
    assert list(dataset.clips_per_video.values()) == [70, 90]
    item = dataset[100]
    assert item['video_idx'] == 1 and item['video'].endswith('whatever.avi')
    assert [decode_index(f) for f in item['imgs']] == [30, 40, 50]
    # Walking Tours: data_root is the index, a folder to scan, or a video
    wt = WalkingToursDataset(data_root=str(index), num_frames=3,
                             stride_frames=10)
    assert len(wt) == len(dataset)
    # a scanned folder: videos and frame folders, naturally sorted; fps=
    # is used only where the source has none (nofps_frames)
    scanned = WalkingToursDataset(
        data_root=videos['root'], num_frames=2, stride_seconds=0.5, fps=10)
    assert [v['name'] for v in scanned.video_infos] == [
        'nofps_frames', 'short.avi', 'synth.avi', 'synth_frames'
    ]
    assert [v['stride'] for v in scanned.video_infos] == [5, 15, 15, 15]
    with pytest.raises(ValueError, match='nofps_frames.*no fps'):
        WalkingToursDataset(data_root=videos['root'], num_frames=2)
    single = WalkingToursDataset(data_root=videos['avi'], num_frames=3,
                                 stride_seconds=1.0)
    assert len(single) == N - 90
    assert single.clip_len == 3


def test_build_from_config_with_pipeline_and_collate(videos):
    dataset = DATASETS.build(
        dict(
            type='WalkingToursDataset',
            data_root=videos['folder'],
            num_frames=3,
            stride_frames=4,
            indices=8,
            pipeline=[
                dict(type='ClipRandomResizedCrop', scale=32),
                dict(type='PackClipInputs')
            ]))
    assert len(dataset) == 8
    batch = default_collate([dataset[0], dataset[1]])
    assert batch['inputs'].shape == (2, 3, 3, 32, 32)
    assert batch['inputs'].dtype == torch.uint8
    sample = batch['data_samples'][1]
    assert sample.sample_idx == 1 and sample.video_idx == 0
    assert sample.frame_inds.tolist() == [1, 5, 9]
    assert 'Number of videos' in repr(dataset)


def test_subset_pickle_and_workers(videos):
    dataset = VideoClipDataset(videos['avi'], num_frames=2, stride_frames=9)
    dataset[0]  # opens a capture
    copy = pickle.loads(pickle.dumps(dataset))  # spawn-safe
    assert clip_indices(copy, 5) == [5, 14]
    sub = dataset.get_subset([3, 60])
    assert len(sub) == 2 and clip_indices(sub, 1) == [60, 69]
    dataset.get_subset_(4)
    assert len(dataset) == 4
    lazy = VideoClipDataset(
        videos['avi'], num_frames=2, stride_frames=9, lazy_init=True)
    assert not lazy._fully_initialized
    assert len(lazy) == N - 18
    loader = torch.utils.data.DataLoader(
        VideoClipDataset(
            videos['avi'],
            num_frames=2,
            stride_frames=9,
            indices=[0, 30, 60, 90],
            pipeline=[dict(type='PackClipInputs')]),
        batch_size=2,
        num_workers=2,
        collate_fn=default_collate)
    got = []
    for batch in loader:
        for clip in batch['inputs']:
            got.append([
                decode_index(f.permute(1, 2, 0).numpy()) for f in clip
            ])
    assert got == [[0, 9], [30, 39], [60, 69], [90, 99]]


@pytest.mark.skipif(
    not osp.isfile(VTEST),
    reason='data/videos/vtest.avi is missing (run make videos)')
def test_real_video_vtest():
    dataset = VideoClipDataset(VTEST, num_frames=3, resize_short=144)
    info = dataset.video_infos[0]
    assert info['num_frames'] == 795 and info['fps'] == 10
    assert info['stride'] == 10 and len(dataset) == 795 - 30
    item = dataset[400]
    assert item['frame_inds'].tolist() == [400, 410, 420]
    assert item['ori_shape'] == (576, 768)
    assert [f.shape for f in item['imgs']] == [(144, 192, 3)] * 3
    frames = np.stack(item['imgs']).astype(np.float32)
    assert frames.std() > 10  # real content
    assert np.abs(frames[0] - frames[2]).mean() > 1  # people move
