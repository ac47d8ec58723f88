#!/usr/bin/env bash
# Issue 23: the chosen variant (steep) continued with MPTP (configs/objectives/steep_mptp.yaml), then its second short-schedule
# seed; one training at a time, each resumable (re-run this script after a kill: --resume).
#   nohup bash scripts/objective_finalist.sh > runs/objectives/finalist.log 2>&1 &
set -u
cd "$(dirname "$0")/.."
for run in ${RUNS:-steep_mptp steep_seed1}; do
  out=runs/objectives/$run
  if [ -f "$out/DONE" ]; then echo "skip $run (done)"; continue; fi
  echo "== $run $(date -u +%H:%M:%S)"
  resume=(); [ -f "$out/checkpoint.pt" ] && resume=(--resume)
  if critnet train --config "configs/objectives/$run.yaml" --out "$out" "${resume[@]}"; then
    date -u > "$out/DONE"
  else
    echo "!! $run failed rc=$?"
  fi
  echo "== $run done $(date -u +%H:%M:%S)"
done
