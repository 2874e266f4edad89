#!/usr/bin/env bash
# Builds a compilable copy of TensorFlow's official Go binding in $1 (default build/tf).
#
# The Go module proxy serves TensorFlow's source as a module, but the binding in it
# imports protobuf packages that upstream generates at build time and never commits.
# This script copies the binding's Go files out of the module cache, generates those
# packages with protoc from the .proto files of the same module, and writes a go.mod
# so that our go.mod can point at the result with a replace directive. Nothing it
# writes is committed.
set -euo pipefail

out=$(realpath -m "${1:-build/tf}")
tf_version=v2.21.0+incompatible
protobuf_go=v1.34.2   # runtime and protoc-gen-go must agree
root=$(cd "$(dirname "$0")/../.." && pwd)

stamp="$out/.stamp"
want="tensorflow=$tf_version protobuf-go=$protobuf_go script=$(sha256sum "$0" "$root/tools/tfbinding/release.go.in" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

command -v protoc >/dev/null || { echo "generate.sh: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }

# Asked from a scratch module so that our go.mod (whose replace points here) is not read.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
src=$(cd "$scratch" && go mod init scratch >/dev/null 2>&1 && go mod download -json "github.com/tensorflow/tensorflow@$tf_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src/tensorflow/go" ] || { echo "generate.sh: TensorFlow module not found in the module cache" >&2; exit 1; }

GOBIN="$root/build/bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$protobuf_go"

rm -rf "$out"
mkdir -p "$out/tensorflow/go"
for f in "$src"/tensorflow/go/*.go; do
  case "$f" in *_test.go) continue ;; esac
  cp "$f" "$out/tensorflow/go/"
done
cp "$src/LICENSE" "$out/LICENSE"
# Our one addition: a way to free a tensor's C memory now instead of at finalisation.
cp "$root/tools/tfbinding/release.go.in" "$out/tensorflow/go/saliency_release.go"
chmod -R u+w "$out"

cat > "$out/go.mod" <<MOD
module github.com/tensorflow/tensorflow

go 1.21

require google.golang.org/protobuf $protobuf_go
MOD

# Since 2.18 the tsl protos live inside XLA (third_party/xla/xla/tsl/protobuf) and
# are imported as xla/tsl/protobuf/*.proto; in 2.15 they were third_party/xla/third_party/tsl.
xla="third_party/xla"
gobase="github.com/tensorflow/tensorflow/tensorflow/go"
protos=()
for f in "$src"/tensorflow/core/framework/*.proto "$src"/tensorflow/core/protobuf/*.proto; do
  protos+=("${f#"$src"/}")
done
for name in bfc_memory_map coordination_config dnn error_codes histogram rpc_options status; do
  protos+=("xla/tsl/protobuf/$name.proto")
done
protos+=("xla/autotuning.proto")

# Resolve each file's Go package: upstream's go_package, with tsl's moved inside this
# module, a package for the two files that declare none, and graph_debug_info.proto
# taken out of core/protobuf, where it would make an import cycle.
mopts=()
for p in "${protos[@]}"; do
  case "$p" in
    xla/*) path="$src/$xla/$p" ;;
    *) path="$src/$p" ;;
  esac
  gp=$(sed -n 's/^option go_package = "\([^";]*\).*";/\1/p' "$path" | head -n 1)
  base=$(basename "$p" .proto)
  case "$gp" in
    github.com/google/tsl/tsl/go/*) gp="$gobase/tsl/${gp#github.com/google/tsl/tsl/go/}" ;;
    github.com/tsl/tsl/go/*) gp="$gobase/tsl/${gp#github.com/tsl/tsl/go/}" ;;
    "") gp="$gobase/$(dirname "${p#tensorflow/}")/${base}_go_proto" ;;
  esac
  [ "$p" = tensorflow/core/framework/graph_debug_info.proto ] && gp="$gobase/core/framework/graph_debug_info_go_proto"
  mopts+=("--go_opt=M$p=$gp")
done

(cd "$src" && protoc -I. -I"$xla" \
  --plugin=protoc-gen-go="$root/build/bin/protoc-gen-go" \
  --go_out="$out" --go_opt=module=github.com/tensorflow/tensorflow \
  "${mopts[@]}" "${protos[@]}")

echo "$want" > "$stamp"
