"""The C-RITNet network (docs/design.md §1).

The configuration (:mod:`critnet.model.config`) and the tile arithmetic of
:mod:`critnet.model.tiled` import without torch (the runtime-only install fuses with the shipped
ONNX graphs); the network classes are imported, with torch, when first used.
"""

from critnet.model.config import PRESETS, CRITNetConfig, preset_config

__all__ = [
    "PRESETS",
    "CRITNet",
    "CRITNetConfig",
    "FusionOutputs",
    "SipriaOutputs",
    "build_model",
    "preset_config",
]

_LAZY = {"CRITNet": "critnet.model.critnet", "FusionOutputs": "critnet.model.critnet",
         "build_model": "critnet.model.critnet", "SipriaOutputs": "critnet.model.sipria"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'critnet.model' has no attribute {name!r}")
