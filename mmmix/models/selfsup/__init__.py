from .clim import CLIMBYOL, CLIMMixin, CLIMMoCo, CLIMSimSiam

__all__ = ['CLIMMixin', 'CLIMMoCo', 'CLIMBYOL', 'CLIMSimSiam']
