"""The C-RITNet network (docs/design.md §1)."""

from critnet.model.config import PRESETS, CRITNetConfig, preset_config
from critnet.model.critnet import CRITNet, FusionOutputs, build_model
from critnet.model.sipria import SipriaOutputs

__all__ = [
    "PRESETS",
    "CRITNet",
    "CRITNetConfig",
    "FusionOutputs",
    "SipriaOutputs",
    "build_model",
    "preset_config",
]
