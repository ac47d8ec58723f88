"""Training configuration: YAML (with ``base:`` inheritance) turned into typed dataclasses.

A config file has the sections below; any key left out takes the default shown here (the
paper's setting, docs/design.md §3). ``base: other.yaml`` (relative to the file) loads that file
first and deep-merges this one over it (``model.overrides`` is replaced, not merged). Unknown
keys and values of the wrong type are :class:`ConfigError` s naming the file and the key.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import yaml

from critnet.errors import ConfigError
from critnet.model.config import CRITNetConfig, preset_config
from critnet.train.data.section import DataSection
from critnet.train.saliency import SaliencyWeights

SipriaGrad = Literal["through", "detached"]


@dataclass(frozen=True)
class ModelSection:
    """``preset`` (``paper`` / ``lite``) and extra :class:`CRITNetConfig` ``overrides``
    (e.g. ``{channels: 8, growth: 8}``). The ablation switches live in :class:`AblationSection`.
    ``init``: start from these weights (a bundled name such as ``lite`` or a ``.safetensors``
    path), every module loaded; they must be of this preset and overrides."""

    preset: str = "paper"
    overrides: dict[str, Any] = field(default_factory=dict)
    init: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.overrides, dict):
            raise ConfigError(f"model.overrides must be a mapping, got {self.overrides!r}")
        for switch in ("mit", "sipria"):
            if switch in self.overrides:
                raise ConfigError(f"model.overrides.{switch}: the ablation switches live in "
                                  f"ablation.{switch}")
        allowed = {f.name for f in fields(CRITNetConfig)} - {"mit", "sipria", "preset"}
        unknown = sorted(set(self.overrides) - allowed)
        if unknown:
            raise ConfigError(f"model.overrides: unknown keys {unknown}; known: {sorted(allowed)}")
        try:
            preset_config(self.preset, **self.overrides)
        except ValueError as error:
            raise ConfigError(f"model: {error}") from None


@dataclass(frozen=True)
class ScheduleSection:
    """MPTP schedule (docs/design.md §3).

    Attributes:
        epochs: total epochs (one epoch = one crop per training pair).
        phase_len: epochs per block; block ``b`` is phaseM for even ``b``, phaseS for odd.
        batch_size: crops per step (per process under torchrun).
        lr_mit_stage1: optimizer A (MIT + ``D_fuse0``, block 0; also the ``mptp: false`` joint
            optimizer and the ``sipria: false`` optimizer).
        lr_mit_stage2: optimizer B (MIT + ``D_fuse``, even blocks ≥ 2).
        lr_sipria_ir, lr_sipria_vis: optimizers C and D (phaseS).
        lr_milestones: fractions of a block after which each learning rate is multiplied by
            ``lr_gamma`` (cumulative; the rate restarts at its base value each block).
        betas: Adam betas.
        fuse_init: how ``D_fuse`` starts its first phaseM stage-2 block: ``fuse0`` (a copy of
            the trained ``D_fuse0``, zero weights on the SIPRIA features; see
            :meth:`CRITNet.init_fuse_from_fuse0`) or ``random`` (its initial random weights).
        m2_sipria_grad: in phaseM stage 2 the SIPRIAs' parameters are frozen either way; with
            ``through`` (the paper's text) ``ℓ_mit``'s gradient still flows through the SIPRIAs
            into MIT; with ``detached`` (the released code) the SIPRIAs read detached MIT
            features, so MIT gets gradient only through ``D_fuse``'s direct ``F_vis↔ir`` /
            ``F_ir↔vis`` inputs.
        start: ``scratch`` (MPTP from block 0's phaseM stage 1) or ``finetune`` (trained
            weights from ``model.init``: blocks M2, S, M2, every label from ``D_fuse``;
            ``fuse_init`` is not applied).
        target_steps: when set, ``epochs`` and ``phase_len`` are derived from the number of
            training pairs so that the run takes about this many steps of ``batch_size``
            (:func:`critnet.train.autoschedule.resolve_schedule`); ``None``: as written.
    """

    epochs: int = 1000
    phase_len: int = 200
    batch_size: int = 8
    lr_mit_stage1: float = 1e-3
    lr_mit_stage2: float = 1e-5
    lr_sipria_ir: float = 1e-3
    lr_sipria_vis: float = 1e-3
    lr_milestones: list[float] = field(default_factory=lambda: [0.5])
    lr_gamma: float = 0.1
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    fuse_init: Literal["fuse0", "random"] = "fuse0"
    m2_sipria_grad: SipriaGrad = "through"
    start: Literal["scratch", "finetune"] = "scratch"
    target_steps: int | None = None

    def __post_init__(self) -> None:
        if self.target_steps is not None and (isinstance(self.target_steps, bool)
                                              or not isinstance(self.target_steps, int)
                                              or self.target_steps < 1):
            raise ConfigError(f"config key schedule.target_steps must be a positive integer or "
                              f"null, got {self.target_steps!r}")


@dataclass(frozen=True)
class LossSection:
    """Loss weights (docs/design.md §2): ``λ_JG``, ``λ_edge`` (paper: 20), ``ℓ_inter`` weight
    (1) and the saliency weight option (``difference`` / ``ratio``; beyond the paper, the
    issue-23 study's ``steep`` with ``saliency_steepness``, ``local_contrast`` and
    ``salient_contrast``: :mod:`critnet.train.saliency`).

    Beyond the paper: ``distill_weight`` > 0 adds ``distill_weight · ‖I_f − I_teacher‖₁`` to
    ``ℓ_mit`` in every phaseM step (:func:`critnet.train.losses.distillation_loss`), where
    ``I_teacher`` is ``distill_teacher``'s fused image of the same crops (a bundled weights name
    or a ``.safetensors`` path; :mod:`critnet.train.distillation`)."""

    lambda_jg: float = 20.0
    lambda_edge: float = 20.0
    inter_weight: float = 1.0
    saliency_weights: SaliencyWeights = "difference"
    saliency_steepness: float = 8.0
    distill_weight: float = 0.0
    distill_teacher: str | None = None

    def __post_init__(self) -> None:
        if self.distill_weight < 0:
            raise ConfigError(f"loss.distill_weight must be >= 0, got {self.distill_weight}")
        if self.distill_weight > 0 and not self.distill_teacher:
            raise ConfigError("loss.distill_weight > 0 needs loss.distill_teacher (a bundled "
                              "weights name such as lite, or a .safetensors path)")


@dataclass(frozen=True)
class AblationSection:
    """Paper Table 1: ``mit: false`` drops MRL; ``sipria: false`` trains MIT + ``D_fuse0`` only
    (one phaseM over all epochs); ``mptp: false`` trains everything jointly on the sum of all
    losses (one phase over all epochs)."""

    mit: bool = True
    sipria: bool = True
    mptp: bool = True


Precision = Literal["fp32", "bf16"]
MemoryFormat = Literal["auto", "channels_last", "contiguous"]


@dataclass(frozen=True)
class RunSection:
    """How a run executes (none of these changes what is trained; docs/training.md).

    Attributes:
        seed: seeds the model's initialisation, the sampler and the crops.
        checkpoint_every: steps between checkpoints (also at every block end and the end).
        tensorboard: also write TensorBoard scalars.
        device: default device (``auto`` = CUDA when available).
        threads: CPU threads (``None`` = torch's default).
        log_every: steps between fetches of the loss terms from the device (one transfer for
            all of them); ``log.csv`` still gets one row per step, written in chunks. ``1``
            (default) reads them every step; on a GPU a larger value (e.g. 100) keeps the host
            from waiting for the device each step.
        precision: ``fp32`` or ``bf16`` (the forward pass and the losses' inputs under bf16
            autocast; the attention statistics, the fusion decoders and the losses stay fp32).
        memory_format: ``channels_last`` or ``contiguous`` (NCHW) for the model and its
            features; ``auto``: channels-last on CUDA, and on the CPU for networks of 32 or
            more channels (the ``paper`` preset), NCHW otherwise (``critnet.train.network``).
    """

    seed: int = 0
    checkpoint_every: int = 200
    tensorboard: bool = False
    device: str = "auto"
    threads: int | None = None
    log_every: int = 1
    precision: Precision = "fp32"
    memory_format: MemoryFormat = "auto"

    def __post_init__(self) -> None:
        for key in ("checkpoint_every", "log_every"):
            if getattr(self, key) < 1:
                raise ConfigError(f"config key run.{key} must be >= 1, got {getattr(self, key)}")
        if self.threads is not None and (isinstance(self.threads, bool)
                                         or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ConfigError(f"config key run.threads must be a positive integer or null, "
                              f"got {self.threads!r}")


@dataclass(frozen=True)
class TrainConfig:
    """A whole training run. ``name`` defaults to the config file's stem."""

    name: str = "train"
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    schedule: ScheduleSection = field(default_factory=ScheduleSection)
    loss: LossSection = field(default_factory=LossSection)
    ablation: AblationSection = field(default_factory=AblationSection)
    run: RunSection = field(default_factory=RunSection)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        return _build(cls, values, "")

    def model_overrides(self) -> dict[str, Any]:
        """Keyword overrides for :func:`critnet.model.build_model`, ablations included."""
        return {**self.model.overrides, "mit": self.ablation.mit, "sipria": self.ablation.sipria}


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    """``cls`` from a mapping, each value checked against its field's type (``where``: the
    section's dotted prefix, for messages)."""
    if not isinstance(values, dict):
        raise ConfigError(f"config section {where.rstrip('.') or '<top>'} must be a mapping, "
                          f"got {values!r}")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown config keys in {where.rstrip('.') or '<top>'}: {unknown}; "
                          f"known: {sorted(known)}")
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if is_dataclass(hint):
            kwargs[name] = _build(hint, value or {}, f"{where}{name}.")
        else:
            kwargs[name] = _checked(hint, value, f"{where}{name}")
    return cls(**kwargs)


def _checked(hint: Any, value: Any, key: str) -> Any:
    """``value`` if it fits ``hint`` (floats also from ints and strings such as ``1e-3``)."""
    if get_origin(hint) is Literal:
        if value not in get_args(hint):
            raise ConfigError(f"config key {key} must be one of "
                              f"{', '.join(map(repr, get_args(hint)))}, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"config key {key} must be a number, got {value!r}")
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"config key {key} must be a number, got {value!r}") from None
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"config key {key} must be an integer, got {value!r}")
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(f"config key {key} must be true or false, got {value!r}")
    if hint is str and not isinstance(value, str):
        raise ConfigError(f"config key {key} must be a string, got {value!r}")
    return value


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "overrides":
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"{path}: circular 'base:' inheritance")
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        with path.open() as handle:
            values = yaml.safe_load(handle) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(error).split())})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a config file must hold a mapping")
    base = values.pop("base", None)
    if base is None:
        return values
    if not isinstance(base, str):
        raise ConfigError(f"{path}: base must be a file name, got {base!r}")
    return _merge(_read_yaml(path.parent / base, (*seen, path)), values)


def load_config(path: str | os.PathLike) -> TrainConfig:
    """Read a YAML config (following ``base:``); ``name`` defaults to the file's stem.

    Raises:
        ConfigError: a missing, unreadable or circular file, an unknown key or a bad value;
            one line naming the file and the key.
    """
    path = Path(path)
    values = _read_yaml(path)
    values.setdefault("name", path.stem)
    try:
        return TrainConfig.from_dict(values)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
