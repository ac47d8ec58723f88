"""Do the wiring tests bite? Apply single-line wiring mistakes one at a time and run the tests.

Usage: ``python benchmarks/mutation_check.py [--only SUBSTRING] [--tests FILE ...] [--list]``

Each entry of :data:`MUTATIONS` names a file under ``src/critnet``, an exact snippet of it, its
replacement and what the mistake means. The source and test trees are copied once to a temporary
folder (the working files are never touched); each mutation is written into the copy, the
mutation's test files run there (``pytest -x``, ``PYTHONPATH`` pointing at the copy), and the
original file is restored. A mutation is *killed* when the tests fail, *survived* when they
pass. The unmutated copy must pass first.

Exit status: 0 if every mutation was killed; 1 if any survived, any snippet is not found exactly
once, a test run errored (collection error, time-out), or the unmutated tests fail.

Another engineer refactoring the model only needs to retarget the ``file``/``original`` columns.
``--tests tests/test_golden.py`` measures what the golden-output test alone catches.
``--preset tiny`` (or ``lite``, ``paper``) runs the wiring tests on that shipped preset's
network shape alone, so each preset is shown to kill every mutant on its own (a mutant of an
option only one preset uses, e.g. tiny's separable edge encoders, is left out for the others).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ("tests/test_wiring_model.py", "tests/test_attention.py")
TRAIN = ("tests/test_wiring_train.py",)
LOSSES = ("tests/test_losses.py", "tests/test_saliency.py", "tests/test_wiring_train.py")
COLOUR = ("tests/test_wiring_colour.py",)
EXPORT = ("tests/test_export_form.py",)
TIMEOUT_S = 600


@dataclass(frozen=True)
class Mutation:
    """One wiring mistake: ``original`` (found exactly once in ``file``) becomes ``replacement``."""

    file: str  # relative to src/critnet
    original: str
    replacement: str
    description: str
    tests: tuple[str, ...]
    #: the shipped presets whose network has the mutated line (``None``: every preset); with
    #: ``--preset`` a mutation of another preset's option is left out as not applicable
    presets: tuple[str, ...] | None = None


M = Mutation
_EQ11 = "[f_vis_ir, s_ir.f_ed, s_ir.f_en, f_ir_vis, s_vis.f_ed, s_vis.f_en]"
MUTATIONS: tuple[Mutation, ...] = (
    # -- II, MRL (Eq. 2–3) and the attention ----------------------------------------------------
    M("model/blocks.py", "torch.cat([image, 1.0 - image], dim=1)",
      "torch.cat([1.0 - image, image], dim=1)", "II: inverted image first", MODEL),
    M("model/critnet.py", "self.encoder_ir(self._layout(image_inversion(ir)))",
      "self.encoder_ir(self._layout(image_inversion(vis)))", "E_ir reads the visible image",
      MODEL),
    M("model/attention.py", "self.vis_to_ir(f_ir, f_ir, f_vis, residual=f_ir,",
      "self.vis_to_ir(f_ir, f_ir, f_ir, residual=f_ir,", "MRL Eq. 2: V from F_ir, not F_vis",
      MODEL),
    M("model/attention.py", "self.vis_to_ir(f_ir, f_ir, f_vis, residual=f_ir,",
      "self.vis_to_ir(f_vis, f_ir, f_vis, residual=f_ir,", "MRL Eq. 2: Q from F_vis", MODEL),
    M("model/attention.py", "self.vis_to_ir(f_ir, f_ir, f_vis, residual=f_ir,",
      "self.vis_to_ir(f_ir, f_vis, f_vis, residual=f_ir,", "MRL Eq. 2: K from F_vis", MODEL),
    M("model/attention.py", "self.vis_to_ir(f_ir, f_ir, f_vis, residual=f_ir,",
      "self.vis_to_ir(f_ir, f_ir, f_vis, residual=f_vis,", "MRL Eq. 2: residual F_vis", MODEL),
    M("model/attention.py", "self.ir_to_vis(f_vis, f_vis, f_ir, residual=f_vis,",
      "self.ir_to_vis(f_vis, f_vis, f_vis, residual=f_vis,", "MRL Eq. 3: V from F_vis", MODEL),
    M("model/attention.py", "self.ir_to_vis(f_vis, f_vis, f_ir, residual=f_vis,",
      "self.ir_to_vis(f_vis, f_vis, f_ir, residual=f_ir,", "MRL Eq. 3: residual F_ir", MODEL),
    M("model/attention.py", "return f_vis_ir, f_ir_vis", "return f_ir_vis, f_vis_ir",
      "MRL outputs swapped (each SIPRIA gets the other modality)", MODEL),
    M("model/attention.py", "self.query(query_source), self.key(key_source)",
      "self.query(key_source), self.key(query_source)", "attention: Q and K sources swapped",
      MODEL),
    M("model/attention.py", "self.value(value_source))) + residual",
      "self.value(value_source))) + value_source", "attention: residual is V's source", MODEL),
    M("model/attention.py", "(positive / (q_norm.unsqueeze(-1) * k_norm.unsqueeze(-2)))",
      "(1.0 / (q_norm.unsqueeze(-1) * k_norm.unsqueeze(-2)))",
      "cosine attention ignores the temperature", MODEL),
    M("model/attention.py", "(positive / (q_norm.unsqueeze(-1) * k_norm.unsqueeze(-2)))",
      "(1.0 / positive / (q_norm.unsqueeze(-1) * k_norm.unsqueeze(-2)))",
      "cosine attention divides by the temperature", MODEL),
    M("model/attention.py", "(positive / (q_norm.unsqueeze(-1) * k_norm.unsqueeze(-2)))",
      "(positive / q_norm.unsqueeze(-1))", "K not L2-normalised along HW", MODEL),
    M("model/attention.py", "positive = temperature.float().clamp_min(MIN_TEMPERATURE)",
      "positive = temperature.float()", "temperature not kept positive", MODEL),
    M("model/attention.py", "return logits.softmax(dim=-1)", "return logits.softmax(dim=-2)",
      "softmax over the wrong axis", MODEL),
    # -- SIPRIA: groups, RIASSI (Eq. 4), SIP (Eq. 5–6), edges (Eq. 7–8), Eq. 9–10 --------------
    M("model/sipria.py", "return shuffled[:, :half], shuffled[:, half:]",
      "return shuffled[:, :half], shuffled[:, half - 1:-1]", "groups overlap by one channel",
      MODEL),
    M("model/sipria.py", "shuffled = features.index_select(1, self.permutation)",
      "shuffled = features", "no channel shuffle", MODEL),
    M("model/sipria.py", "rec_vis = self.rec1(grp1)", "rec_vis = self.rec1(grp2)",
      "Eq. 4: D1_rec reads F_grp2", MODEL),
    M("model/sipria.py", "rec_ir=rec_ir,", "rec_ir=rec_vis,",
      "Eq. 4: reconstruction targets swapped", MODEL),
    M("model/sipria.py", "self.grp2_from_grp1(grp2, grp1, grp1, residual=grp1,",
      "self.grp2_from_grp1(grp1, grp2, grp1, residual=grp1,", "SIP Eq. 5: Q and K swapped",
      MODEL),
    M("model/sipria.py", "self.grp2_from_grp1(grp2, grp1, grp1, residual=grp1,",
      "self.grp2_from_grp1(grp2, grp1, grp1, residual=grp2,", "SIP Eq. 5: residual F_grp2",
      MODEL),
    M("model/sipria.py", "self.grp1_from_grp2(grp1, grp2, grp2, residual=grp2,",
      "self.grp1_from_grp2(grp1, grp2, grp1, residual=grp2,", "SIP Eq. 6: V from F_grp1", MODEL),
    M("model/sipria.py", "ed_1from2 = self.edge_encoder2(en_1from2)",
      "ed_1from2 = self.edge_encoder1(en_1from2)", "Eq. 7: one edge encoder for both", MODEL),
    M("model/sipria.py", "edge_ir=self.edge_decoder1(ed_2from1),",
      "edge_ir=self.edge_decoder2(ed_2from1),", "Eq. 8: edge decoders crossed", MODEL),
    M("model/sipria.py", "torch.cat([ed_1from2, ed_2from1], dim=1)",
      "torch.cat([ed_2from1, ed_1from2], dim=1)", "Eq. 9: F_ed concatenation order", MODEL),
    M("model/sipria.py", "torch.cat([en_1from2, en_2from1], dim=1)",
      "torch.cat([en_2from1, en_1from2], dim=1)", "Eq. 10: F_en concatenation order", MODEL),
    # -- FRR (Eq. 11) and D_fuse0 -----------------------------------------------------------------
    M("model/critnet.py", _EQ11,
      "[f_vis_ir, s_ir.f_en, s_ir.f_ed, f_ir_vis, s_vis.f_ed, s_vis.f_en]",
      "Eq. 11: F_ed_ir and F_en_ir swapped (forward)", MODEL),
    M("model/critnet.py", "self.decoder_fuse0(torch.cat([f_vis_ir, f_ir_vis], dim=1))",
      "self.decoder_fuse0(torch.cat([f_ir_vis, f_vis_ir], dim=1))",
      "D_fuse0 input order (forward)", MODEL),
    M("model/critnet.py", "s_ir = self.sipria_ir(f_vis_ir) if run_sipria else None",
      "s_ir = self.sipria_ir(f_ir_vis) if run_sipria else None",
      "SIPRIA_ir reads F_ir↔vis", MODEL),
    # -- the real-time shape (preset tiny) --------------------------------------------------------
    M("model/blocks.py", "return self.pointwise(self.depthwise(x))", "return self.pointwise(x)",
      "separable convolution skips its depthwise 3×3", MODEL),
    M("model/blocks.py", "first = conv3x3(in_channels, channels) if kernel == 3 else "
      "conv1x1(in_channels, channels)", "first = conv3x3(in_channels, channels)",
      "fuse_kernel ignored (D_fuse first layer always 3×3)", MODEL),
    M("model/sipria.py", "self.edge_encoder2 = ConvTanh(half, edge_width, separable)",
      "self.edge_encoder2 = ConvTanh(half, edge_width)", "E2_ed not separable in tiny", MODEL,
      presets=("tiny",)),
    # -- the export forms (the default onnxruntime graph): same function as the model ----------
    M("pipeline/export_form.py", "mixed = w_out @ attn", "mixed = attn @ w_out",
      "folded attention: map and output projection in the wrong order", EXPORT),
    M("pipeline/export_form.py", "(m_1from2 + self.identity) @ self.select_grp2",
      "(m_1from2 + self.identity) @ self.select_grp1", "folded SIPRIA: en_1←2 reads F_grp1",
      EXPORT),
    M("pipeline/export_split.py",
      "pieces[0][:, :, 0, 0] += torch.eye(sizes[0], dtype=weight.dtype)", "pass",
      "split dense block loses its local residual", EXPORT),
    M("pipeline/export_form.py", "[f_vis_ir, f_ed_ir, f_en_ir, f_ir_vis, f_ed_vis, f_en_vis]",
      "[f_vis_ir, f_en_ir, f_ed_ir, f_ir_vis, f_ed_vis, f_en_vis]",
      "split D_fuse: Eq. 11 parts out of order", EXPORT),
    M("pipeline/export_form.py", "sipria.edge_encoder1.conv), [channels])",
      "sipria.edge_encoder2.conv), [channels])", "folded SIPRIA: one edge encoder for both",
      EXPORT),
    M("pipeline/export_affine.py", "torch.cat([eye, m_1], dim=2)",
      "torch.cat([m_1, eye], dim=2)", "affine form: F_vis↔ir's residual from F_vis", EXPORT),
    M("pipeline/export_affine.py", "+ self.w_ir_vis @ p_vis + self.w_en_vis @ e_vis)",
      "+ self.w_ir_vis @ p_vis + self.w_en_vis @ e_ir)",
      "affine form: D_fuse reads F_en_ir for F_en_vis", EXPORT),
    M("pipeline/export_affine.py",
      "self.sipria_ir.maps_from_gram(*moments_of(p_ir, c_ir, gram, sums, pixels), pixels)",
      "self.sipria_ir.maps_from_gram(*moments_of(p_vis, c_vis, gram, sums, pixels), pixels)",
      "affine form: SIPRIA_ir's maps from F_ir↔vis", EXPORT),
    # -- losses (Eq. 4, 8, 12–19) and saliency weights --------------------------------------------
    M("train/losses.py", "torch.where(grad_a.abs() >= grad_b.abs(), grad_a, grad_b)",
      "torch.where(grad_a.abs() >= grad_b.abs(), grad_a.abs(), grad_b.abs())",
      "Eq. 12: max-gradient loses its sign", LOSSES),
    M("train/losses.py", 'border_type="reflect", normalized=True', 'border_type="reflect", '
      'normalized=False', "Laplacian not divided by 16", LOSSES),
    M("train/losses.py", "(p * (log_p - F.log_softmax(image, dim=-1))).sum() / rows",
      "(F.softmax(image, dim=-1) * (F.log_softmax(image, dim=-1) - log_p)).sum() / rows",
      "Eq. 19: reversed KL direction", LOSSES),
    M("train/losses.py", "(p * (log_p - F.log_softmax(image, dim=-1))).sum() / rows",
      "(p * (log_p - F.log_softmax(image, dim=-1))).sum() / label.numel()",
      "Eq. 19: element-wise mean, not per-row sum", LOSSES),
    M("train/losses.py", "return _l1(rec_ir, ir) + _l1(rec_vis, vis)",
      "return _l1(rec_ir, vis) + _l1(rec_vis, ir)", "Eq. 4: reconstruction targets swapped",
      LOSSES),
    M("train/losses.py", "_l1(w_ir * ir + w_vis * vis, fused)",
      "_l1(w_ir * vis + w_vis * ir, fused)",
      "Eq. 13: weights on the wrong sources", LOSSES),
    M("train/saliency.py", "w_ir = 0.5 + 0.5 * (s_ir - s_vis)", "w_ir = 0.5 + 0.5 * (s_vis - s_ir)",
      "saliency weights reversed (difference)", LOSSES),
    M("train/saliency.py", "w_ir = s_ir / (s_ir + s_vis + eps)",
      "w_ir = s_vis / (s_ir + s_vis + eps)",
      "saliency weights reversed (ratio)", LOSSES),
    # -- training: objectives, optimizers, schedule -----------------------------------------------
    M("train/objectives.py", 'saliency_weights(batch["sal_ir"], batch["sal_vis"]',
      'saliency_weights(batch["sal_vis"], batch["sal_ir"]', "objectives: saliency maps swapped",
      TRAIN),
    M("train/objectives.py", 'fused = model.decode("fuse0", f_vis_ir, f_ir_vis)',
      'fused = model.decode("fuse0", f_ir_vis, f_vis_ir)',
      "phaseM1: D_fuse0 input order", TRAIN),
    M("train/objectives.py",
      "s_ir, s_vis = model.sipria_ir(f_vis_ir), model.sipria_vis(f_ir_vis)",
      "s_vis, s_ir = model.sipria_ir(f_vis_ir), model.sipria_vis(f_ir_vis)",
      "phaseM2: SIPRIA features of the two modalities swapped before D_fuse", TRAIN),
    M("train/objectives.py",
      "model.sipria_ir(f_vis_ir.detach()), model.sipria_vis(f_ir_vis.detach())",
      "model.sipria_ir(f_vis_ir), model.sipria_vis(f_ir_vis)",
      "phaseM2 m2_sipria_grad=detached lets the gradient through", ("tests/test_train_phases.py",)),
    M("train/objectives.py", 'if label_decoder == "fuse0":', "if True:",
      "phaseS ignores label_decoder (always D_fuse0)", TRAIN),
    M("train/objectives.py", 'total = terms_ir["sipria"] + terms_vis["sipria"] + '
      "loss.inter_weight * inter", 'total = terms_ir["sipria"] + terms_vis["sipria"] + inter',
      "phaseS: ℓ_inter weight ignored", TRAIN),
    M("train/objectives.py", "inter = interaction_loss(fused, s_ir.image, s_vis.image)",
      "inter = interaction_loss(fused, s_ir.image, s_ir.image)",
      "joint: ℓ_inter compares the IR SIPRIA twice", TRAIN),
    M("train/optimizers.py", "mit = list(model.mit_parameters())",
      "mit = [*model.encoder_ir.parameters(), *model.encoder_vis.parameters()]",
      "MRL in no optimizer", TRAIN),
    M("train/optimizers.py", '"B": adam(mit + list(model.decoder_fuse.parameters()), '
      's.lr_mit_stage2)', '"B": adam(mit, s.lr_mit_stage2)', "D_fuse in no optimizer", TRAIN),
    M("train/optimizers.py", '"C": adam(list(model.sipria_ir.parameters())',
      '"C": adam(list(model.sipria_vis.parameters())', "optimizer C owns SIPRIA_vis", TRAIN),
    M("train/trainer.py", 'group["lr"] = bases[name] * factor', 'group["lr"] = bases[name]',
      "LR decay not applied", TRAIN),
    M("train/schedule.py", '("S" if index % 2 else "M2")', '("M2" if index % 2 else "S")',
      "phase order: M2 before S", TRAIN),
    M("train/schedule.py", 'return "fuse0" if self.index == 1 and not self.finetune else "fuse"',
      'return "fuse0"',
      "phaseS label always from D_fuse0", TRAIN),
    M("train/schedule.py", "sum(done >= m for m in milestones)",
      "sum(done > m for m in milestones)", "LR decays one epoch late", TRAIN),
    # -- colour path ------------------------------------------------------------------------------
    M("pipeline/fusion.py", "ycc[:, :1] = fused",
      "ycc[:, :1] = fused; ycc[:, 1:] = ycc[:, [2, 1]].copy()", "colour: Cb and Cr swapped",
      COLOUR),
    M("pipeline/fusion.py", "vis_y = ycc[:, :1].copy() if ycc is not None else vis",
      "vis_y = ycc[:, 1:2].copy() if ycc is not None else vis", "colour: network fed Cb, not Y",
      COLOUR),
)


def pytest_run(copy: Path, tests: tuple[str, ...], preset: str | None = None) -> tuple[int, str]:
    """``pytest -x`` on ``tests`` in ``copy``; ``(return code, last line)`` (-1 on time-out).
    ``preset``: run the wiring tests on that preset's network shape only
    (``CRITNET_WIRING_PRESETS``, ``tests/wiring_helpers.py``)."""
    env = {**os.environ, "PYTHONPATH": str(copy / "src")}
    if preset is not None:
        env["CRITNET_WIRING_PRESETS"] = preset
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               "-m", "not slow", *tests]
    try:
        done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {TIMEOUT_S} s"
    lines = done.stdout.strip().splitlines()
    return done.returncode, lines[-1] if lines else done.stderr.strip()[-200:]


def copy_tree(target: Path) -> None:
    """``src/``, ``tests/``, ``configs/`` and ``pyproject.toml`` (pytest's settings) into
    ``target``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "src", target / "src", ignore=ignore)
    shutil.copytree(ROOT / "tests", target / "tests", ignore=ignore)
    shutil.copytree(ROOT / "configs", target / "configs", ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", target / "pyproject.toml")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="Run the mutations whose description "
                                                     "contains this (case-insensitive).")
    parser.add_argument("--tests", nargs="+", default=None,
                        help="Run these test files for every mutation instead of its own.")
    parser.add_argument("--list", action="store_true", help="List the mutations and exit.")
    parser.add_argument("--preset", choices=["lite", "tiny", "paper"], default=None,
                        help="Run the wiring tests on this preset's network shape only (default: "
                             "every shipped preset's; a mutant is killed when any fails).")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS
              if (args.only is None or args.only.lower() in m.description.lower())
              and (args.preset is None or m.presets is None or args.preset in m.presets)]
    if args.list:
        for m in chosen:
            print(f"{m.file}: {m.description}")
        return 0
    if not chosen:
        print(f"no mutation matches {args.only!r}", file=sys.stderr)
        return 1
    missing = []
    for m in chosen:
        count = (ROOT / "src/critnet" / m.file).read_text().count(m.original)
        if count != 1:
            missing.append(f"src/critnet/{m.file}: {m.original!r} found {count} times "
                           f"({m.description})")
    if missing:
        print("\n".join(missing), file=sys.stderr)
        return 1
    all_tests = tuple(sorted({t for m in chosen for t in (args.tests or m.tests)}))
    with tempfile.TemporaryDirectory(prefix="critnet-mutants-") as tmp:
        copy = Path(tmp)
        copy_tree(copy)
        code, summary = pytest_run(copy, all_tests, args.preset)
        if code != 0:
            print(f"the unmutated tests fail ({summary}); fix them first", file=sys.stderr)
            return 1
        survived, errored = [], []
        started = time.perf_counter()
        for index, m in enumerate(chosen, 1):
            path = copy / "src/critnet" / m.file
            original = path.read_text()
            path.write_text(original.replace(m.original, m.replacement))
            try:
                code, summary = pytest_run(copy, args.tests or m.tests, args.preset)
            finally:
                path.write_text(original)
            verdict = {0: "SURVIVED", 1: "killed"}.get(code, "ERROR")
            if verdict == "SURVIVED":
                survived.append(m)
            elif verdict == "ERROR":
                errored.append(m)
            print(f"[{index:2d}/{len(chosen)}] {verdict:8s} {m.file}: {m.description}"
                  f"  ({summary})", flush=True)
    killed = len(chosen) - len(survived) - len(errored)
    print(f"\n{killed}/{len(chosen)} mutations killed, {len(survived)} survived, "
          f"{len(errored)} errored ({time.perf_counter() - started:.0f} s)")
    for m in survived:
        print(f"  survived: {m.file}: {m.description}")
    for m in errored:
        print(f"  errored: {m.file}: {m.description}")
    return 0 if not survived and not errored else 1


if __name__ == "__main__":
    sys.exit(main())
