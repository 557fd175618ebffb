#!/usr/bin/env bash
# Regenerates Sources/CONNXProto from Schemas/onnx.proto with protoc-c
# (Debian package protobuf-c-compiler). The output is committed; never edit it by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp Schemas/onnx.proto "$tmp/onnx.proto"
(cd "$tmp" && protoc-c --c_out=. onnx.proto)
cp "$tmp/onnx.pb-c.c" Sources/CONNXProto/onnx.pb-c.c
sed 's|#include <protobuf-c/protobuf-c.h>|#include <protobuf-c/protobuf-c.h>|' "$tmp/onnx.pb-c.h" > Sources/CONNXProto/include/onnx.pb-c.h
sed -i 's|#include "onnx.pb-c.h"|#include "include/onnx.pb-c.h"|' Sources/CONNXProto/onnx.pb-c.c
echo "regenerated Sources/CONNXProto from Schemas/onnx.proto ($(protoc-c --version | head -1))"
