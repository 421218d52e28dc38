#!/usr/bin/env bash
# Trains one run per seed, all at once, one process each: on a GPU one process leaves it mostly idle
# (the augmentation runs on the CPU), so several seeds of a recipe cost little more than one.
#
#   scripts/train_seeds.sh OUT_PREFIX SEED [SEED ...] -- digits-train flags
#
# Seed S trains into OUT_PREFIX-sS (its output in train.log there), on one thread, without a report.
# Stop 27's A/B, ten runs at once on a lent H200 (about 400 s):
#   scripts/train_seeds.sh runs/g/plain 20 21 22 23 24 -- --recipe best@2 --device cuda &
#   scripts/train_seeds.sh runs/g/flag 20 21 22 23 24 -- --recipe best@2 --flag 0.3 --device cuda &
#   wait
# then `python -m benchmarks.retrain_ab` compares the arms. PYTHON names the interpreter (default:
# python on PATH).
set -euo pipefail
usage() { echo "usage: $0 OUT_PREFIX SEED [SEED ...] -- digits-train flags" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
prefix=$1; shift
seeds=()
while [[ $# -gt 0 && $1 != -- ]]; do
  [[ $1 =~ ^(0|[1-9][0-9]*)$ ]] || usage
  [[ " ${seeds[*]} " == *" $1 "* ]] && { echo "seed $1 is given twice" >&2; exit 2; }
  seeds+=("$1"); shift
done
[[ ${#seeds[@]} -gt 0 && $# -gt 0 ]] || usage
shift
for seed in "${seeds[@]}"; do
  [[ -e $prefix-s$seed ]] && { echo "$prefix-s$seed already exists: choose other seeds or OUT_PREFIX" >&2; exit 2; }
done
pids=()
trap '[[ ${#pids[@]} -gt 0 ]] && kill "${pids[@]}" 2>/dev/null' INT TERM
for seed in "${seeds[@]}"; do
  run=$prefix-s$seed; mkdir -p "$run"
  "${PYTHON:-python}" -m handwritten_digits train "$@" --seed "$seed" --threads 1 --out "$run" --no-report \
    >"$run/train.log" 2>&1 &
  pids+=($!)
done
status=0
for i in "${!pids[@]}"; do
  run=$prefix-s${seeds[i]}
  wait "${pids[i]}" || { status=1; echo "$run failed: see $run/train.log" >&2; }
done
exit $status
