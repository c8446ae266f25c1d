#!/usr/bin/env bash
# Regenerates Sources/CONNX from the ONNX schema of the installed pip package `onnx` (1.23.2 expected).
# onnx-data.proto imports "onnx/onnx-ml.proto"; onnx.proto and onnx-ml.proto declare the same messages
# (they differ only in a comment), so onnx.proto is laid out under that import path and generated once.
# Needs: apt-get install -y protobuf-c-compiler; pip install onnx==1.23.2
set -euo pipefail
cd "$(dirname "$0")/.."
onnx_dir=$(python3 -c 'import onnx, os; print(os.path.dirname(onnx.__file__))')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/onnx"
cp "$onnx_dir/onnx.proto" "$work/onnx/onnx-ml.proto"
cp "$onnx_dir/onnx-data.proto" "$work/onnx/onnx-data.proto"
(cd "$work" && protoc-c --proto_path=. --c_out=. onnx/onnx-ml.proto onnx/onnx-data.proto)
cp "$work"/onnx/*.pb-c.h Sources/CONNX/include/onnx/
cp "$work"/onnx/*.pb-c.c Sources/CONNX/onnx/
echo "regenerated Sources/CONNX from onnx $(python3 -c 'import onnx; print(onnx.__version__)')"
