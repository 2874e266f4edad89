#!/usr/bin/env bash
# The benchmark of issue 5: the Go CLI against keras-explainable, tf-keras-vis and
# PAIR saliency on the same model, images and K. `make bench` runs this; see
# bench/README.md. Knobs (environment):
#   BENCH_IMAGES=64        images of mixed sizes, made from testdata/*.jpg
#   BENCH_RUNS=3           repetitions of each figure (the median is reported)
#   BENCH_K="1 5"          the K values (top-K units per image)
#   BENCH_PEERS="go ke tfkv pair"
#   BENCH_KERAS2="ke tfkv" Python peers run on tf-keras (Keras 2, TF_USE_LEGACY_KERAS=1);
#                          the others on TensorFlow's Keras 3. ke needs Keras 2.
#   BENCH_GO_BATCH=""      Go -b values, e.g. "8 32" (one row each); empty: CLI default
#   BENCH_PY_BATCH=8       batch size of the Python peers
#   BENCH_LATENCY=all      single-image latency for: all, none, or runner names
#   BENCH_TIMEOUT=3600     seconds before a run is killed
#   BENCH_CHECK=1          0 skips the agreement check (every peer on 2 images, K=2)
#   KE_SRC=DIR             keras-explainable's source (a checkout); default: the
#                          git mirror in $KE_MIRROR, if present
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
WORK=$ROOT/build/bench
VENV=$WORK/venv
PRODUCT_VENV=$ROOT/.venv
KE_MIRROR=${KE_MIRROR:-/work/.mirror/lucasdavid+keras-explainable/repo}
BENCH_IMAGES=${BENCH_IMAGES:-64}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_K=${BENCH_K:-1 5}
BENCH_PEERS=${BENCH_PEERS:-go ke tfkv pair}
BENCH_KERAS2=${BENCH_KERAS2-ke tfkv}
BENCH_GO_BATCH=${BENCH_GO_BATCH:-}
BENCH_PY_BATCH=${BENCH_PY_BATCH:-8}
BENCH_LATENCY=${BENCH_LATENCY:-all}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-3600}
BENCH_CHECK=${BENCH_CHECK:-1}
SALIENCY=$ROOT/bin/saliency
MODEL=$ROOT/models/xception

say() { echo "bench: $*" >&2; }

# The product: the CLI and the exported model (make bench depends on both already).
[[ -x $SALIENCY ]] || make -C "$ROOT" build
[[ -f $MODEL/saliency.json ]] || make -C "$ROOT" models
[[ -x $PRODUCT_VENV/bin/python ]] || { say "$PRODUCT_VENV is missing: run make setup"; exit 1; }

# The bench venv (the peers beside .venv): bench/venv.sh, also `make peers`.
"$BENCH/venv.sh"
PY=$VENV/bin/python

# keras-explainable: not on PyPI. From $KE_SRC, else from the fetched git mirror,
# unpacked under build/ (never into the repository). Absent: ke_faithful.py runs.
KE_PATH=
KE_VERSION=
if [[ -n ${KE_SRC:-} ]]; then
    [[ -d $KE_SRC ]] || { say "KE_SRC=$KE_SRC is not a folder"; exit 1; }
    KE_DIR=$(cd "$KE_SRC" && pwd)
    if [[ -f $KE_DIR/.commit ]]; then KE_REV=$(head -c 12 "$KE_DIR/.commit")
    elif [[ $(git -C "$KE_DIR" rev-parse --show-toplevel 2>/dev/null) == "$KE_DIR" ]]; then
        KE_REV=$(git -C "$KE_DIR" rev-parse --short=12 HEAD)
    else KE_REV="not a git checkout"
    fi
    KE_VERSION="keras-explainable from $KE_DIR ($KE_REV)"
elif [[ -d $KE_MIRROR ]]; then
    KE_DIR=$WORK/keras-explainable
    COMMIT=$(git --git-dir="$KE_MIRROR" rev-parse HEAD)
    if [[ ! -f $KE_DIR/.commit || $(cat "$KE_DIR/.commit") != "$COMMIT" ]]; then
        rm -rf "$KE_DIR" && mkdir -p "$KE_DIR"
        git --git-dir="$KE_MIRROR" archive HEAD | tar -x -C "$KE_DIR"
        echo "$COMMIT" > "$KE_DIR/.commit"
    fi
    KE_VERSION="lucasdavid/keras-explainable@${COMMIT:0:12} ($(git --git-dir="$KE_MIRROR" log -1 --format=%cs HEAD))"
else
    KE_DIR=
fi
if [[ -n $KE_DIR ]]; then
    if [[ -d $KE_DIR/src/keras_explainable ]]; then KE_PATH=$KE_DIR/src
    elif [[ -d $KE_DIR/keras_explainable ]]; then KE_PATH=$KE_DIR
    else say "no keras_explainable package in $KE_DIR"; exit 1
    fi
else
    say "keras-explainable's source not found (set KE_SRC): its row will be bench/ke_faithful.py"
fi

# Images: deterministic, remade when the count changes.
if [[ ! -f $WORK/images/.count || $(cat "$WORK/images/.count") != "$BENCH_IMAGES"
      || ! -f $WORK/check/check_299x299.png ]]; then
    "$PY" "$BENCH/prepare.py" images --count "$BENCH_IMAGES" --out "$WORK/images" \
        --check-out "$WORK/check"
    echo "$BENCH_IMAGES" > "$WORK/images/.count"
fi

# The Keras rebuild of the exported model (Keras 3, and its tf-keras copy for the
# Keras 2 peers), remade when the export is newer.
KERAS_MODEL=$WORK/model/xception.keras
TF_KERAS_MODEL=$WORK/model/xception.h5
if [[ ! -f $KERAS_MODEL || ! -f $TF_KERAS_MODEL || $MODEL/saved_model.pb -nt $KERAS_MODEL
      || $MODEL/saved_model.pb -nt $TF_KERAS_MODEL ]]; then
    "$PY" "$BENCH/prepare.py" model --saved-model "$MODEL" --out "$KERAS_MODEL" \
        --out-tf-keras "$TF_KERAS_MODEL"
fi

CHECK_FLAG=()
[[ $BENCH_CHECK == 0 ]] && CHECK_FLAG=(--no-check)
exec "$PY" "$BENCH/bench.py" "${CHECK_FLAG[@]}" \
    --images-dir "$WORK/images" --check-image "$WORK/check/check_299x299.png" \
    --keras-model "$KERAS_MODEL" --tf-keras-model "$TF_KERAS_MODEL" --keras2 "$BENCH_KERAS2" \
    --saved-model "$MODEL" --go-bin "$SALIENCY" \
    --ke-src "$KE_PATH" --ke-version "$KE_VERSION" \
    --runs "$BENCH_RUNS" --k "$BENCH_K" --peers "$BENCH_PEERS" \
    --go-batch "$BENCH_GO_BATCH" --py-batch "$BENCH_PY_BATCH" \
    --latency "$BENCH_LATENCY" --timeout "$BENCH_TIMEOUT" --work "$WORK"
