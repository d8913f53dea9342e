"""Clips of T frames from long videos (DoRA, Walking Tours).

A dataset item is one *start frame*: the clip holds frames
``start + s * j`` for ``j = 0 .. T-1`` of one video (spec 3.6). Sources are
video files (decoded with OpenCV), folders of decoded frames, or an index
JSON written by ``tools/dataset_converters/build_frame_index.py``. Several
videos are concatenated with a cumulative index and a clip never crosses a
video boundary nor (optionally) a shot cut.
"""
import json
import numbers
import os
import os.path as osp
import re
import warnings
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Union

import cv2
import numpy as np
from mmengine.dataset import force_full_init
from mmengine.registry import DefaultScope
from mmpretrain.datasets import BaseDataset

from mmmix.registry import DATASETS, TRANSFORMS

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.mov', '.webm', '.m4v', '.mpg',
                    '.mpeg', '.wmv', '.flv', '.ts', '.mts')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif',
                    '.tiff', '.ppm', '.pgm')
LEN_MODES = ('code', 'exact')
FRAME_META = 'meta.json'
#: Index file that a scanned ``data_root`` is read from when present.
DEFAULT_INDEX = 'frame_index.json'


def natural_key(name: str) -> list:
    """Sort key that orders ``frame2`` before ``frame10``."""
    return [int(t) if t.isdigit() else t.lower()
            for t in re.split(r'(\d+)', name)]


def list_frame_files(folder: str) -> List[str]:
    """Image file names in ``folder``, naturally sorted."""
    names = [
        e.name for e in os.scandir(folder)
        if e.is_file() and osp.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS
    ]
    return sorted(names, key=natural_key)


def read_frame_meta(folder: str) -> dict:
    """The ``meta.json`` of a frame folder (``{}`` if there is none)."""
    path = osp.join(folder, FRAME_META)
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        meta = json.load(f)
    if not isinstance(meta, dict):
        raise ValueError(f'{path} must hold a JSON object, got '
                         f'{type(meta).__name__}')
    return meta


def count_video_frames(path: str) -> int:
    """Count the frames of a video by decoding it (``grab`` loop).

    ``CAP_PROP_FRAME_COUNT`` comes from the container header and can be
    wrong (or missing) for some containers; this is the robust count.
    """
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise OSError(f'cannot open video {path!r}')
    n = 0
    try:
        while cap.grab():
            n += 1
    finally:
        cap.release()
    return n


def probe_video(path: str, count_frames: bool = False) -> dict:
    """Frame count, fps and size of a video file.

    Args:
        path (str): The video file.
        count_frames (bool): Count the frames by decoding instead of
            trusting the container header. Defaults to False.

    Returns:
        dict: ``num_frames``, ``fps``, ``width``, ``height``.

    Raises:
        OSError: the file is missing or OpenCV cannot open it.
        ValueError: the video has no frames.
    """
    if not osp.isfile(path):
        raise OSError(f'video file {path!r} does not exist')
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise OSError(f'cannot open video {path!r} (unreadable or '
                          'unsupported format)')
        num = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        if num <= 0 or width <= 0 or height <= 0:
            # header without a count or size: decode the first frame
            ok, frame = cap.read()
            if not ok or frame is None:
                raise ValueError(f'video {path!r} has no frames')
            height, width = frame.shape[:2]
    finally:
        cap.release()
    if count_frames or num <= 0:
        num = count_video_frames(path)
    if num <= 0:
        raise ValueError(f'video {path!r} has no frames')
    if not np.isfinite(fps) or fps <= 0:
        fps = 0.0
    return dict(num_frames=num, fps=fps, width=width, height=height)


def clip_starts(num_frames: int,
                clip_len: int,
                stride: int,
                len_mode: str = 'code',
                start_stride: int = 1,
                cuts: Optional[Sequence[int]] = None) -> np.ndarray:
    """The start frames of the clips of one video.

    Args:
        num_frames (int): Frames in the video (N).
        clip_len (int): Frames per clip (T).
        stride (int): Frames between two clip frames (s).
        len_mode (str): ``'code'``: starts ``0 .. N - T*s - 1`` (the
            official DoRA count, which drops the last ``s`` valid starts);
            ``'exact'``: every start whose clip fits, ``0 .. N - (T-1)*s - 1``.
        start_stride (int): Keep every ``start_stride``-th start.
        cuts (Sequence[int], optional): Frames where a new shot starts; a
            clip ``[start, start + (T-1)*s]`` is dropped when it holds a cut
            frame ``c`` with ``start < c <= start + (T-1)*s`` (a clip that
            begins on the cut frame is kept).

    Returns:
        np.ndarray: int64 start frames (may be empty).
    """
    span = (clip_len - 1) * stride
    count = num_frames - (clip_len * stride if len_mode == 'code' else span)
    starts = np.arange(0, max(count, 0), start_stride, dtype=np.int64)
    if cuts is not None and len(cuts) and len(starts) and span > 0:
        cuts = np.unique(np.asarray(cuts, dtype=np.int64))
        # first cut strictly after start; drop if it is <= start + span
        pos = np.searchsorted(cuts, starts, side='right')
        nxt = np.where(pos < len(cuts), cuts[np.minimum(pos, len(cuts) - 1)],
                       np.iinfo(np.int64).max)
        starts = starts[nxt > starts + span]
    return starts


def resized_size(height: int, width: int, resize_short: Optional[int],
                 max_side: Optional[int]) -> tuple:
    """``(h, w)`` after the decode-time resize (aspect ratio kept)."""
    scale = 1.0
    if resize_short:
        scale = resize_short / min(height, width)
    if max_side and max(height, width) * scale > max_side:
        scale = max_side / max(height, width)
    if scale == 1.0:
        return height, width
    return (max(1, int(round(height * scale))),
            max(1, int(round(width * scale))))


def _is_int(value, low: int = 1) -> bool:
    return (isinstance(value, numbers.Integral)
            and not isinstance(value, bool) and value >= low)


def _build_pipeline(pipeline: Sequence) -> list:
    # nested wrappers build their children with mmcv's root registry, which
    # finds mmpretrain/mmmix transforms only under a default scope
    scope = None
    if DefaultScope.get_current_instance() is None:
        scope = 'mmmix'
    with DefaultScope.overwrite_default_scope(scope):
        return [
            TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in pipeline
        ]


@DATASETS.register_module()
class VideoClipDataset(BaseDataset):
    """Clips of ``num_frames`` frames, one per start frame of each video.

    Item ``i`` is the ``i``-th valid start frame over all videos (a
    cumulative index; videos are taken in the given order, or naturally
    sorted when a folder is scanned) and holds the frames
    ``start + s * j``, ``j = 0 .. T-1``, of that video only. ``len`` follows
    ``len_mode``: ``'code'`` gives ``N - T*s`` starts per video like the
    official DoRA loader, ``'exact'`` every start whose clip fits,
    ``N - (T-1)*s``. ``start_stride`` keeps every n-th start (compute-limited
    runs, a deviation from the paper's epoch of every start frame), and
    starts whose clip crosses a shot cut are dropped.

    Sources (paths relative to ``data_root`` unless absolute):

    - video files, decoded with ``cv2.VideoCapture`` (BGR converted to RGB).
      Each video is opened once at build time to read its frame count, fps
      and size. Seeking with ``CAP_PROP_POS_FRAMES`` is exact for
      intra-only codecs (MJPG) and frame folders; for long-GOP codecs it can
      be slow, so prefer pre-extracted frames for long 4K videos;
    - folders of frames (naturally sorted image files), with the fps from a
      ``meta.json`` in the folder (``{"fps": 30, "cuts": [...]}``) or from
      ``fps``;
    - an index JSON (``ann_file``) written by
      ``tools/dataset_converters/build_frame_index.py``:
      ``{"metainfo": {...}, "data_list": [{"video": ..., "num_frames": ...,
      "fps": ..., "width": ..., "height": ..., "cuts": [...],
      "frames_dir": ...}, ...]}``, paths relative to the JSON file's folder.
      Frame counts and fps are taken from the index (videos are not opened
      at build time); an entry with ``frames_dir`` is read from its frames
      when ``use_frames`` is True.

    With no ``videos`` and no ``ann_file``, ``data_root`` is read as the
    index if it is a ``.json`` file or holds a ``frame_index.json`` (the
    tool's default output); otherwise it is scanned for video files and
    frame folders (or is itself one video or one frame folder).

    Frames are read by seeking to the first frame, then reading on
    sequentially (``grab`` skips up to ``max_grab`` frames, a longer gap
    seeks). Captures are opened lazily in each process (dataloader workers
    included) and at most ``max_open_videos`` stay open per process.

    The results passed to ``pipeline`` hold:

    - ``imgs``: list of T RGB ``uint8`` arrays ``(h, w, 3)``;
    - ``frame_inds``: int64 array of the T frame indices;
    - ``video`` (path), ``video_name`` (file or folder name),
      ``video_idx``, ``sample_idx`` (the dataset index);
    - ``fps``, ``total_frames``, ``clip_len`` (T), ``frame_interval`` (s);
    - ``ori_shape`` (decoded ``(H, W)``) and ``img_shape`` (after the
      decode-time resize).

    Args:
        videos (str | Sequence[str], optional): Video files and/or frame
            folders. Defaults to None.
        ann_file (str): Index JSON. Defaults to ''.
        data_root (str): Root of relative paths, or the folder to scan, or
            the index JSON. Defaults to ''.
        num_frames (int): Frames per clip (T). Defaults to 8.
        stride_seconds (float): Time between two clip frames; the stride is
            ``max(1, round(fps * stride_seconds))`` frames, per video.
            Defaults to 1.0.
        stride_frames (int, optional): Stride in frames; overrides
            ``stride_seconds`` (e.g. 60 as in the DoRA README). Defaults to
            None.
        start_stride (int): Keep every n-th start frame. Defaults to 1.
        len_mode (str): ``'code'`` (``N - T*s`` starts, the official code)
            or ``'exact'`` (``N - (T-1)*s``). Defaults to 'code'.
        cuts (Sequence | Mapping, optional): Shot cuts, the frame indices
            where a new shot starts: a list with one list per video (in
            source order), or a dict from the video path, file name or stem
            to its list. Overrides the cuts of the index or ``meta.json``.
            Defaults to None.
        avoid_cuts (bool): Drop starts whose clip crosses a cut. False
            ignores every cut. Defaults to True.
        fps (float, optional): Frame rate of frame folders without a
            ``meta.json`` fps, and of videos whose container reports none.
            Defaults to None.
        resize_short (int, optional): Resize every frame at decode time so
            that its short side has this length. Defaults to None.
        max_side (int, optional): Downscale every frame at decode time so
            that its long side is at most this. Defaults to None.
        use_frames (bool): Read the extracted frames of index entries that
            have them. Defaults to True.
        count_frames (bool): Count the frames of video files by decoding
            them at build time instead of trusting the container header.
            Defaults to False.
        skip_short (bool): Skip (with a warning) videos too short for one
            clip instead of raising. Defaults to False.
        max_open_videos (int): Captures kept open per process; 0 opens one
            per item. Defaults to 4.
        max_grab (int): Largest gap read through sequentially instead of
            seeking. Defaults to 32.
        pipeline (Sequence): Transforms (configs are built from mmmix's
            TRANSFORMS, so clip transforms and mmpretrain's are found).
            Defaults to ().
        **kwargs: Other arguments of mmpretrain's ``BaseDataset``
            (``indices``, ``lazy_init``, ``test_mode``, ``metainfo``, ...).
            ``serialize_data`` is ignored: the index is kept in compact
            numpy arrays.
    """

    def __init__(self,
                 videos: Union[str, Sequence[str], None] = None,
                 ann_file: str = '',
                 data_root: str = '',
                 num_frames: int = 8,
                 stride_seconds: float = 1.0,
                 stride_frames: Optional[int] = None,
                 start_stride: int = 1,
                 len_mode: str = 'code',
                 cuts: Union[Sequence, Mapping, None] = None,
                 avoid_cuts: bool = True,
                 fps: Optional[float] = None,
                 resize_short: Optional[int] = None,
                 max_side: Optional[int] = None,
                 use_frames: bool = True,
                 count_frames: bool = False,
                 skip_short: bool = False,
                 max_open_videos: int = 4,
                 max_grab: int = 32,
                 pipeline: Sequence = (),
                 **kwargs):
        if not _is_int(num_frames):
            raise ValueError(
                f'num_frames must be an int >= 1, got {num_frames!r}')
        if stride_frames is not None and not _is_int(stride_frames):
            raise ValueError(f'stride_frames must be an int >= 1 or None, '
                             f'got {stride_frames!r}')
        if (not isinstance(stride_seconds, numbers.Real)
                or isinstance(stride_seconds, bool) or stride_seconds <= 0):
            raise ValueError(
                f'stride_seconds must be > 0, got {stride_seconds!r}')
        if not _is_int(start_stride):
            raise ValueError(
                f'start_stride must be an int >= 1, got {start_stride!r}')
        if len_mode not in LEN_MODES:
            raise ValueError(
                f'len_mode must be one of {LEN_MODES}, got {len_mode!r}')
        for name, value in (('resize_short', resize_short), ('max_side',
                                                             max_side)):
            if value is not None and not _is_int(value):
                raise ValueError(
                    f'{name} must be an int >= 1 or None, got {value!r}')
        if fps is not None and (not isinstance(fps, numbers.Real)
                                or isinstance(fps, bool) or fps <= 0):
            raise ValueError(f'fps must be > 0 or None, got {fps!r}')
        if not _is_int(max_open_videos, 0):
            raise ValueError(f'max_open_videos must be an int >= 0, got '
                             f'{max_open_videos!r}')
        if not _is_int(max_grab, 0):
            raise ValueError(f'max_grab must be an int >= 0, got '
                             f'{max_grab!r}')
        if isinstance(videos, str):
            videos = [videos]
        if videos is not None and (not isinstance(videos, Sequence)
                                   or not all(
                                       isinstance(v, str) for v in videos)):
            raise ValueError('videos must be a path or a list of paths, got '
                             f'{videos!r}')
        if (data_root and not ann_file and videos is None
                and osp.isfile(data_root)):
            # data_root is the index JSON itself, or a single video
            if data_root.lower().endswith('.json'):
                ann_file = data_root
            else:
                videos = [data_root]
            data_root = ''
        elif (data_root and not ann_file and videos is None
              and osp.isfile(osp.join(data_root, DEFAULT_INDEX))):
            ann_file = osp.join(data_root, DEFAULT_INDEX)
            data_root = ''
        self.videos = None if videos is None else list(videos)
        self.clip_len = int(num_frames)
        self.stride_seconds = float(stride_seconds)
        self.stride_frames = (None if stride_frames is None else
                              int(stride_frames))
        self.start_stride = int(start_stride)
        self.len_mode = len_mode
        self.cuts = cuts
        self.avoid_cuts = bool(avoid_cuts)
        self.fps = None if fps is None else float(fps)
        self.resize_short = resize_short
        self.max_side = max_side
        self.use_frames = bool(use_frames)
        self.count_frames = bool(count_frames)
        self.skip_short = bool(skip_short)
        self.max_open_videos = int(max_open_videos)
        self.max_grab = int(max_grab)
        self.video_infos: List[dict] = []
        self._starts = np.zeros(0, dtype=np.int64)
        self._video_ids = np.zeros(0, dtype=np.int32)
        self._caps: 'OrderedDict[int, list]' = OrderedDict()
        self._caps_pid = None
        kwargs['serialize_data'] = False
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            pipeline=_build_pipeline(pipeline),
            **kwargs)

    # ------------------------------------------------------------------
    # building the index
    # ------------------------------------------------------------------
    def _path(self, path: str, root: str) -> str:
        path = osp.expanduser(path)
        return path if osp.isabs(path) or not root else osp.join(root, path)

    def _scan_root(self) -> List[str]:
        root = self.data_root
        if not root or not osp.isdir(root):
            raise ValueError('VideoClipDataset needs videos, an ann_file or '
                             f'a data_root folder; got data_root={root!r}')
        sources = []
        for name in sorted(os.listdir(root), key=natural_key):
            path = osp.join(root, name)
            if osp.isfile(path) and osp.splitext(
                    name)[1].lower() in VIDEO_EXTENSIONS:
                sources.append(path)
            elif osp.isdir(path) and list_frame_files(path):
                sources.append(path)
        if not sources and list_frame_files(root):
            sources = [root]  # data_root is one frame folder
        if not sources:
            raise ValueError(f'no video files ({", ".join(VIDEO_EXTENSIONS)})'
                             f' or frame folders found in {root!r}')
        return sources

    def _folder_info(self, folder: str, meta: Optional[dict] = None) -> dict:
        names = list_frame_files(folder)
        if not names:
            raise ValueError(f'frame folder {folder!r} has no frames (no '
                             f'{"/".join(IMAGE_EXTENSIONS)} files)')
        if meta is None:
            meta = read_frame_meta(folder)
        first = osp.join(folder, names[0])
        img = cv2.imread(first, cv2.IMREAD_UNCHANGED)
        if img is None:
            raise OSError(f'cannot read frame {first!r}')
        fps = float(meta.get('fps') or self.fps or 0.0)
        return dict(
            path=folder,
            kind='frames',
            frames=np.array(names, dtype=np.bytes_),
            num_frames=len(names),
            fps=fps,
            width=int(img.shape[1]),
            height=int(img.shape[0]),
            cuts=meta.get('cuts'))

    def _video_info(self, path: str) -> dict:
        info = probe_video(path, self.count_frames)
        if info['fps'] <= 0 and self.fps:
            info['fps'] = self.fps
        return dict(path=path, kind='video', cuts=None, **info)

    def _source_info(self, path: str) -> dict:
        if osp.isdir(path):
            return self._folder_info(path)
        return self._video_info(path)

    def _load_index(self) -> List[dict]:
        path = self.ann_file
        if not osp.isfile(path):
            raise OSError(f'index file {path!r} does not exist')
        with open(path) as f:
            index = json.load(f)
        entries = index.get('data_list') if isinstance(index, dict) else index
        if not isinstance(entries, list):
            raise ValueError(f'{path!r} is not a frame index (expected a '
                             '"data_list" of videos)')
        if isinstance(index, dict):
            for k, v in (index.get('metainfo') or {}).items():
                self._metainfo.setdefault(k, v)
        root = osp.dirname(osp.abspath(path))
        infos = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or 'video' not in entry:
                raise ValueError(f'entry {i} of {path!r} has no "video"')
            video = self._path(entry['video'], root)
            frames_dir = entry.get('frames_dir')
            if frames_dir and self.use_frames:
                folder = self._path(frames_dir, root)
                if not osp.isdir(folder):
                    raise OSError(f'frame folder {folder!r} of {video!r} '
                                  f'(index {path!r}) does not exist')
                meta = read_frame_meta(folder)
                meta.setdefault('fps', entry.get('fps'))
                info = self._folder_info(folder, meta)
                if entry.get('num_frames') not in (None, info['num_frames']):
                    warnings.warn(
                        f'{folder!r} holds {info["num_frames"]} frames but '
                        f'the index says {entry["num_frames"]}; using the '
                        'frames found')
                info['source'] = video
            else:
                if not osp.isfile(video):
                    raise OSError(f'video file {video!r} (index {path!r}) '
                                  'does not exist')
                num = int(entry.get('num_frames') or 0)
                if num <= 0:
                    info = self._video_info(video)
                else:
                    fps = float(entry.get('fps') or self.fps or 0.0)
                    info = dict(
                        path=video,
                        kind='video',
                        num_frames=num,
                        fps=fps,
                        width=int(entry.get('width') or 0),
                        height=int(entry.get('height') or 0))
            info['cuts'] = entry.get('cuts', info.get('cuts'))
            infos.append(info)
        if not infos:
            raise ValueError(f'index {path!r} lists no videos')
        return infos

    def _cuts_for(self, i: int, info: dict, given: List[str]):
        cuts = self.cuts
        if cuts is None:
            return info.get('cuts')
        if isinstance(cuts, Mapping):
            path = info.get('source', info['path'])
            name = osp.basename(osp.normpath(path))
            keys = [path, name, osp.splitext(name)[0]]
            if i < len(given):
                keys.insert(0, given[i])
            for key in keys:
                if key in cuts:
                    return cuts[key]
            return info.get('cuts')
        if i >= len(cuts):
            raise ValueError(f'cuts has {len(cuts)} lists but there are more '
                             'videos; give one list per video')
        return cuts[i]

    def load_data_list(self) -> List[dict]:
        """One record per video: path, kind, frame count, fps, size, cuts."""
        if self.ann_file:
            given = []
            infos = self._load_index()
        else:
            given = self.videos if self.videos is not None else []
            paths = ([self._path(v, self.data_root) for v in given]
                     if self.videos is not None else self._scan_root())
            if not paths:
                raise ValueError('videos is empty')
            infos = [self._source_info(p) for p in paths]
        if (self.cuts is not None and not isinstance(self.cuts, Mapping)
                and len(self.cuts) != len(infos)):
            raise ValueError(f'cuts has {len(self.cuts)} lists for '
                             f'{len(infos)} videos')
        for i, info in enumerate(infos):
            cuts = self._cuts_for(i, info, given)
            info['cuts'] = ([] if cuts is None else sorted(
                int(c) for c in cuts))
            info['name'] = osp.basename(
                osp.normpath(info.get('source', info['path'])))
        return infos

    def _stride(self, info: dict) -> int:
        if self.stride_frames is not None:
            return self.stride_frames
        fps = info['fps']
        if not fps or fps <= 0:
            raise ValueError(
                f'{info["path"]!r} has no fps: give fps= (or a meta.json '
                'with "fps" in a frame folder), or stride_frames=')
        return max(1, int(round(fps * self.stride_seconds)))

    def full_init(self):
        """Read the sources and build the (video, start frame) index."""
        if self._fully_initialized:
            return
        infos = self.load_data_list()
        starts, video_ids, kept = [], [], []
        for info in infos:
            stride = self._stride(info)
            n, t = info['num_frames'], self.clip_len
            need = t * stride + 1 if self.len_mode == 'code' else \
                (t - 1) * stride + 1
            if n < need:
                msg = (f'video {info["path"]!r} has {n} frames, too few for '
                       f'one clip of {t} frames with stride {stride} '
                       f'(needs {need} frames, len_mode={self.len_mode!r})')
                if not self.skip_short:
                    raise ValueError(msg)
                warnings.warn(msg + '; skipped')
                continue
            s = clip_starts(n, t, stride, self.len_mode, self.start_stride,
                            info['cuts'] if self.avoid_cuts else None)
            info['stride'] = stride
            info['num_clips'] = len(s)
            starts.append(s)
            video_ids.append(np.full(len(s), len(kept), dtype=np.int32))
            kept.append(info)
        if not kept:
            raise ValueError('no video is long enough for one clip')
        self.video_infos = kept
        self.data_list = []
        self._starts = np.concatenate(starts)
        self._video_ids = np.concatenate(video_ids)
        if self._indices is not None:
            self._select(self._indices)
        self._fully_initialized = True

    def _select(self, indices: Union[int, Sequence[int]]) -> None:
        if isinstance(indices, numbers.Integral):
            sel = (np.arange(min(indices, len(self._starts))) if indices >= 0
                   else np.arange(max(0, len(self._starts) + indices),
                                  len(self._starts)))
        else:
            sel = np.asarray(indices, dtype=np.int64)
        self._starts = self._starts[sel]
        self._video_ids = self._video_ids[sel]

    @force_full_init
    def get_subset_(self, indices: Union[Sequence[int], int]) -> None:
        """Keep only ``indices`` (in place), as mmengine's ``BaseDataset``."""
        self._select(indices)

    @force_full_init
    def get_subset(self, indices: Union[Sequence[int], int]):
        """A copy holding only ``indices``."""
        caps, self._caps = self._caps, OrderedDict()
        try:  # captures cannot be deep-copied
            sub = self._copy_without_annotation()
        finally:
            self._caps = caps
        sub._caps_pid = None
        sub._select(indices)
        return sub

    @force_full_init
    def __len__(self) -> int:
        return len(self._starts)

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """Metadata of clip ``idx`` (no decoding)."""
        n = len(self._starts)
        if not -n <= idx < n:
            raise IndexError(f'clip index {idx} out of range for {n} clips')
        idx = int(idx) % n
        vid = int(self._video_ids[idx])
        info = self.video_infos[vid]
        start = int(self._starts[idx])
        inds = start + info['stride'] * np.arange(
            self.clip_len, dtype=np.int64)
        return dict(
            video=info.get('source', info['path']),
            video_name=info['name'],
            video_idx=vid,
            sample_idx=idx,
            frame_inds=inds,
            fps=info['fps'],
            total_frames=info['num_frames'],
            clip_len=self.clip_len,
            frame_interval=info['stride'])

    # ------------------------------------------------------------------
    # decoding
    # ------------------------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        state['_caps'] = OrderedDict()  # captures do not pickle
        state['_caps_pid'] = None
        return state

    def _convert(self, frame: np.ndarray) -> np.ndarray:
        if frame.ndim == 2 or frame.shape[2] == 1:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
        elif frame.shape[2] == 4:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
        else:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        h, w = frame.shape[:2]
        nh, nw = resized_size(h, w, self.resize_short, self.max_side)
        if (nh, nw) != (h, w):
            interp = cv2.INTER_AREA if nh < h else cv2.INTER_LINEAR
            frame = cv2.resize(frame, (nw, nh), interpolation=interp)
        return frame

    def _capture(self, vid: int) -> list:
        """``[capture, next frame position]`` of video ``vid``."""
        pid = os.getpid()
        if self._caps_pid != pid:  # new process (e.g. a forked worker)
            self._caps = OrderedDict()
            self._caps_pid = pid
        entry = self._caps.get(vid)
        if entry is not None:
            self._caps.move_to_end(vid)
            return entry
        path = self.video_infos[vid]['path']
        cap = cv2.VideoCapture(path)
        if not cap.isOpened():
            raise OSError(f'cannot open video {path!r}')
        entry = [cap, 0]
        if self.max_open_videos > 0:
            self._caps[vid] = entry
            while len(self._caps) > self.max_open_videos:
                _, (old, _) = self._caps.popitem(last=False)
                old.release()
        return entry

    def _drop_capture(self, vid: int, entry: list) -> None:
        if self._caps.get(vid) is entry:
            del self._caps[vid]
        entry[0].release()

    def _read_video(self, vid: int, inds: np.ndarray) -> List[np.ndarray]:
        info = self.video_infos[vid]
        path, total = info['path'], info['num_frames']
        entry = self._capture(vid)
        frames = []
        try:
            for ind in inds.tolist():
                cap, pos = entry
                gap = ind - pos
                if gap < 0 or gap > self.max_grab:
                    cap.set(cv2.CAP_PROP_POS_FRAMES, ind)
                else:
                    for k in range(gap):
                        if not cap.grab():
                            raise OSError(
                                f'failed to read frame {pos + k} of video '
                                f'{path!r} ({total} frames in the header) '
                                f'while seeking frame {ind}')
                ok, frame = cap.read()
                if not ok or frame is None:
                    raise OSError(f'failed to read frame {ind} of video '
                                  f'{path!r} ({total} frames in the header)')
                entry[1] = ind + 1
                frames.append(frame)
        except Exception:
            self._drop_capture(vid, entry)
            raise
        if self.max_open_videos == 0:
            entry[0].release()
        return frames

    def _read_folder(self, vid: int, inds: np.ndarray) -> List[np.ndarray]:
        info = self.video_infos[vid]
        frames = []
        for ind in inds.tolist():
            if ind >= len(info['frames']):
                raise OSError(f'frame {ind} of {info["path"]!r} does not '
                              f'exist ({len(info["frames"])} frames)')
            path = osp.join(info['path'], info['frames'][ind].decode())
            frame = cv2.imread(path, cv2.IMREAD_COLOR)
            if frame is None:
                raise OSError(f'failed to read frame {ind} of '
                              f'{info["path"]!r}: cannot read {path!r}')
            frames.append(frame)
        return frames

    def _decode(self, video_idx: int, frame_inds: Sequence[int]) -> tuple:
        inds = np.asarray(frame_inds, dtype=np.int64)
        if self.video_infos[video_idx]['kind'] == 'frames':
            raw = self._read_folder(video_idx, inds)
        else:
            raw = self._read_video(video_idx, inds)
        ori_shape = tuple(raw[0].shape[:2]) if raw else None
        return [self._convert(f) for f in raw], ori_shape

    @force_full_init
    def read_frames(self, video_idx: int,
                    frame_inds: Sequence[int]) -> List[np.ndarray]:
        """Decode frames of a video as RGB ``uint8`` arrays.

        Args:
            video_idx (int): Index in :attr:`video_infos`.
            frame_inds (Sequence[int]): Frame indices.

        Returns:
            list[np.ndarray]: ``(h, w, 3)`` RGB frames after the decode-time
            resize.
        """
        return self._decode(video_idx, frame_inds)[0]

    def prepare_data(self, idx: int):
        """Decode clip ``idx`` and run the pipeline on it."""
        results = self.get_data_info(idx)
        imgs, ori_shape = self._decode(results['video_idx'],
                                       results['frame_inds'])
        results['imgs'] = imgs
        results['ori_shape'] = ori_shape
        results['img_shape'] = imgs[0].shape[:2]
        return self.pipeline(results)

    def extra_repr(self) -> List[str]:
        body = [
            f'Number of videos: \t{len(self.video_infos)}',
            f'Clip length (frames): \t{self.clip_len}',
        ]
        if self.stride_frames is not None:
            body.append(f'Stride (frames): \t{self.stride_frames}')
        else:
            body.append(f'Stride (seconds): \t{self.stride_seconds}')
        body.append(f'Start stride: \t{self.start_stride}')
        body.append(f'Length mode: \t{self.len_mode}')
        if self.resize_short or self.max_side:
            body.append(f'Decode resize: \tshort={self.resize_short}, '
                        f'max_side={self.max_side}')
        return body

    @property
    def clips_per_video(self) -> Dict[str, int]:
        """Number of clips of each video (after cuts and start stride)."""
        counts = np.bincount(self._video_ids, minlength=len(self.video_infos))
        return {
            info['name']: int(c)
            for info, c in zip(self.video_infos, counts)
        }


@DATASETS.register_module()
class WalkingToursDataset(VideoClipDataset):
    """Walking Tours videos (DoRA): clips of 8 frames, 1 s apart.

    A :class:`VideoClipDataset` with the Walking Tours defaults [T 2209]:
    ``num_frames=8`` and ``stride_seconds=1.0`` from each video's own fps
    (the videos are not all 60 fps, spec 10 A7/A14; give
    ``stride_frames=60`` to match the official README). ``data_root`` is a
    folder of videos (``WT_all``), one video (``WT_Venice``) or the index
    JSON written by ``tools/dataset_converters/build_frame_index.py``
    (recommended: pre-extracted <= 720p frames).

    Args:
        data_root (str): Folder of videos or frame folders, a video file, or
            an index JSON.
        num_frames (int): Frames per clip. Defaults to 8.
        stride_seconds (float): Seconds between clip frames. Defaults to 1.0.
        **kwargs: Other arguments of :class:`VideoClipDataset`.
    """

    def __init__(self,
                 data_root: str = '',
                 num_frames: int = 8,
                 stride_seconds: float = 1.0,
                 **kwargs):
        super().__init__(
            data_root=data_root,
            num_frames=num_frames,
            stride_seconds=stride_seconds,
            **kwargs)
