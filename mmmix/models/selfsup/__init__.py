from .clim import CLIMBYOL, CLIMMixin, CLIMMoCo, CLIMSimSiam
from .interclr import (
    NPID,
    InterCLRBYOL,
    InterCLRMixin,
    InterCLRMoCo,
    InterCLRNPID,
)

__all__ = [
    'CLIMMixin', 'CLIMMoCo', 'CLIMBYOL', 'CLIMSimSiam', 'InterCLRMixin',
    'InterCLRMoCo', 'InterCLRBYOL', 'InterCLRNPID', 'NPID'
]
