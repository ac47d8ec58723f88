"""Network configuration (docs/design.md §1) and the named presets. Bad options raise
:class:`~critnet.errors.ConfigError` (a ``ValueError``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from critnet.errors import ConfigError

AttentionNorm = Literal["cosine", "sqrt_d"]


@dataclass(frozen=True)
class CRITNetConfig:
    """Every architectural option of docs/design.md §1, with its defaults (the ``paper`` preset).

    Attributes:
        channels: feature width ``C`` (even: each SIPRIA splits it into two halves).
        growth: dense-block growth rate ``G``.
        n_rdb: residual dense blocks per encoder.
        n_dense: conv layers per residual dense block.
        edge_width: output width of each edge encoder ``E_ed``; ``None`` means ``C/2``.
        fuse_kernel: kernel size (3 or 1) of the first convolution of ``D_fuse`` and
            ``D_fuse0``; the paper's 3 everywhere but ``tiny``, where a 1×1 first layer removes
            the 3×3 convolution over the 48-channel concatenation (half of the MACs).
        separable: depthwise-separable 3×3 convolutions (3×3 per channel, then 1×1) in the
            encoders' dense layers and SIPRIA's edge encoders ``E_ed`` (``tiny`` only).
        attention_norm: ``cosine`` (L2-normalised Q, K and a learnable temperature) or
            ``sqrt_d`` (dot products / sqrt(HW), the paper's formula read literally).
        mit: ablation switch; ``False`` drops mutual representation learning
            (``F_vis<->ir := F_ir``, ``F_ir<->vis := F_vis``).
        sipria: ablation switch; ``False`` drops both SIPRIAs and ``D_fuse``
            (fusion by ``D_fuse0``).
        shuffle_seed: seed of the fixed channel permutations: ``shuffle_seed`` for the infrared
            SIPRIA, ``shuffle_seed + 1`` for the visible one, so the two differ (the released
            code shares one permutation).
        preset: the preset name this config came from (informational, stored with weights).
    """

    channels: int = 64
    growth: int = 64
    n_rdb: int = 1
    n_dense: int = 3
    edge_width: int | None = None
    fuse_kernel: int = 3
    separable: bool = False
    attention_norm: AttentionNorm = "cosine"
    mit: bool = True
    sipria: bool = True
    shuffle_seed: int = 0
    preset: str = "custom"

    def __post_init__(self) -> None:
        if self.channels < 2 or self.channels % 2:
            raise ConfigError(f"channels must be an even number >= 2, got {self.channels}")
        if self.growth < 1 or self.n_rdb < 1 or self.n_dense < 1:
            raise ConfigError("growth, n_rdb and n_dense must all be >= 1")
        if self.fuse_kernel not in (1, 3):
            raise ConfigError(f"fuse_kernel must be 1 or 3, got {self.fuse_kernel}")
        if self.attention_norm not in ("cosine", "sqrt_d"):
            raise ConfigError(
                f"attention_norm must be 'cosine' or 'sqrt_d', got {self.attention_norm!r}"
            )

    @property
    def half(self) -> int:
        """Channels per SIPRIA group, ``C/2``."""
        return self.channels // 2

    @property
    def edge_channels(self) -> int:
        """Width of each edge encoder's output."""
        return self.edge_width if self.edge_width is not None else self.half

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CRITNetConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"unknown model options: {sorted(unknown)}")
        return cls(**values)


PRESETS: dict[str, CRITNetConfig] = {
    # C = G = 64, one RDB of three dense layers: the paper / released-code size.
    "paper": CRITNetConfig(channels=64, growth=64, preset="paper"),
    # The CPU preset: same topology, narrower (measured in the README / model card).
    "lite": CRITNetConfig(channels=16, growth=16, preset="lite"),
    # The real-time preset (issue 22): C = G = 8, one dense layer per RDB, the dense layers and
    # edge encoders depthwise-separable and D_fuse's first convolution 1×1; every module of the
    # paper kept (II, FE, MRL, two SIPRIAs, FRR). Chosen by measurement (onnxruntime time of each
    # candidate, validation scores of a short distilled run): docs/inference.md "The tiny model";
    # weights trained with distillation from steep (weights/tiny.md).
    "tiny": CRITNetConfig(channels=8, growth=8, n_dense=1, fuse_kernel=1, separable=True,
                          preset="tiny"),
}


def preset_config(name: str, **overrides: Any) -> CRITNetConfig:
    """The config of preset ``name`` with ``overrides`` applied (e.g. ``mit=False``)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    known = {f.name for f in fields(CRITNetConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown model options: {unknown}")
    return replace(PRESETS[name], **overrides)
