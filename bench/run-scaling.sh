#!/usr/bin/env bash
# The README's scaling table (issue 15): `make scaling` runs this; see bench/scaling.py.
# It exports a random-weight ResNet50 next to the Xception and fashion models (the
# 224x224 point), makes 512 images of mixed sizes from testdata/*.jpg, and runs the CLI
# over the grid, one process per point (about 10 minutes on 2 cores).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$ROOT/build/scaling
PY=$ROOT/.venv/bin/python
export TF_CPP_MIN_LOG_LEVEL=2

[[ -f $WORK/resnet50/saliency.json ]] ||
    "$PY" "$ROOT/models/export.py" --app resnet50 --weights none --out "$WORK/resnet50"
[[ $(ls "$WORK/images" 2>/dev/null | wc -l) -ge 512 ]] ||
    "$PY" "$ROOT/bench/prepare.py" images --count 512 --out "$WORK/images"
exec "$PY" "$ROOT/bench/scaling.py" --go-bin "$ROOT/bin/saliency" \
    --xception "$ROOT/models/xception" --resnet50 "$WORK/resnet50" --fashion "$ROOT/models/fashion" \
    --images-dir "$WORK/images" --work "$WORK" "$@"
