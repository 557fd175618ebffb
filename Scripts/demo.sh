#!/usr/bin/env bash
# The main job: sets up everything (Scripts/setup.sh), then inspects and runs the bundled
# sample model on a bundled image.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/setup.sh
loupe=.build/release/loupe
model=SampleModels/tiny-cnn/tiny-cnn.onnx
$loupe inspect "$model"
$loupe predict "$model" SampleModels/tiny-cnn/images/*.png --labels SampleModels/tiny-cnn/labels.txt --top 3
$loupe explain "$model" SampleModels/tiny-cnn/images/disc.png --method all --preprocess none \
    --labels SampleModels/tiny-cnn/labels.txt -o explain-demo.png --force
echo "demo: wrote $(pwd)/explain-demo.png"
