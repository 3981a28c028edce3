#!/usr/bin/env bash
# Train the site model on the device machine (one H200, 16 cores), from a pack made here by
# site_pack.py. Sized for one lease of 15 min: every call but the last stores one chunk (seconds);
# the last stores its chunk, checks and unpacks the pack, trains for MINUTES (default 7) of wall
# clock (ultralytics fits the epoch count to it after the first epoch) and writes under $OUT:
#   site_model_yolov8s.pt (last epoch, fp16), site_model.yaml (card beside it), results.csv,
#   args.yaml, sources.md (train/held-out table), train.log
# Then, here on CPU: bash datasets/site_model/eval_site_model.sh <files_at>/site_model.yaml
#
# usage (device `run`, from the repo root; site_pack.py prints the exact calls):
#   bash datasets/site_model/gpu_run.sh store .site_model_pack/part01      # carry that chunk
#   bash datasets/site_model/gpu_run.sh train .site_model_pack/partNN [MINUTES [site_train args]]
#       # carry partNN and .site_model_pack/pack.sha256
#   bash datasets/site_model/gpu_run.sh resume   # a train call cut off at its limit: goes on to
#       # the run's planned epochs (same warm machine only: /tmp is lost when it goes back)
set -euo pipefail
W=/tmp/site_model
OUT=${OUT:-$W/out}
PY=${PY:-python3}  # the device's python3 holds torch
mkdir -p "$W/chunks" "$OUT"

store() {
  cp "$1" "$W/chunks/"
  ls -l "$W/chunks"
}

unpack() {
  [ -f "$W/data/data.yaml" ] && return
  (cd "$W/chunks" && cat part* > "$W/pack.tar.gz")
  (cd "$W" && sha256sum -c "$1") || { echo "pack checksum mismatch: a chunk is missing"; exit 2; }
  tar -xzf "$W/pack.tar.gz" -C "$W" && rm "$W/pack.tar.gz"
  echo "unpacked: $(ls "$W/data/train/images" | wc -l) train, $(ls "$W/data/val/images" | wc -l) val"
}

run_train() {
  local minutes=$1
  shift
  export PYTHONPATH=$W/py YOLO_OFFLINE=1 YOLO_CONFIG_DIR=$W/cfg PYTHONUNBUFFERED=1
  nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv || true
  df -h /dev/shm || true  # DataLoader workers share batches through it
  "$PY" datasets/site_model/site_train.py train "$W/data/data.yaml" --project "$W/runs" \
      --run site_model --weights "$W/base.pt" --device 0 --workers 14 --batch 64 --imgsz 416 --epochs 150 \
      --hours "$("$PY" -c "print($minutes / 60)")" --close-mosaic 5 --cache ram "$@" \
      2>&1 | tr '\r' '\n' | grep -v "it/s\|s/it" | tee -a "$OUT/train.log"
}

collect() {
  local run=$W/runs/site_model
  cp "$run/weights/last.pt" "$OUT/site_model_yolov8s.pt"
  cp datasets/site_model/site_model_card.yaml "$OUT/site_model.yaml"
  cp "$run/results.csv" "$run/args.yaml" "$W/data/sources.md" "$OUT/" 2>/dev/null || true
  tail -n 5 "$run/results.csv" || true
  ls -l "$OUT"
}

case ${1:-} in
  store) store "$2" ;;
  train)
    store "$2"
    unpack "$(cd "$(dirname "$2")" && pwd)/pack.sha256"
    began=$SECONDS
    if ! run_train "${3:-7}" "${@:4}"; then
      # A failure before the first checkpoint is most likely the DataLoader workers (shared
      # memory in the sandbox): once more with few workers, in the minutes that are left.
      [ -f "$W/runs/site_model/weights/last.pt" ] && { collect; exit 1; }
      left=$("$PY" -c "print(max(1.0, ${3:-7} - ($SECONDS - $began) / 60))")
      echo "training failed early; again with 4 workers for $left min" | tee -a "$OUT/train.log"
      run_train "$left" "${@:4}" --workers 4
    fi
    collect
    ;;
  resume) run_train 0 --resume; collect ;;
  *) echo "usage: gpu_run.sh store PART | train PART [MINUTES] | resume"; exit 2 ;;
esac
