from .assimilation import A2BYOL, A2MoCoV2, A2SimCLR, A2SimSiam
from .clim import CLIMBYOL, CLIMMixin, CLIMMoCo, CLIMSimSiam
from .dino import DINO
from .dora import DoRA
from .interclr import (
    NPID,
    InterCLRBYOL,
    InterCLRMixin,
    InterCLRMoCo,
    InterCLRNPID,
)

__all__ = [
    'DINO', 'DoRA',
    'CLIMMixin', 'CLIMMoCo', 'CLIMBYOL', 'CLIMSimSiam', 'InterCLRMixin',
    'InterCLRMoCo', 'InterCLRBYOL', 'InterCLRNPID', 'NPID',
    'A2SimCLR', 'A2SimSiam', 'A2MoCoV2', 'A2BYOL'
]
