#!/usr/bin/env bash
# Trains members of the record ensemble (recipe `record`: simple-cnn with kernels 3, 5 and 7 in turn),
# one process per member, all at once: on a GPU one such process leaves the GPU mostly idle.
#
#   scripts/train_record_ensemble.sh FIRST_SEED COUNT [OUT_DIR] [-- extra digits-train flags]
#
# Member i (0 <= i < COUNT) trains with seed FIRST_SEED + i and kernel 3, 5 or 7 for i % 3 = 0, 1, 2,
# into OUT_DIR/record-kK-sSEED (default OUT_DIR: runs), its output in the .log beside it.
# Then: python -m benchmarks.ensemble runs/record-k* --name ensemble_record
set -euo pipefail
first=${1:?FIRST_SEED}; count=${2:?COUNT}; out=${3:-runs}
shift $(( $# < 3 ? $# : 3 )); [ "${1:-}" = "--" ] && shift
mkdir -p "$out"
kernels=(3 5 7)
for ((i = 0; i < count; i++)); do
  seed=$((first + i)); k=${kernels[i % 3]}; run="$out/record-k$k-s$seed"
  python -m handwritten_digits train --recipe record --model-arg "kernel=$k" --seed "$seed" --threads 1 \
    --out "$run" --no-report "$@" >"$run.log" 2>&1 &
done
status=0
for pid in $(jobs -p); do wait "$pid" || status=1; done
exit $status
