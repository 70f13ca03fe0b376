#!/bin/bash
# benchmarks/scaled.py's race on one CUDA GPU, every size under one deadline (a lent machine's minutes are few):
# the cars are traced on the GPU, then each size (in the order given) runs stage 2 against RGB Tri-Planes with
# what is left of SECONDS. Each size prints its own tables; runs already finished are reused.
#
#   bash benchmarks/scaled_gpu.sh OUT STAGE1_RUN SECONDS [SIZES...]      (default sizes: 16 256 64)
#
# STAGE_EPOCHS, RGB_EPOCHS and RUN_FLAGS (flags of every stage-2 and RGB run; default --scenes-per-batch 16, a
# GPU's batch), SYNTH_DEVICE (default cuda) and SYNTH_WORKERS (default 8) override the defaults; python3 must import latent_atlas.
set -u
out=$1 stage1=$2 seconds=$3
shift 3
sizes=${*:-16 256 64}
end=$((SECONDS + seconds))
largest=$(printf '%s\n' $sizes | sort -n | tail -1)
mkdir -p "$out"
[ -f "$out/cars_${largest}_128px/dataset_map.json" ] || python3 -m latent_atlas.cli.main data synth --family cars --num-scenes "$largest" --output "$out/cars_${largest}_128px" --resolution 128 \
    --num-train 20 --num-val 2 --num-test 5 --seed 100 --resume --device "${SYNTH_DEVICE:-cuda}" \
    --workers "${SYNTH_WORKERS:-8}" || exit 1  # many small kernels per car: 8 processes launch side by side
echo "$largest cars ready after $SECONDS s"
for n in $sizes; do  # scaled.py reads cars_<largest size>_128px: each smaller size is the first scenes of the same family
    [ "$n" = "$largest" ] || ln -sfn "cars_${largest}_128px" "$out/cars_${n}_128px"
done
for n in $sizes; do
    left=$((end - SECONDS))
    [ "$left" -gt 30 ] || { echo "size $n: no time left"; continue; }
    # shellcheck disable=SC2086  # the epoch lists are word lists
    timeout "$left" python3 benchmarks/scaled.py --ae latlas-f4c16-slim-igae --skip-igae --resolution 128 --stage1-run "$stage1" \
        --micro-macro 4 12 --sizes "$n" --stage-epochs ${STAGE_EPOCHS:-4+2/16@256 8+4/16@256} --rgb-epochs ${RGB_EPOCHS:-4 8 12 16} \
        --run-flags "${RUN_FLAGS:---scenes-per-batch 16}" --output-dir "$out" || echo "size $n: stopped at the deadline or failed"
done
