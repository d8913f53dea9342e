"""Build a Walking-Tours-style frame index of a folder of videos.

For each video (naturally sorted) the index records its path relative to
the index file, frame count, fps, width and height; optionally the shot
cuts found by an HSV-histogram difference detector, and the folder of JPEG
frames extracted at a reduced size, so that training reads small frames
instead of decoding 4K video (spec 5, [R] dataset notes). The JSON is read
by ``VideoClipDataset(ann_file=...)`` / ``WalkingToursDataset``::

    {"metainfo": {"dataset_type": "VideoFrameIndex", ...},
     "data_list": [{"video": "Venice.mp4", "num_frames": 197800,
                    "fps": 30.0, "width": 3840, "height": 2160,
                    "cuts": [...], "frames_dir": "frames/Venice"}, ...]}

Each extracted folder also holds a ``meta.json`` (fps, frame count, size,
cuts), so it can be used on its own as a frame folder.

Usage:
    python tools/dataset_converters/build_frame_index.py VIDEO_DIR \\
        [--out INDEX.json] [--count-frames] [--detect-cuts] \\
        [--cut-threshold 0.4] [--extract FRAMES_DIR --max-side 720]
"""
import argparse
import json
import os
import os.path as osp
import re
import sys
from typing import Iterator, List, Optional, Tuple

import cv2
import numpy as np

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.mov', '.webm', '.m4v', '.mpg',
                    '.mpeg', '.wmv', '.flv', '.ts', '.mts')


def natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t.lower()
            for t in re.split(r'(\d+)', name)]


def find_videos(root: str, recursive: bool = False) -> List[str]:
    """Video files under ``root`` (a folder or one file), naturally sorted."""
    if osp.isfile(root):
        return [root]
    if not osp.isdir(root):
        raise FileNotFoundError(f'{root!r} is not a folder or a video file')
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort(key=natural_key)
        for name in sorted(filenames, key=natural_key):
            if osp.splitext(name)[1].lower() in VIDEO_EXTENSIONS:
                found.append(osp.join(dirpath, name))
        if not recursive:
            break
    found.sort(key=lambda p: natural_key(osp.relpath(p, root)))
    return found


def open_video(path: str) -> Tuple[cv2.VideoCapture, dict]:
    """Open a video; header frame count, fps, width, height."""
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        raise OSError(f'cannot open video {path!r} (unreadable or '
                      'unsupported format)')
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    info = dict(
        num_frames=int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
        fps=fps if np.isfinite(fps) and fps > 0 else 0.0,
        width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
        height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0))
    return cap, info


def iter_frames(cap: cv2.VideoCapture) -> Iterator[np.ndarray]:
    """Decode a capture to its end (BGR frames)."""
    while True:
        ok, frame = cap.read()
        if not ok or frame is None:
            return
        yield frame


def hsv_histogram(frame: np.ndarray, bins: Tuple[int, int, int] = (16, 4, 4),
                  width: int = 160) -> np.ndarray:
    """Normalised 3-D HSV histogram of a BGR frame (downscaled first)."""
    h, w = frame.shape[:2]
    if w > width:
        frame = cv2.resize(frame, (width, max(1, round(h * width / w))),
                           interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, list(bins),
                        [0, 180, 0, 256, 0, 256]).ravel()
    return hist / max(hist.sum(), 1.0)


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance of two normalised histograms, in [0, 1]."""
    return 0.5 * float(np.abs(a - b).sum())


class CutDetector:
    """Shot cuts from HSV-histogram differences of consecutive frames.

    Frame ``t`` starts a new shot when the histogram distance to frame
    ``t - 1`` exceeds ``threshold`` and the previous cut (or the first
    frame) is at least ``min_shot_len`` frames before.

    Args:
        threshold (float): Distance in [0, 1] above which a cut is declared.
        min_shot_len (int): Shortest shot, in frames.
    """

    def __init__(self, threshold: float = 0.4, min_shot_len: int = 8):
        self.threshold = float(threshold)
        self.min_shot_len = int(min_shot_len)
        self.cuts: List[int] = []
        self.distances: List[float] = []
        self._prev: Optional[np.ndarray] = None
        self._last = 0
        self._t = 0

    def update(self, frame: np.ndarray) -> None:
        hist = hsv_histogram(frame)
        if self._prev is not None:
            d = histogram_distance(hist, self._prev)
            self.distances.append(d)
            if (d > self.threshold
                    and self._t - self._last >= self.min_shot_len):
                self.cuts.append(self._t)
                self._last = self._t
        self._prev = hist
        self._t += 1


def _resize(frame: np.ndarray, max_side: Optional[int]) -> np.ndarray:
    h, w = frame.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return frame
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _frame_bar(total: int, desc: str, quiet: bool):
    """A per-frame tqdm bar when tqdm is installed (else None)."""
    if quiet:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total or None, desc=desc, unit='frame', leave=False)


class _VideoBar:
    """Progress over videos: tqdm if installed, else mmengine's bar."""

    def __init__(self, total: int, quiet: bool):
        self.bar, self.kind = None, None
        if quiet:
            return
        try:
            from tqdm import tqdm
            self.bar, self.kind = tqdm(total=total, unit='video'), 'tqdm'
        except ImportError:
            from mmengine.utils import ProgressBar
            self.bar = ProgressBar(total, file=sys.stderr)
            self.kind = 'mmengine'

    def update(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def close(self) -> None:
        if self.kind == 'tqdm':
            self.bar.close()
        elif self.kind == 'mmengine':
            sys.stderr.write('\n')


def index_video(path: str,
                count_frames: bool = False,
                detect_cuts: bool = False,
                cut_threshold: float = 0.4,
                min_shot_len: int = 8,
                extract_dir: Optional[str] = None,
                max_side: Optional[int] = None,
                quality: int = 90,
                quiet: bool = True) -> dict:
    """Index one video: counts, fps, size, optionally cuts and frames.

    Decoding happens only with ``count_frames``, ``detect_cuts`` or
    ``extract_dir``; the frame count is then the number of frames decoded
    (``CAP_PROP_FRAME_COUNT`` can be wrong for some containers).

    Raises:
        OSError: the video cannot be opened.
        ValueError: the video has no frames.
    """
    if not osp.isfile(path):
        raise OSError(f'video file {path!r} does not exist')
    cap, info = open_video(path)
    decode = count_frames or detect_cuts or extract_dir is not None
    header_count = info['num_frames']
    try:
        if decode:
            detector = (CutDetector(cut_threshold, min_shot_len)
                        if detect_cuts else None)
            if extract_dir is not None:
                os.makedirs(extract_dir, exist_ok=True)
            bar = _frame_bar(header_count, osp.basename(path), quiet)
            n, out_size = 0, None
            frames = (iter_frames(cap) if detector is not None
                      or extract_dir is not None else None)
            if frames is None:  # count only: grab without decoding to BGR
                while cap.grab():
                    n += 1
                    if bar is not None:
                        bar.update(1)
            else:
                for frame in frames:
                    if n == 0:
                        info['height'], info['width'] = frame.shape[:2]
                    if detector is not None:
                        detector.update(frame)
                    if extract_dir is not None:
                        small = _resize(frame, max_side)
                        out_size = small.shape[:2]
                        name = osp.join(extract_dir, f'{n:06d}.jpg')
                        if not cv2.imwrite(
                                name, small,
                            [int(cv2.IMWRITE_JPEG_QUALITY), quality]):
                            raise OSError(f'cannot write {name!r}')
                    n += 1
                    if bar is not None:
                        bar.update(1)
            if bar is not None:
                bar.close()
            info['num_frames'] = n
            if detector is not None:
                info['cuts'] = detector.cuts
            if header_count != n:
                info['num_frames_header'] = header_count
        elif header_count <= 0 or info['width'] <= 0:
            ok, frame = cap.read()
            if ok and frame is not None:
                info['height'], info['width'] = frame.shape[:2]
                if header_count <= 0:  # no count in the header: decode
                    n = 1 + sum(1 for _ in iter(cap.grab, False))
                    info['num_frames'] = n
            else:
                info['num_frames'] = 0
    finally:
        cap.release()
    if info['num_frames'] <= 0:
        raise ValueError(f'video {path!r} has no frames')
    if extract_dir is not None:
        meta = dict(
            fps=info['fps'],
            num_frames=info['num_frames'],
            width=int(out_size[1]),
            height=int(out_size[0]),
            ori_width=info['width'],
            ori_height=info['height'],
            frame_tmpl='{:06d}.jpg',
            source=osp.basename(path))
        if 'cuts' in info:
            meta['cuts'] = info['cuts']
        with open(osp.join(extract_dir, 'meta.json'), 'w') as f:
            json.dump(meta, f, indent=1)
    return info


def build_index(root: str,
                out: str,
                recursive: bool = False,
                extract: Optional[str] = None,
                quiet: bool = False,
                **kwargs) -> dict:
    """Index every video under ``root`` and write the JSON to ``out``."""
    videos = find_videos(root, recursive)
    if not videos:
        exts = ', '.join(VIDEO_EXTENSIONS)
        raise FileNotFoundError(f'no video files ({exts}) in {root!r}')
    out_dir = osp.dirname(osp.abspath(out))
    base = root if osp.isdir(root) else osp.dirname(root)
    data_list = []
    bar = _VideoBar(len(videos), quiet)
    for path in videos:
        rel = osp.relpath(path, base)
        frames_dir = (osp.join(extract, osp.splitext(rel)[0])
                      if extract is not None else None)
        info = index_video(path, extract_dir=frames_dir, quiet=quiet,
                           **kwargs)
        entry = dict(video=osp.relpath(osp.abspath(path), out_dir))
        entry.update(info)
        if frames_dir is not None:
            entry['frames_dir'] = osp.relpath(osp.abspath(frames_dir),
                                              out_dir)
        data_list.append(entry)
        bar.update()
    bar.close()
    index = dict(
        metainfo=dict(
            dataset_type='VideoFrameIndex',
            num_videos=len(data_list),
            total_frames=sum(e['num_frames'] for e in data_list),
            cut_detector=(dict(
                kind='hsv_histogram_tv',
                threshold=kwargs.get('cut_threshold', 0.4),
                min_shot_len=kwargs.get('min_shot_len', 8))
                          if kwargs.get('detect_cuts') else None)),
        data_list=data_list)
    os.makedirs(out_dir, exist_ok=True)
    with open(out, 'w') as f:
        json.dump(index, f, indent=1)
    return index


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='folder of videos (or one video file)')
    parser.add_argument(
        '--out',
        default=None,
        help='index JSON (default: ROOT/frame_index.json)')
    parser.add_argument(
        '--recursive', action='store_true', help='also scan subfolders')
    parser.add_argument(
        '--count-frames',
        action='store_true',
        help='count frames by decoding (the container header can be wrong)')
    parser.add_argument(
        '--detect-cuts',
        action='store_true',
        help='detect shot cuts (HSV-histogram difference)')
    parser.add_argument(
        '--cut-threshold',
        type=float,
        default=0.4,
        help='histogram (total-variation) distance in [0, 1] that makes a '
        'cut (default 0.4)')
    parser.add_argument(
        '--min-shot-len',
        type=int,
        default=8,
        help='shortest shot in frames between two cuts (default 8)')
    parser.add_argument(
        '--extract',
        default=None,
        metavar='DIR',
        help='write the frames as JPEG folders under DIR (with meta.json)')
    parser.add_argument(
        '--max-side',
        type=int,
        default=720,
        help='largest side of the extracted frames (default 720)')
    parser.add_argument(
        '--quality', type=int, default=90, help='JPEG quality (default 90)')
    parser.add_argument(
        '--quiet', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    out = args.out or osp.join(
        args.root if osp.isdir(args.root) else osp.dirname(args.root),
        'frame_index.json')
    index = build_index(
        args.root,
        out,
        recursive=args.recursive,
        extract=args.extract,
        quiet=args.quiet,
        count_frames=args.count_frames,
        detect_cuts=args.detect_cuts,
        cut_threshold=args.cut_threshold,
        min_shot_len=args.min_shot_len,
        max_side=args.max_side,
        quality=args.quality)
    meta = index['metainfo']
    print(f'{meta["num_videos"]} videos, {meta["total_frames"]} frames '
          f'indexed in {out}')
    return index


if __name__ == '__main__':
    main()
