"""Model-side utilities: data preprocessors and backbone taps."""
from .attention_tap import AttentionTap, LastBlockAttentionTap  # noqa: F401
from .lma_preprocessor import LMASelfSupDataPreprocessor  # noqa: F401
from .lma_sampler import LMASampler, load_prefixed_state_dict  # noqa: F401
from .video_data_preprocessor import VideoSelfSupDataPreprocessor  # noqa: F401
