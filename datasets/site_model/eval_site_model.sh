#!/usr/bin/env bash
# Evaluate a trained site model on CPU, here: the held-out sources first (whole sets never
# trained on), then the in-source checks (valid splits of trained sources: NOT held out).
# usage: bash datasets/site_model/eval_site_model.sh CARD.yaml [TAG]
#   CARD.yaml: the card gpu_run.sh wrote beside the weights (site_model.yaml)
# Results: datasets/results/<TAG>_<set>.json (TAG default: site_model). COMPARE=1 also scores
# the shipped fire cards on the held-out train splits (no numbers for them in RESULTS.md yet).
# ONLY=fire_smoke (or helmet, fall) keeps the sets under that folder (a model of those labels).
set -euo pipefail
CARD=${1:?usage: eval_site_model.sh CARD.yaml [TAG]}
TAG=${2:-site_model}
S=../shared/data
M=datasets/class_maps
R=${R:-datasets/results}
EXTRA=${EXTRA:-}  # e.g. EXTRA="--limit 2" for a smoke check of the commands
V="nice -n 5 env OMP_NUM_THREADS=1 .venv/bin/vigil eval images"
ONLY=${ONLY:-}
ev() {
  local set=$1 name=$2 map=$3; shift 3
  [[ -z $ONLY || $set == $ONLY/* ]] || return 0
  $V "$S/$set" --card "$CARD" --map-file "$M/$map" --out "$R/${TAG}_${name}.json" "$@" $EXTRA
}
# held out (comparable: RESULTS.md sections 1, 6 and 11 measured the shipped cards on these)
ev helmet/hard_hat_workers_closeup_chunmusic heldout_chunmusic chunmusic.yaml
ev fall/hospital_bed_v3_rvbaghel heldout_rvbaghel_valid rvbaghel_fall.yaml --split valid
ev fire_smoke/indoor_fire_smoke_sinchana1408 heldout_indoor_valid fire_smoke_indoor_sinchana.yaml --split valid
ev fire_smoke/fire_smoke_video_hiwia_buildyourcode heldout_hiwia_valid fire_smoke_video_hiwia.yaml --split valid
# the rest of the same held-out sources (more boxes; no shipped-card numbers yet)
ev fire_smoke/indoor_fire_smoke_sinchana1408 heldout_indoor_train fire_smoke_indoor_sinchana.yaml --split train
ev fire_smoke/fire_smoke_video_hiwia_buildyourcode heldout_hiwia_train fire_smoke_video_hiwia.yaml --split train
# in-source checks (trained on these sources' train splits)
ev helmet/construction_site_safety_v28_medoju insource_medoju_test_half medoju_site.yaml --split valid --part 1/2
ev helmet/hard_hat_workers_v1_kafeel insource_kafeel_valid kafeel_helmet.yaml --split valid
ev fall/fall_action_laifi insource_laifi_valid laifi_site.yaml --split valid
ev fire_smoke/fire_smoke_web_liuzifan insource_web_valid fire_smoke_web_liuzifan.yaml --split valid
ev fire_smoke/fasdd_cv_subset_supperjoy insource_fasdd_valid fire_smoke_fasdd_supperjoy.yaml --split valid
ev fire_smoke/roboflow_fire_wrpgm_v8_abonia1 insource_abonia1_valid abonia1_fire.yaml --split valid
# shipped cards on the held-out train splits, for comparison (COMPARE=1)
if [ "${COMPARE:-0}" = 1 ]; then
  for card in fire fire_smoke; do
    $V "$S/fire_smoke/indoor_fire_smoke_sinchana1408" --split train -m $card \
        --map-file "$M/fire_smoke_indoor_sinchana.yaml" --out "$R/heldout_${card}_indoor_train.json"
    $V "$S/fire_smoke/fire_smoke_video_hiwia_buildyourcode" --split train -m $card \
        --map-file "$M/fire_smoke_video_hiwia.yaml" --out "$R/heldout_${card}_hiwia_train.json"
  done
fi
