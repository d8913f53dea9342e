"""Registered modules (backbones, necks, heads, losses, classifiers, selfsup).

Grouped as mmpretrain groups them; the maths they use lives in mmmix.ops.
"""
from .backbones import *  # noqa: F401,F403
from .batch_augments import *  # noqa: F401,F403
from .classifiers import *  # noqa: F401,F403
from .decoders import *  # noqa: F401,F403
from .generators import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .memories import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .retrievers import *  # noqa: F401,F403
from .selfsup import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
