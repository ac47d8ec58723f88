#!/usr/bin/env bash
# Issue 23: the objective study, one variant after another (never two trainings at once).
# Each run resumes from its checkpoint when killed; a finished run (weights.safetensors) is skipped.
#   nohup bash scripts/objective_study.sh > runs/objectives/study.log 2>&1 &
set -u
cd "$(dirname "$0")/.."
for v in ${VARIANTS:-difference steep local_contrast salient_contrast}; do
  out=runs/objectives/$v
  if [ -f "$out/weights.safetensors" ]; then echo "skip $v (done)"; continue; fi
  echo "== $v $(date -u +%H:%M:%S)"
  critnet train --config "configs/objectives/$v.yaml" --out "$out" || echo "!! $v failed rc=$?"
  echo "== $v done $(date -u +%H:%M:%S)"
done
