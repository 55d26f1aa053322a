"""cxrlib: the thin library behind the cxr-study notebooks (Galindo-Ramirez et al. 2022 reproduction)."""

__version__ = "0.1.0"
