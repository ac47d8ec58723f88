"""Exact tiled inference: the whole-image fused result, computed tile by tile in bounded memory.

The network's only non-local operations are the channel attentions (MRL, and SIP in each
SIPRIA). Their C×C maps are functions of sums over pixels (:class:`AttentionStatistics`), and
everything else is convolutions of finite reach. So:

1. a pass over tiles accumulates MRL's sums (each tile computed with a halo of the encoders'
   receptive radius, summed over its core pixels only, so every pixel counts exactly once);
2. a second pass, with MRL's maps fixed, accumulates both SIPs' sums;
3. a last pass, with every map fixed, computes each output tile from a window of the full
   receptive radius and keeps its core.

Tiles are clipped at the image border (no halo beyond it), so the convolutions' zero padding is
the untiled network's; inside the image a halo of at least the receptive radius makes each core
pixel exact. The result equals the untiled forward up to float32 summation order.

The encoders run once per pass (recomputed, not cached): a float32 feature cache costs as much
memory as the untiled features themselves, and a lower-precision one breaks exactness.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import torch
from torch import Tensor, nn

from critnet.model.attention import AttentionStatistics
from critnet.model.blocks import image_inversion
from critnet.model.critnet import CRITNet, Decoder

Window = tuple[int, int, int, int]  # top, bottom, left, right (bottom/right exclusive)


def conv_radius(module: nn.Module) -> int:
    """How far (in pixels) an output of ``module`` sees its input: the sum of the radii of its
    convolutions. Exact for the network's local modules, whose convolutions all lie on one path
    (a dense block's layers each read all earlier ones; see ``tests/test_tiling.py``)."""
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
    """The ``core`` part of B×C×h×w ``features`` computed on ``window``."""
    top, left = core[0] - window[0], core[2] - window[2]
    return features[..., top:top + core[1] - core[0], left:left + core[3] - core[2]]


def _encode(model: CRITNet, ir: Tensor, vis: Tensor, window: Window) -> tuple[Tensor, Tensor]:
    """``(F_ir, F_vis)`` on ``window`` of the B×1×H×W images (II + FE, §3.2.1)."""
    top, bottom, left, right = window
    f_ir = model.encoder_ir(model._layout(image_inversion(ir[..., top:bottom, left:right])))
    f_vis = model.encoder_vis(model._layout(image_inversion(vis[..., top:bottom, left:right])))
    return f_ir, f_vis


def _sum_over_tiles(
    cores: list[Window], statistics: Callable[[Window], tuple[AttentionStatistics, ...]]
) -> tuple[AttentionStatistics, ...]:
    total = None
    for core in cores:
        stats = statistics(core)
        total = stats if total is None else tuple(a + b for a, b in zip(total, stats, strict=True))
    return total


def tiled_forward(
    model: CRITNet, ir: Tensor, vis: Tensor, tile: int, *, decoder: Decoder | None = None,
    raw: bool = False,
) -> Tensor:
    """``model(ir, vis, decoder=decoder)``, computed in ``tile``×``tile`` pieces.

    Peak memory is that of the untiled forward on a (tile + 2·halo)² image plus the inputs and
    output; the result equals the untiled one up to float32 summation order (max |Δ| ~1e-6).

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

    def encoded(core: Window) -> tuple[Tensor, Tensor]:
        window = with_halo(core, stats_halo, height, width)
        return tuple(crop(f, window, core) for f in _encode(model, ir, vis, window))

    mrl_maps = None
    if model.mrl is not None:
        stats = _sum_over_tiles(cores, lambda core: model.mrl.statistics(*encoded(core)))
        mrl_maps = model.mrl.maps(stats)

    def transferred(f_ir: Tensor, f_vis: Tensor) -> tuple[Tensor, Tensor]:
        return (f_ir, f_vis) if model.mrl is None else model.mrl(f_ir, f_vis, mrl_maps)

    sip_maps = None
    if decoder == "fuse":
        def sip_statistics(core: Window) -> tuple[AttentionStatistics, ...]:
            f_vis_ir, f_ir_vis = transferred(*encoded(core))
            return model.sipria_ir.statistics(f_vis_ir) + model.sipria_vis.statistics(f_ir_vis)

        stats = _sum_over_tiles(cores, sip_statistics)
        sip_maps = model.sipria_ir.maps(stats[:2]), model.sipria_vis.maps(stats[2:])

    fused = ir.new_empty(ir.shape)
    for core in cores:
        window = with_halo(core, out_halo, height, width)
        f_vis_ir, f_ir_vis = transferred(*_encode(model, ir, vis, window))
        s_ir = s_vis = None
        if decoder == "fuse":
            s_ir = model.sipria_ir(f_vis_ir, sip_maps[0])
            s_vis = model.sipria_vis(f_ir_vis, sip_maps[1])
        out = model.decode(decoder, f_vis_ir, f_ir_vis, s_ir, s_vis)
        top, bottom, left, right = core
        fused[..., top:bottom, left:right] = crop(out, window, core)
    return fused if raw else fused.clamp_(0.0, 1.0)



#: ``auto`` tiles when the untiled forward's estimated peak exceeds this share of free memory.
AUTO_SHARE = 0.5
#: ``auto`` sizes tiles so that one tile's forward needs about this much memory.
AUTO_TILE_BYTES = 512 * 2**20


def untiled_bytes_per_pixel(model: CRITNet) -> int:
    """Estimated peak memory of the untiled forward per pixel (float32 features alive at the
    decoder: about 9·C + 8·E channels, plus images), within ~10 % of measured peaks."""
    config = model.config
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
    tile: int | str | None, model: CRITNet, shape: tuple[int, ...],
    available: int | None = None,
) -> int | None:
    """The tile size to use for B×1×H×W inputs of ``shape``, or ``None`` for untiled.

    Args:
        tile: ``"auto"`` (tile only when the estimated untiled peak exceeds ``AUTO_SHARE`` of
            the available memory), ``"off"`` / ``None`` (never), or a size N >= 1 (also as a
            string, as the CLI gives it).
        available: bytes of free memory (default: :func:`available_bytes`).

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
            raise ValueError(f"tile must be 'auto', 'off' or a size >= 1, got {tile!r}")
        return size
    batch, height, width = shape[0], shape[-2], shape[-1]
    per_pixel = untiled_bytes_per_pixel(model) * batch
    free = available_bytes() if available is None else available
    if per_pixel * height * width <= AUTO_SHARE * free:
        return None
    _, halo = halos(model, model.default_decoder)
    return max(64, math.isqrt(AUTO_TILE_BYTES // per_pixel) - 2 * halo)
