"""critnet: C-RITNet infrared-visible image fusion.

Quick use::

    import critnet
    fused = critnet.fuse("ir.png", "vis.png")          # bundled weights
    model = critnet.load_model("lite")                  # or a .safetensors path
"""

from critnet.errors import CritnetError, InputError, WeightsError

__version__ = "0.1.0"

__all__ = ["CritnetError", "FuseOptions", "InputError", "WeightsError", "fuse", "load_model",
           "__version__"]


def __getattr__(name: str):
    # Lazy: ``import critnet`` stays light (no torch import) until fusion is used.
    if name in ("FuseOptions", "fuse", "load_model"):
        from critnet.pipeline import single as api

        return getattr(api, name)
    raise AttributeError(f"module 'critnet' has no attribute {name!r}")
