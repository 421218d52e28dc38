#!/usr/bin/env bash
# Trains members of the record ensemble (recipe `record`: simple-cnn with kernels 3, 5 and 7 in turn),
# one process per member, all at once: on a GPU one such process leaves the GPU mostly idle.
#
#   scripts/train_record_ensemble.sh FIRST_SEED COUNT [OUT_DIR] [-- extra digits-train flags]
#
# Member i (0 <= i < COUNT) trains with seed FIRST_SEED + i and kernel 3, 5 or 7 for i % 3 = 0, 1, 2,
# into OUT_DIR/record-kK-sSEED (default OUT_DIR: runs), its output in train.log there. Then:
#   python -m benchmarks.ensemble runs/record-k*/ --name ensemble_record
# PYTHON names the interpreter (default: python on PATH, e.g. .venv/bin/python after `make`).
set -euo pipefail
usage() { echo "usage: $0 FIRST_SEED COUNT [OUT_DIR] [-- digits-train flags]" >&2; exit 2; }
[[ ${1:-} =~ ^[0-9]+$ && ${2:-} =~ ^[1-9][0-9]*$ ]] || usage
first=$1; count=$2; shift 2
out=runs
if [[ $# -gt 0 && $1 != -- ]]; then out=$1; shift; fi
if [[ $# -gt 0 ]]; then [[ $1 == -- ]] || usage; shift; fi
kernels=(3 5 7)
runs=()
for ((i = 0; i < count; i++)); do
  seed=$((first + i)); run="$out/record-k${kernels[i % 3]}-s$seed"
  [[ -e $run ]] && { echo "$run already exists: choose other seeds or OUT_DIR" >&2; exit 2; }
  runs+=("$run")
done
pids=()
trap '[[ ${#pids[@]} -gt 0 ]] && kill "${pids[@]}" 2>/dev/null' INT TERM
for ((i = 0; i < count; i++)); do
  run=${runs[i]}; mkdir -p "$run"
  "${PYTHON:-python}" -m handwritten_digits train --recipe record --model-arg "kernel=${kernels[i % 3]}" \
    --seed $((first + i)) --threads 1 --out "$run" --no-report "$@" >"$run/train.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
