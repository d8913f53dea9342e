"""tools/dataset_converters/build_frame_index.py on synthetic videos."""
import json
import os
import os.path as osp

import cv2
import pytest

from mmmix.datasets import VideoClipDataset, WalkingToursDataset
from tests.test_datasets.test_video import (
    FPS,
    H,
    N,
    W,
    decode_index,
    write_avi,
)
from tests.test_tools.test_train_args import load_tool


@pytest.fixture(scope='module')
def tool():
    return load_tool('dataset_converters/build_frame_index.py')


@pytest.fixture(scope='module')
def video_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('index_videos')
    write_avi(str(root / 'walk10.avi'))
    # two scenes: frames 0..29 and 30..59 differ in colour and texture
    write_avi(
        str(root / 'walk2.avi'),
        num=60,
        fps=25,
        scenes=[0] * 30 + [1] * 30)
    (root / 'notes.txt').write_text('not a video')
    return str(root)


def test_counts_fps_and_size(tool, video_dir, tmp_path):
    out = str(tmp_path / 'index.json')
    tool.main([video_dir, '--out', out, '--quiet'])
    with open(out) as f:
        index = json.load(f)
    entries = index['data_list']
    # natural order: walk2 before walk10
    assert [osp.basename(e['video']) for e in entries] == [
        'walk2.avi', 'walk10.avi'
    ]
    assert [e['num_frames'] for e in entries] == [60, N]
    assert [e['fps'] for e in entries] == [25, FPS]
    assert all(e['width'] == W and e['height'] == H for e in entries)
    assert all('cuts' not in e for e in entries)
    assert index['metainfo']['total_frames'] == 60 + N
    # paths are relative to the index file
    assert osp.samefile(osp.join(tmp_path, entries[1]['video']),
                        osp.join(video_dir, 'walk10.avi'))
    counted = tool.main([video_dir, '--out', out, '--quiet',
                         '--count-frames'])
    assert [e['num_frames'] for e in counted['data_list']] == [60, N]


def test_detects_the_cut(tool, video_dir, tmp_path):
    out = str(tmp_path / 'cuts.json')
    index = tool.main(
        [video_dir, '--out', out, '--quiet', '--detect-cuts'])
    cuts = {osp.basename(e['video']): e['cuts'] for e in index['data_list']}
    # the moving rectangles alone never make a cut
    assert cuts == {'walk2.avi': [30], 'walk10.avi': []}
    # the dataset drops clips across the cut (T=3, s=5: starts 20..29)
    dataset = VideoClipDataset(ann_file=out, num_frames=3, stride_frames=5)
    starts = dataset._starts[dataset._video_ids == 0].tolist()
    assert starts == [s for s in range(60 - 15) if not 20 <= s < 30]
    high = tool.main([
        video_dir, '--out', out, '--quiet', '--detect-cuts',
        '--cut-threshold', '0.99'
    ])
    assert high['data_list'][0]['cuts'] == []


def test_extract_frames_for_training(tool, video_dir, tmp_path):
    out = str(tmp_path / 'index.json')
    frames = str(tmp_path / 'frames')
    index = tool.main([
        video_dir, '--out', out, '--quiet', '--extract', frames,
        '--max-side', '64'
    ])
    entry = index['data_list'][1]
    folder = osp.join(tmp_path, entry['frames_dir'])
    assert len([n for n in os.listdir(folder) if n.endswith('.jpg')]) == N
    with open(osp.join(folder, 'meta.json')) as f:
        meta = json.load(f)
    assert meta['fps'] == FPS and meta['num_frames'] == N
    assert (meta['height'], meta['width']) == (48, 64)
    assert (meta['ori_height'], meta['ori_width']) == (H, W)
    # training reads the small frames, with the right indices
    dataset = VideoClipDataset(ann_file=out, num_frames=2, stride_frames=7)
    assert dataset.video_infos[1]['kind'] == 'frames'
    item = dataset[len(dataset) - 1]
    assert item['imgs'][0].shape == (48, 64, 3)
    assert [decode_index(f) for f in item['imgs']
            ] == item['frame_inds'].tolist() == [N - 15, N - 8]
    # the folder also works alone (fps from its meta.json)
    alone = VideoClipDataset(folder, num_frames=2)
    assert alone.video_infos[0]['stride'] == FPS


def test_default_index_is_used_by_walking_tours(tool, tmp_path):
    write_avi(str(tmp_path / 'a.avi'), num=60, scenes=[0] * 40 + [1] * 20)
    tool.main([str(tmp_path), '--quiet', '--detect-cuts'])
    assert osp.isfile(tmp_path / 'frame_index.json')
    dataset = WalkingToursDataset(
        data_root=str(tmp_path), num_frames=2, stride_frames=5)
    assert dataset.video_infos[0]['cuts'] == [40]
    assert len(dataset) == 60 - 10 - 5  # starts 35..39 cross the cut


def test_bad_videos_are_named(tool, tmp_path):
    bad = tmp_path / 'bad'
    bad.mkdir()
    (bad / 'broken.mp4').write_bytes(os.urandom(3000))
    with pytest.raises(OSError, match='broken.mp4'):
        tool.main([str(bad), '--out', str(tmp_path / 'i.json'), '--quiet'])
    zero = tmp_path / 'zero'
    zero.mkdir()
    cv2.VideoWriter(
        str(zero / 'empty.avi'), cv2.VideoWriter_fourcc(*'MJPG'), 30,
        (W, H)).release()
    with pytest.raises(ValueError, match='empty.avi.*has no frames'):
        tool.main([str(zero), '--out', str(tmp_path / 'i.json'), '--quiet'])
    with pytest.raises(FileNotFoundError, match='no video files'):
        tool.main([str(tmp_path), '--out', str(tmp_path / 'i.json'),
                   '--quiet'])
