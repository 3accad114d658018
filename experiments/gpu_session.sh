#!/usr/bin/env bash
# One lease of the device tool's H100: the CUDA check and the derivative benchmark's three GPU bars, then every
# accuracy recipe at once on the same GPU (each capped at RECIPE_MIN minutes), results packed into $OUT. From the
# repo root:  bash experiments/gpu_session.sh   (OUT, TRAINER=gpu, RECIPE_MIN=4, BENCH_S=240, REPS=30 may be set;
# BENCH_S=0 skips the check and the benchmark, RECIPES=none the recipes)
set -u
OUT=${OUT:-/tmp/gpu_out}; TRAINER=${TRAINER:-gpu}; RECIPE_MIN=${RECIPE_MIN:-4}; BENCH_S=${BENCH_S:-240}; REPS=${REPS:-30}
DEVICE=${DEVICE:-cuda}; PRESET=${PRESET:-gpu-core}
mkdir -p "$OUT"
if [ -d .whl ]; then  # hydra-core, omegaconf, antlr4 as wheels: the device image has torch and lightning
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:$PWD || exit 1
fi
export PYTHONUNBUFFERED=1
[ -d .refcache ] && export PINNKIT_CACHE=$PWD/.refcache  # carried reference solutions: not recomputed there
python3 -c "import torch, lightning, hydra; print('torch', torch.__version__, 'lightning', lightning.__version__, \
'hydra', hydra.__version__, 'cuda', torch.cuda.is_available() and torch.cuda.get_device_name())"

if [ "$BENCH_S" -gt 0 ]; then
  echo "== every backend on CUDA against CPU (float64)"
  timeout 120 python3 experiments/check_cuda.py > "$OUT/check_cuda.txt" 2>&1; echo "check_cuda rc $?"; tail -4 "$OUT/check_cuda.txt"
  echo "== derivative benchmark ($PRESET), the GPU to itself"
  timeout "$BENCH_S" python3 experiments/bench_derivatives.py --device "$DEVICE" --preset "$PRESET" --reps "$REPS" \
    --backends plain autograd taylor+compile taylor+cudagraph taylor+step taylor+stepgraph --out "$OUT/bench" 2>&1 | tail -40
fi
[ "${RECIPES:-}" = none ] && { ls -laR "$OUT"; exit 0; }

echo "== accuracy recipes, all at once, $RECIPE_MIN min each"
recipes=${RECIPES:-$(ls pinnkit/conf/experiment/*.yaml | xargs -n1 basename | sed 's/\.yaml$//')}
mkdir -p "$OUT/runs"
for r in $recipes; do
  timeout $((RECIPE_MIN * 60 + 90)) python3 train.py experiment="$r" trainer="$TRAINER" logger=csv threads=1 seed=0 \
    trainer.max_time="$(printf '00:00:%02d:00' "$RECIPE_MIN")" trainer.enable_progress_bar=false \
    hydra.run.dir="$OUT/runs/$r/seed0" > "$OUT/runs/$r.log" 2>&1 &
done
wait
for r in $recipes; do echo "$r: $(grep -h 'val/l2_rel=' "$OUT/runs/$r.log" | tail -1) | $(tail -1 "$OUT/runs/$r.log" | cut -c1-150)"; done
tar --exclude='*.ckpt' -czf "$OUT/runs.tar.gz" -C "$OUT" runs && rm -rf "$OUT/runs"
ls -laR "$OUT"
