#!/usr/bin/env bash
# Reproduction spec: Raghuvanshi & Choksi (2016) five-layer and deeper CNNs on FER-2013,
# official protocol (train on Training, early-stop on PublicTest, test once on PrivateTest).
# Published test accuracy: five_layer_cnn 0.39, deeper_cnn 0.48 (10 epochs each, tuned).
# Usage: experiments/reproduce_raghuvanshi_fer2013.sh FER2013_PATH [EPOCHS_FIVE] [EPOCHS_DEEPER]
set -euo pipefail
data=${1:?path to FER-2013}
epochs_five=${2:-10}
epochs_deeper=${3:-10}
out=${OUT:-experiments/results/repro_raghuvanshi_fer2013.txt}
mkdir -p "$(dirname "$out")"
for spec in "five_layer_cnn $epochs_five" "deeper_cnn $epochs_deeper"; do
  set -- $spec
  start=$(date +%s)
  result=$(ferbench run "$1" --dataset fer2013 --path "$data" --protocol official --epochs "$2" --seed 0 --json)
  end=$(date +%s)
  echo "$1 epochs=$2 wall_s=$((end - start)) $result" | tee -a "$out"
done
