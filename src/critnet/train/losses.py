"""C-RITNet losses (docs/design.md §2; paper Eq. 4, 8, 12–19). One function per term of the paper.

Conventions: images are B×1×H×W float tensors. Sources ``ir``, ``vis`` are in [0, 1]; network
outputs are unclamped tanh outputs in (-1, 1). ``‖·‖₁`` is the **mean** absolute error over all
pixels (and the batch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.filters import laplacian as _kornia_laplacian
from torch import Tensor

from critnet.model import SipriaOutputs


def gradient(image: Tensor) -> Tensor:
    """``∇``: the signed 3×3 Laplacian of the paper (Eq. 8, 12, 16), reflect border.

    This is ``kornia.filters.laplacian(image, kernel_size=3)`` with kornia's default
    ``normalized=True``: the kernel ``[[1, 1, 1], [1, -8, 1], [1, 1, 1]]`` divided by the sum of
    its absolute values (16), as the released code calls it. So on [0, 1] images ``∇`` lies in
    [-0.5, 0.5]; the weights ``λ_JG = λ_edge = 20`` are tuned for this scale.

    Args:
        image: B×C×H×W.

    Returns:
        B×C×H×W, signed.
    """
    return _kornia_laplacian(image, kernel_size=3, border_type="reflect", normalized=True)


def max_gradient(grad_a: Tensor, grad_b: Tensor) -> Tensor:
    """``O(max(|a|, |b|))`` (Eq. 12): per pixel the gradient of larger magnitude, sign kept.

    Ties take ``a``. Shapes: any two tensors of one shape.
    """
    return torch.where(grad_a.abs() >= grad_b.abs(), grad_a, grad_b)


def _l1(a: Tensor, b: Tensor) -> Tensor:
    return (a - b).abs().mean()


def intensity_loss(fused: Tensor, ir: Tensor, vis: Tensor, w_ir: Tensor, w_vis: Tensor) -> Tensor:
    """``ℓ_int = ‖(ω_ir⊙I_ir + ω_vis⊙I_vis) − I_fused‖₁`` (Eq. 13; also ``ℓ_content^en``, Eq. 15).

    Args:
        fused: B×1×H×W, the image judged (``I_fused`` or ``Î_sipria``).
        ir, vis: B×1×H×W sources in [0, 1].
        w_ir, w_vis: B×1×H×W saliency weight maps (:func:`critnet.train.saliency.saliency_weights`).

    Returns:
        Scalar.
    """
    return _l1(w_ir * ir + w_vis * vis, fused)


def joint_gradient_loss(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """``ℓ_JGrad = ‖O(max(|∇I_ir|, |∇I_vis|)) − ∇I_fused‖₁`` (Eq. 12; also ``ℓ_edge^en``, Eq. 16).

    Args:
        fused: B×1×H×W, the image judged. ir, vis: B×1×H×W sources in [0, 1].

    Returns:
        Scalar; zero when ``fused`` equals, pixel by pixel, the source of larger gradient.
    """
    return _l1(max_gradient(gradient(ir), gradient(vis)), gradient(fused))


def reconstruction_loss(rec_ir: Tensor, rec_vis: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """``ℓ_rec = ‖Î_grp1 − I_ir‖₁ + ‖Î_grp2 − I_vis‖₁`` (Eq. 4, RIASSI).

    Args:
        rec_ir: ``Î_grp1`` (from ``F_grp2``), rec_vis: ``Î_grp2`` (from ``F_grp1``), B×1×H×W.
        ir, vis: B×1×H×W sources in [0, 1].
    """
    return _l1(rec_ir, ir) + _l1(rec_vis, vis)


def edge_gradient_loss(edge_ir: Tensor, edge_vis: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """``ℓ_grad = ‖∇Î1_ed − ∇I_ir‖₁ + ‖∇Î2_ed − ∇I_vis‖₁`` (Eq. 8).

    As the paper and docs/design.md §1 write it, ``∇`` is applied to the edge decoders' outputs too.

    Args:
        edge_ir: ``Î1_ed``, edge_vis: ``Î2_ed``, B×1×H×W. ir, vis: sources in [0, 1].
    """
    return _l1(gradient(edge_ir), gradient(ir)) + _l1(gradient(edge_vis), gradient(vis))


def enhancement_loss(
    image: Tensor, ir: Tensor, vis: Tensor, w_ir: Tensor, w_vis: Tensor, lambda_edge: float
) -> dict[str, Tensor]:
    """``ℓ_en = ℓ_content^en + λ_edge·ℓ_edge^en`` (Eq. 15–17) for one SIPRIA output ``Î_sipria``.

    Returns:
        ``{"en_content": ℓ_content^en, "en_edge": ℓ_edge^en, "en": ℓ_en}`` (scalars).
    """
    content = intensity_loss(image, ir, vis, w_ir, w_vis)
    edge = joint_gradient_loss(image, ir, vis)
    return {"en_content": content, "en_edge": edge, "en": content + lambda_edge * edge}


def interaction_loss(label: Tensor, sipria_ir: Tensor, sipria_vis: Tensor) -> Tensor:
    """``ℓ_inter = KL(I_fused ‖ Î_ir^sipria) + KL(I_fused ‖ Î_vis^sipria)`` (Eq. 19).

    Each image becomes a distribution by a softmax over each row (as the released code); the KL
    divergence is summed over a row and averaged over rows and batch (the released code's
    element-wise mean is W times smaller). ``label`` is detached here: it is a label from the
    frozen MIT path.

    Args:
        label: ``I_fused``, B×1×H×W. sipria_ir, sipria_vis: ``Î^sipria`` of the two SIPRIAs.

    Returns:
        Scalar ≥ 0; zero when both SIPRIA images equal the label.
    """
    log_p = F.log_softmax(label.detach(), dim=-1)
    p = log_p.exp()
    rows = label.numel() // label.shape[-1]

    def kl(image: Tensor) -> Tensor:
        return (p * (log_p - F.log_softmax(image, dim=-1))).sum() / rows

    return kl(sipria_ir) + kl(sipria_vis)


def mit_loss(
    fused: Tensor, ir: Tensor, vis: Tensor, w_ir: Tensor, w_vis: Tensor, lambda_jg: float
) -> dict[str, Tensor]:
    """``ℓ_mit = ℓ_int + λ_JG·ℓ_JGrad`` (Eq. 14), the phaseM objective.

    Returns:
        ``{"int": ℓ_int, "jgrad": ℓ_JGrad, "mit": ℓ_mit}`` (scalars).
    """
    intensity = intensity_loss(fused, ir, vis, w_ir, w_vis)
    joint = joint_gradient_loss(fused, ir, vis)
    return {"int": intensity, "jgrad": joint, "mit": intensity + lambda_jg * joint}


def distillation_loss(fused: Tensor, teacher: Tensor) -> Tensor:
    """``‖I_f − I_teacher‖₁``: the student's fused image towards a trained teacher's fused image
    of the same input (beyond the paper; ``loss.distill_weight``)."""
    return _l1(fused, teacher)


def sipria_loss(
    outputs: SipriaOutputs, ir: Tensor, vis: Tensor, w_ir: Tensor, w_vis: Tensor,
    lambda_edge: float,
) -> dict[str, Tensor]:
    """``ℓ_sipria = ℓ_rec + ℓ_grad + ℓ_en`` (Eq. 18) for one SIPRIA.

    Returns:
        ``{"rec", "grad", "en_content", "en_edge", "en", "sipria"}`` (scalars).
    """
    terms = {
        "rec": reconstruction_loss(outputs.rec_ir, outputs.rec_vis, ir, vis),
        "grad": edge_gradient_loss(outputs.edge_ir, outputs.edge_vis, ir, vis),
        **enhancement_loss(outputs.image, ir, vis, w_ir, w_vis, lambda_edge),
    }
    terms["sipria"] = terms["rec"] + terms["grad"] + terms["en"]
    return terms
