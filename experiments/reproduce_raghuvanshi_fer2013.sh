#!/usr/bin/env bash
# Reproduction spec: Raghuvanshi & Choksi (2016) five-layer and deeper CNNs on FER-2013,
# official protocol (train on Training, early-stop on PublicTest, test once on PrivateTest).
# Published test accuracy: five_layer_cnn 0.39, deeper_cnn 0.48 (10 epochs each, tuned).
# Usage: experiments/reproduce_raghuvanshi_fer2013.sh FER2013_PATH [EPOCHS_FIVE] [EPOCHS_DEEPER] [--set k=v ...]
# Extra arguments go to both runs, e.g. `--set test_blur_sigma=3.5` for a copy whose training
# images are blurrier than its test images (`ferbench datasets describe` measures that).
set -euo pipefail
data=${1:?path to FER-2013}
epochs_five=${2:-10}
epochs_deeper=${3:-10}
shift $(( $# < 3 ? $# : 3 ))
extra=("$@")
out=${OUT:-experiments/results/repro_raghuvanshi_fer2013.txt}
mkdir -p "$(dirname "$out")"
for spec in "five_layer_cnn $epochs_five" "deeper_cnn $epochs_deeper"; do
  set -- $spec  # family epochs
  start=$(date +%s)
  result=$(ferbench run "$1" --dataset fer2013 --path "$data" --protocol official --epochs "$2" --seed 0 --json "${extra[@]}")
  end=$(date +%s)
  echo "$1 epochs=$2 ${extra[*]} wall_s=$((end - start)) $result" | tee -a "$out"
done
