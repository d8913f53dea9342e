from .residual_decoder import ResidualDecoder

__all__ = ['ResidualDecoder']
