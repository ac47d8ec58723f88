"""Exact tiled inference: the whole-image fused result, computed tile by tile in bounded memory.

The network's only non-local operations are the channel attentions (MRL, and SIP in each
SIPRIA). Their C×C maps are functions of sums over pixels (:class:`AttentionStatistics`), and
everything else is convolutions of finite reach. Every Q and K those sums read is an affine
function of the encoders' outputs ``z = (F_ir, F_vis, 1)`` once the maps before it are fixed
(1×1 projections, MRL's ``Conv1×1(A V) + F``, SIP's channel shuffle), so all of them follow
from the second moments ``M = Σ_p z zᵀ`` ((2C+1)², a few kB). Hence two passes:

1. over tiles, each computed with a halo of the encoders' receptive radius, accumulate ``M``
   over its core pixels only (every pixel counts exactly once), in float64; then MRL's maps
   and, from them, both SIPs' maps (:func:`attention_maps`);
2. with every map fixed, compute each output tile from a window of the full receptive radius
   and keep its core.

Tiles are clipped at the image border (no halo beyond it), so the convolutions' zero padding is
the untiled network's; inside the image a halo of at least the receptive radius makes each core
pixel exact. The result equals the untiled forward to float32 rounding: the untiled attention
sums are float32 over blocks of pixels added in float64 (``attention.SUM_BLOCK``), the tiled
ones float64, and both stay within 1e-6 of a float64 forward.

The encoders run in both passes (recomputed, not cached). Measured at 1024² (``lite``, one
thread, CPU time; docs/inference.md, "Tiled inference"): two passes cost 0.98× the untiled
forward with 512-px tiles and 0.71× with 256-px tiles (three passes did 1.44×); a float32
feature cache would cost 0.68× but 2C floats per pixel (2.1 GB ``lite``, 8.6 GB ``paper`` at
4096²) in RAM, or as much disk traffic per frame.
"""

from __future__ import annotations

import copy
import math
import os
from typing import TYPE_CHECKING

from critnet.model.config import CRITNetConfig

if TYPE_CHECKING:  # the tile arithmetic below imports without torch (the runtime install)
    from torch import Tensor, nn

    from critnet.model.attention import AttentionStatistics
    from critnet.model.critnet import CRITNet, Decoder

Window = tuple[int, int, int, int]  # top, bottom, left, right (bottom/right exclusive)


def conv_radius(module: nn.Module) -> int:
    """How far (in pixels) an output of ``module`` sees its input: the sum of the radii of its
    convolutions. Exact for the network's local modules, whose convolutions all lie on one path
    (a dense block's layers each read all earlier ones; see ``tests/test_tiling.py``)."""
    from torch import nn

    return sum(
        (conv.kernel_size[0] // 2) * conv.dilation[0]
        for conv in module.modules()
        if isinstance(conv, nn.Conv2d)
    )


def halos(model: CRITNet, decoder: Decoder) -> tuple[int, int]:
    """``(statistics halo, output halo)``: the receptive radius of the features the attention
    sums read (the encoders' output), and of the fused image."""
    encoder = max(conv_radius(model.encoder_ir), conv_radius(model.encoder_vis))
    if decoder == "fuse0":
        return encoder, encoder + conv_radius(model.decoder_fuse0)
    edge = max(conv_radius(m) for s in (model.sipria_ir, model.sipria_vis)
               for m in (s.edge_encoder1, s.edge_encoder2))
    return encoder, encoder + edge + conv_radius(model.decoder_fuse)


def tile_cores(height: int, width: int, tile: int) -> list[Window]:
    """The ``tile``×``tile`` cores (smaller at the bottom/right edges) that partition H×W."""
    if tile < 1:
        raise ValueError(f"tile must be >= 1, got {tile}")
    return [(top, min(top + tile, height), left, min(left + tile, width))
            for top in range(0, height, tile) for left in range(0, width, tile)]


def with_halo(core: Window, halo: int, height: int, width: int) -> Window:
    """``core`` grown by ``halo`` on each side, clipped to the image."""
    top, bottom, left, right = core
    return (max(top - halo, 0), min(bottom + halo, height),
            max(left - halo, 0), min(right + halo, width))


def crop(features: Tensor, window: Window, core: Window) -> Tensor:
    """The ``core`` part of B×C×h×w ``features`` (a tensor or a numpy array) computed on
    ``window``."""
    top, left = core[0] - window[0], core[2] - window[2]
    return features[..., top:top + core[1] - core[0], left:left + core[3] - core[2]]


def _encode(model: CRITNet, ir: Tensor, vis: Tensor, window: Window) -> tuple[Tensor, Tensor]:
    """``(F_ir, F_vis)`` on ``window`` of the B×1×H×W images (II + FE, §3.2.1)."""
    from critnet.model.blocks import image_inversion

    top, bottom, left, right = window
    f_ir = model.encoder_ir(model._layout(image_inversion(ir[..., top:bottom, left:right])))
    f_vis = model.encoder_vis(model._layout(image_inversion(vis[..., top:bottom, left:right])))
    return f_ir, f_vis


def feature_moments(f_ir: Tensor, f_vis: Tensor) -> Tensor:
    """``M = Σ_p z(p) z(p)ᵀ`` with ``z = (F_ir, F_vis, 1)`` over the pixels of B×C×h×w ``f_ir``
    and ``f_vis``: B×(2C+1)×(2C+1), float64 (so that the sum over tiles is exact to ~1e-12 in
    any order). Sums over disjoint pixel sets add."""
    import torch

    from critnet.model.attention import channel_matrix

    ones = f_ir.new_ones(f_ir.shape[0], 1, f_ir.shape[-2] * f_ir.shape[-1])
    z = torch.cat([channel_matrix(f_ir), channel_matrix(f_vis), ones], dim=1).double()
    return z @ z.transpose(1, 2)


def _affine(probed: Tensor) -> Tensor:
    """The responses to :func:`attention_maps`' probe (B×K×1×(2C+1)) → the B×K×(2C+1) matrix
    ``P`` with ``features = P z``: column j is the response to ``e_j`` less the one to 0."""
    import torch

    values = probed.flatten(2)
    return torch.cat([values[..., :-1] - values[..., -1:], values[..., -1:]], dim=-1)


def _statistics(projections: tuple[Tensor, Tensor], moments: Tensor,
                pixels: int) -> AttentionStatistics:
    """The sums of :class:`AttentionStatistics` for ``Q = P_q z``, ``K = P_k z``:
    ``Σ Q Kᵀ = P_q M P_kᵀ`` and ``Σ q_i² = (P_q M P_qᵀ)_ii``."""
    from critnet.model.attention import AttentionStatistics

    query, key = (_affine(p) for p in projections)
    return AttentionStatistics(products=query @ moments @ key.transpose(1, 2),
                               query_sq=((query @ moments) * query).sum(-1),
                               key_sq=((key @ moments) * key).sum(-1), pixels=pixels)


def _float64(module: nn.Module) -> nn.Module:
    """``module`` in float64: itself when it already is (a traced float64 model,
    :mod:`critnet.pipeline.tiled_onnx`), else a float64 copy."""
    import torch

    if all(p.dtype == torch.float64 for p in module.parameters()):
        return module
    return copy.deepcopy(module).double()


def attention_maps(
    model: CRITNet, moments: Tensor, pixels: int, decoder: Decoder
) -> tuple[tuple[Tensor, Tensor] | None, tuple[tuple[Tensor, Tensor], ...] | None]:
    """MRL's two maps and both SIPs' two maps of the whole image, from its feature moments.

    Every Q and K that an attention map reads is an affine function of ``z = (F_ir, F_vis, 1)``
    once the maps before it are fixed: 1×1 projections, MRL's ``Conv1×1(A V) + F`` and the
    channel shuffle are all affine. So ``Σ_p Q Kᵀ`` is ``P_q M P_kᵀ``, and one pass over the
    encoders' outputs gives every map. The affine maps ``P`` are read off by running float64
    copies of MRL and the SIPRIAs on a probe: a B×C×1×(2C+1) image pair whose pixel j is
    ``z = e_j`` and whose last pixel is ``z = 0``.

    Returns:
        ``(mrl_maps, sip_maps)`` as float32 B×C×C maps (``None`` where not needed):
        ``sip_maps`` is ``(maps of sipria_ir, maps of sipria_vis)``.
    """
    import torch

    batch, channels = moments.shape[0], model.config.channels
    probe = torch.eye(2 * channels, 2 * channels + 1, dtype=torch.float64, device=moments.device)
    probe = probe.expand(batch, -1, -1).unsqueeze(2)  # B×2C×1×(2C+1), pixel j = e_j, last 0
    f_ir, f_vis = probe[:, :channels], probe[:, channels:]
    mrl_maps = sip_maps = None
    if model.mrl is not None:
        mrl = _float64(model.mrl)
        mrl_maps = mrl.maps(tuple(_statistics(p, moments, pixels)
                                  for p in mrl.projections(f_ir, f_vis)))
        f_ir, f_vis = mrl(f_ir, f_vis, mrl_maps)  # the probe's F_vis↔ir, F_ir↔vis
        mrl_maps = tuple(m.float() for m in mrl_maps)
    if decoder == "fuse":
        sip_maps = []
        for sipria, features in ((model.sipria_ir, f_ir), (model.sipria_vis, f_vis)):
            sipria = _float64(sipria)
            maps = sipria.maps(tuple(_statistics(p, moments, pixels)
                                     for p in sipria.projections(features)))
            sip_maps.append(tuple(m.float() for m in maps))
        sip_maps = tuple(sip_maps)
    return mrl_maps, sip_maps


def tiled_forward(
    model: CRITNet, ir: Tensor, vis: Tensor, tile: int, *, decoder: Decoder | None = None,
    raw: bool = False,
) -> Tensor:
    """``model(ir, vis, decoder=decoder)``, computed in ``tile``×``tile`` pieces.

    Peak memory is that of the untiled forward on a (tile + 2·halo)² image plus the inputs and
    output; the result equals the untiled one to float32 rounding (max |Δ| ≤ 1e-5).

    Args:
        model: a :class:`CRITNet` (any preset or ablation).
        ir, vis: B×1×H×W float images in [0, 1].
        tile: core size in pixels (any size >= 1; smaller tiles recompute more halo).
        decoder: as in :meth:`CRITNet.forward`.
        raw: return the decoder output unclamped (as ``forward(aux=True).fused``).

    Returns:
        B×1×H×W fused image in [0, 1] (in (-1, 1) when ``raw``).
    """
    if ir.shape != vis.shape or ir.dim() != 4 or ir.shape[1] != 1:
        raise ValueError(f"ir and vis must both be B×1×H×W of equal shape, got "
                         f"{tuple(ir.shape)} and {tuple(vis.shape)}")
    decoder = decoder or model.default_decoder
    if decoder == "fuse" and not model.config.sipria:
        raise ValueError("decoder 'fuse' needs SIPRIA (config.sipria is False)")
    import torch

    with torch.no_grad():
        return _tiled(model, ir, vis, tile, decoder, raw)


def _tiled(model: CRITNet, ir: Tensor, vis: Tensor, tile: int, decoder: Decoder,
           raw: bool) -> Tensor:
    height, width = ir.shape[-2:]
    cores = tile_cores(height, width, tile)
    if len(cores) == 1:  # one tile is the whole image: no passes needed
        return model(ir, vis, decoder=decoder, aux=True).fused if raw else model(ir, vis,
                                                                                 decoder=decoder)
    stats_halo, out_halo = halos(model, decoder)
    mrl_maps = sip_maps = None
    if model.mrl is not None or decoder == "fuse":  # pass 1: the feature moments
        moments = 0
        for core in cores:
            window = with_halo(core, stats_halo, height, width)
            f_ir, f_vis = (crop(f, window, core) for f in _encode(model, ir, vis, window))
            moments = moments + feature_moments(f_ir, f_vis)
        mrl_maps, sip_maps = attention_maps(model, moments, height * width, decoder)

    fused = ir.new_empty(ir.shape)
    for core in cores:  # pass 2: the output
        window = with_halo(core, out_halo, height, width)
        f_ir, f_vis = _encode(model, ir, vis, window)
        if model.mrl is not None:
            f_ir, f_vis = model.mrl(f_ir, f_vis, mrl_maps)  # F_vis↔ir, F_ir↔vis
        s_ir = s_vis = None
        if decoder == "fuse":
            s_ir = model.sipria_ir(f_ir, sip_maps[0])
            s_vis = model.sipria_vis(f_vis, sip_maps[1])
        out = model.decode(decoder, f_ir, f_vis, s_ir, s_vis)
        top, bottom, left, right = core
        fused[..., top:bottom, left:right] = crop(out, window, core)
    return fused if raw else fused.clamp_(0.0, 1.0)


#: ``auto`` tiles when the untiled forward's estimated peak exceeds this share of free memory.
AUTO_SHARE = 0.5
#: ``auto``'s tile core, in pixels: smaller tiles keep their features in cache, which matters
#: more than the halos they recompute. At 1024² (``lite``, one thread, CPU time) 256-px tiles
#: cost 0.71× the untiled forward and 512-px tiles 0.98× (docs/inference.md, "Tiled inference").
AUTO_TILE = 256
#: The smallest tile a user may ask for (and ``auto``'s smallest): every tile recomputes a halo
#: of the 7-px receptive radius on each side, so a 64-px tile computes 78² pixels (1.5× its own)
#: while an 8-px tile computes 22² (7.6×), plus a fixed cost per tile: tiny tiles only make a
#: fusion minutes slower (``--tile 8``: 191 s for a 240-px pair fused whole in 3 s).
MIN_TILE = 64
#: ... and no larger than one tile's forward needing this much memory, or a quarter of the free
#: memory if that is less (``lite`` 4096² stays under 2 GB, ``paper`` under 4 GB).
AUTO_TILE_BYTES = 512 * 2**20


def untiled_bytes_per_pixel(model: CRITNet | CRITNetConfig) -> int:
    """Estimated peak memory of the untiled forward per pixel (float32 features alive at the
    decoder: about 9·C + 8·E channels, plus images), within ~10 % of measured peaks."""
    config = model if isinstance(model, CRITNetConfig) else model.config
    return 4 * (9 * config.channels + 8 * config.edge_channels + 16)


def available_bytes() -> int:
    """Memory the OS could give this process now (``MemAvailable``; free pages elsewhere)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def resolve_tile(
    tile: int | str | None, model: CRITNet | None, shape: tuple[int, ...],
    available: int | None = None, *, halo: int | None = None,
) -> int | None:
    """The tile size to use for B×1×H×W inputs of ``shape``, or ``None`` for untiled.

    Args:
        tile: ``"auto"`` (tile only when the estimated untiled peak exceeds ``AUTO_SHARE`` of
            the available memory, in ``AUTO_TILE`` tiles, smaller where one tile would need
            more than ``AUTO_TILE_BYTES`` or a quarter of the available memory), ``"off"`` /
            ``None`` (never), or a size N >= :data:`MIN_TILE` (also as a string, as the CLI
            gives it). :func:`tiled_forward` itself takes any size.
        available: bytes of free memory (default: :func:`available_bytes`).
        halo: the output halo when ``model`` is not a torch network (a shipped graph's
            metadata, :mod:`critnet.pipeline.runtime`); ``None``: from ``model``'s modules.

    Raises:
        ValueError: anything else, naming the value.
    """
    if tile is None or tile == "off":
        return None
    if tile != "auto":
        try:
            size = int(tile)
        except (TypeError, ValueError):
            size = 0
        if size < 1 or isinstance(tile, float):
            raise ValueError(f"tile must be 'auto', 'off' or a size >= {MIN_TILE}, got {tile!r}")
        if size < MIN_TILE:
            raise ValueError(f"tile {size}: tiles under {MIN_TILE} px only make fusion slower "
                             f"(each recomputes a 7-px border on every side); use a tile of "
                             f"{MIN_TILE} or more, or auto")
        return size
    batch, height, width = shape[0], shape[-2], shape[-1]
    per_pixel = untiled_bytes_per_pixel(model) * batch
    free = available_bytes() if available is None else available
    if per_pixel * height * width <= AUTO_SHARE * free:
        return None
    if halo is None:
        _, halo = halos(model, model.default_decoder)
    budget = min(AUTO_TILE_BYTES, free // 4)
    return max(MIN_TILE, min(AUTO_TILE, math.isqrt(budget // per_pixel) - 2 * halo))
