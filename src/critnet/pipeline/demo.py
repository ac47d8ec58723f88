"""A built-in example, generated in code: ``critnet demo`` needs no input files.

The scene shows what fusion is for. At night in fog a person stands beside a road; in the visible
image they are nearly invisible, while the visible image holds texture the thermal camera does
not see (foliage, brick courses, lane markings, window frames). In the infrared image the person
and a car's engine and tyres are hot and bright over a smooth thermal background.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy.ndimage import gaussian_filter

from critnet.io import to_uint, write_image
from critnet.io.atomic import atomic_path, ensure_writable
from critnet.pipeline.loading import describe_weights, load_model
from critnet.pipeline.single import fuse_arrays
from critnet.weights import default_weights_name

if TYPE_CHECKING:
    import torch

UNTRAINED_WARNING = ("WARNING: untrained weights: output is not meaningful (no bundled weights "
                     "exist yet; a randomly initialised 'lite' model was used; pass --weights "
                     "PATH for real results)")


@dataclass(frozen=True)
class DemoScene:
    """The built-in example pair.

    Attributes:
        ir: H×W infrared image, float32 in [0, 1].
        vis: H×W×3 RGB visible image, float32 in [0, 1].
        target: H×W mask in [0, 1] of the warm person (hidden in ``vis``, bright in ``ir``).
    """

    ir: np.ndarray
    vis: np.ndarray
    target: np.ndarray


def demo_scene(width: int = 320, height: int = 240, seed: int = 0) -> DemoScene:
    """Generate the example scene; equal arguments give identical images."""
    rng = np.random.default_rng(seed)
    h, w = height, width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    horizon = int(0.45 * h)
    road = _polygon_mask(w, h, [(0.30 * w, h), (0.47 * w, horizon), (0.53 * w, horizon),
                                (0.95 * w, h)])
    building = _polygon_mask(w, h, [(0.02 * w, 0.18 * h), (0.26 * w, 0.18 * h),
                                    (0.26 * w, horizon + 0.08 * h), (0.02 * w, horizon + 0.08 * h)])
    person = _person_mask(w, h, cx=0.21 * w, feet=0.86 * h, tall=0.36 * h)
    car, engine, tyres = _car_masks(w, h, x0=0.62 * w, y_bottom=0.80 * h, length=0.27 * w)
    ground = (yy >= horizon).astype(np.float32)

    # Visible: dark, foggy, textured.
    foliage = _smooth_noise(rng, h, w, 6) * 0.6 + _smooth_noise(rng, h, w, 2) * 0.4
    bricks = ((yy.astype(int) // 5) % 2 == 0) ^ (((xx.astype(int) + 6 * ((yy.astype(int) // 5) % 2))
                                                   // 12) % 2 == 0)
    windows = ((xx.astype(int) % 22 > 13) & (yy.astype(int) % 26 > 15)).astype(np.float32)
    depth = np.clip((yy - horizon) / (h - horizon), 0.0, 1.0)  # 0 at the horizon, 1 at the bottom
    centre = 0.50 * w + 0.125 * w * depth
    lanes = ((np.abs(xx - centre) < 0.6 + 2.5 * depth) & ((yy.astype(int) // 9) % 2 == 0))
    sky = np.stack([0.10 + 0.06 * yy / h, 0.11 + 0.07 * yy / h, 0.16 + 0.08 * yy / h], -1)
    grass = np.stack([0.05 + 0.12 * foliage, 0.10 + 0.22 * foliage, 0.05 + 0.08 * foliage], -1)
    vis = np.where(ground[..., None] > 0, grass, sky)
    asphalt = 0.12 + 0.03 * _smooth_noise(rng, h, w, 1)
    vis = _paint(vis, road, np.stack([asphalt, asphalt, asphalt * 1.05], -1))
    vis = _paint(vis, road * lanes.astype(np.float32), np.array([0.45, 0.42, 0.30]))
    wall = np.stack([0.26 + 0.08 * bricks, 0.15 + 0.05 * bricks, 0.11 + 0.04 * bricks], -1)
    vis = _paint(vis, building, wall)
    vis = _paint(vis, building * windows, np.array([0.55, 0.48, 0.25]))
    vis = _paint(vis, car, np.array([0.20, 0.07, 0.07]))
    vis = _paint(vis, person, 0.8 * grass)  # camouflaged against the foliage
    fog = 0.55 * (1.0 - yy / h) + 0.30
    vis = 0.75 * vis * (1.0 - 0.55 * fog[..., None]) + 0.16 * fog[..., None]
    vis = vis + rng.normal(0.0, 0.008, vis.shape)

    # Infrared: smooth thermal background, hot targets, no fine texture.
    ir = 0.20 + 0.10 * yy / h + 0.10 * ground * _smooth_noise(rng, h, w, 1)
    ir = _paint(ir, road, 0.42 + 0.05 * yy / h)
    ir = _paint(ir, building, 0.33 + 0.06 * _blurred(windows * building, 2))
    ir = _paint(ir, car, 0.48)
    ir = _paint(ir, engine, 0.78)
    ir = _paint(ir, tyres, 0.72)
    ir = _paint(ir, person, 0.93)
    ir = _blurred(ir, 1.2) + rng.normal(0.0, 0.003, ir.shape)
    return DemoScene(ir=np.clip(ir, 0, 1).astype(np.float32),
                     vis=np.clip(vis, 0, 1).astype(np.float32), target=person)


def demo_model(
    weights: str | os.PathLike | None = None, *, device: str | torch.device = "cpu",
    backend: str = "torch",
) -> tuple[Any, str, bool]:
    """The model the demo uses: ``weights`` if given, else the bundled default, else (nothing
    bundled yet) a randomly initialised ``lite`` model with a fixed seed. ``backend`` as
    :func:`critnet.load_model` (``critnet demo``: ``auto``, the shipped graph without torch).

    Returns:
        ``(model, description, trained)``; ``trained`` is ``False`` only for the random fallback.
    """
    if weights is not None or default_weights_name() is not None:
        return (load_model(weights, device=device, backend=backend), describe_weights(weights),
                True)
    import torch

    from critnet.model import build_model
    from critnet.pipeline.fusion import resolve_device

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model("lite").eval()
    model.to(resolve_device(device))
    return model, "randomly initialised 'lite' model (untrained)", False


@dataclass
class DemoResult:
    """Files written by :func:`run_demo` (all PNG)."""

    ir: Path
    vis: Path
    fused: Path
    panel: Path


def run_demo(
    out_dir: str | os.PathLike, model: Any, *, fused_label: str = "fused"
) -> DemoResult:
    """Fuse the built-in scene with ``model`` and write ``ir.png``, ``vis.png``, ``fused.png``
    and ``panel.png`` (IR | visible | fused side by side, labelled) into ``out_dir``.

    Args:
        out_dir: created if needed; files in it with these names are replaced (atomically).
        model: e.g. from :func:`demo_model` or :func:`critnet.load_model`.
        fused_label: caption of the fused image in the panel.

    Raises:
        OutputError: ``out_dir`` cannot be created or written (checked before fusing).
    """
    out_dir = ensure_writable(out_dir)
    scene = demo_scene()
    ir, vis = scene.ir, scene.vis
    fused = fuse_arrays(model, ir, vis)
    result = DemoResult(ir=out_dir / "ir.png", vis=out_dir / "vis.png",
                        fused=out_dir / "fused.png", panel=out_dir / "panel.png")
    write_image(result.ir, ir)
    write_image(result.vis, vis)
    write_image(result.fused, fused)
    panel = make_panel([ir, vis, fused], ["infrared", "visible", fused_label])
    with atomic_path(result.panel) as tmp:
        panel.save(tmp, format="PNG")
    return result


def make_panel(images: list[np.ndarray], labels: list[str], gap: int = 6) -> Image.Image:
    """Images of equal height side by side on a dark strip, each with its caption above.

    Args:
        images: H×W or H×W×3 float arrays in [0, 1], all of one height.
        labels: one caption per image.

    Returns:
        An RGB PIL image.
    """
    tiles = [Image.fromarray(to_uint(img)).convert("RGB") for img in images]
    font = ImageFont.load_default()
    top = 20
    width = sum(t.width for t in tiles) + gap * (len(tiles) + 1)
    height = max(t.height for t in tiles) + top + gap
    panel = Image.new("RGB", (width, height), (24, 24, 24))
    draw = ImageDraw.Draw(panel)
    x = gap
    for tile, label in zip(tiles, labels, strict=True):
        panel.paste(tile, (x, top))
        draw.text((x + 2, 4), label, fill=(235, 235, 235), font=font)
        x += tile.width + gap
    return panel


def _polygon_mask(w: int, h: int, points: list[tuple[float, float]]) -> np.ndarray:
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).polygon(points, fill=255)
    return np.asarray(mask, dtype=np.float32) / 255.0


def _person_mask(w: int, h: int, cx: float, feet: float, tall: float) -> np.ndarray:
    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    head = 0.13 * tall
    top = feet - tall
    draw.ellipse([cx - head / 2, top, cx + head / 2, top + head], fill=255)
    draw.rounded_rectangle([cx - 0.13 * tall, top + head, cx + 0.13 * tall, top + 0.58 * tall],
                           radius=3, fill=255)
    draw.rectangle([cx - 0.11 * tall, top + 0.55 * tall, cx - 0.02 * tall, feet], fill=255)
    draw.rectangle([cx + 0.02 * tall, top + 0.55 * tall, cx + 0.11 * tall, feet], fill=255)
    return np.asarray(mask, dtype=np.float32) / 255.0


def _car_masks(
    w: int, h: int, x0: float, y_bottom: float, length: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    body, engine, tyres = (Image.new("L", (w, h), 0) for _ in range(3))
    tall = 0.38 * length
    ImageDraw.Draw(body).rounded_rectangle(
        [x0, y_bottom - 0.6 * tall, x0 + length, y_bottom - 0.12 * tall], radius=4, fill=255)
    ImageDraw.Draw(body).rounded_rectangle(
        [x0 + 0.22 * length, y_bottom - tall, x0 + 0.75 * length, y_bottom - 0.55 * tall],
        radius=4, fill=255)
    ImageDraw.Draw(engine).rectangle(
        [x0 + 0.78 * length, y_bottom - 0.55 * tall, x0 + length, y_bottom - 0.2 * tall], fill=255)
    r = 0.13 * length
    for cx in (x0 + 0.2 * length, x0 + 0.8 * length):
        ImageDraw.Draw(tyres).ellipse([cx - r, y_bottom - 2 * r, cx + r, y_bottom], fill=255)
    to_array = [np.asarray(m, dtype=np.float32) / 255.0 for m in (body, engine, tyres)]
    return to_array[0] + to_array[2] * (1 - to_array[0]), to_array[1], to_array[2]


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Value noise in [0, 1] with features about ``cell`` pixels across (bicubic upsampling)."""
    coarse = rng.random((max(h // cell, 2), max(w // cell, 2))).astype(np.float32)
    image = Image.fromarray(coarse).resize((w, h), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(image), 0.0, 1.0)


def _blurred(image: np.ndarray, radius: float) -> np.ndarray:
    return gaussian_filter(image.astype(np.float32), radius, mode="nearest")


def _paint(canvas: np.ndarray, mask: np.ndarray, color: np.ndarray | float) -> np.ndarray:
    weight = mask[..., None] if canvas.ndim == 3 else mask
    return canvas * (1.0 - weight) + np.asarray(color, dtype=np.float32) * weight
