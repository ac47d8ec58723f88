#!/usr/bin/env bash
# One GPU training run in one command (docs/training.md, "GPU run"): install the carried wheels,
# then scripts/gpu_train.py (rate probe, schedule choice, training with checkpoints and a
# deadline, fusion and scores of RoadScene-50 and TNO-42, at most 8 files in the output folder).
#
#   bash scripts/gpu_train.sh [OUT] [gpu_train.py options...]     # OUT defaults to $OUT
#
# Run from the checkout's root with gpu_data/ and .whl/ in it (scripts/pack_gpu_data.py). If
# gpu_resume/ holds a previous run's returned files, that run is continued.
set -euo pipefail
started=$(date +%s.%N)
out=${1:-${OUT:?pass the output folder or set OUT}}
shift || true
python=${PYTHON:-python3}
src=$PWD/src
if ! "$python" -c "import kornia" 2>/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$src
else
    export PYTHONPATH=$src${PYTHONPATH:+:$PYTHONPATH}
fi
export CRITNET_DATA=${CRITNET_DATA:-$PWD/gpu_data}
export TQDM_MININTERVAL=${TQDM_MININTERVAL:-30}  # a progress line every 30 s, not every 0.1 s
resume=()
if [ -f gpu_resume/checkpoint.pt ]; then
    resume=(--resume-from gpu_resume)
fi
"$python" -c "import critnet, kornia, numpy, scipy, PIL, safetensors, click, tqdm, yaml, matplotlib"
exec "$python" scripts/gpu_train.py --out "$out" --started "$started" "${resume[@]}" "$@"
