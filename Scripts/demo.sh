#!/usr/bin/env bash
# The main job: sets up everything (Scripts/setup.sh), inspects and runs the bundled sample
# models on bundled images, and writes an HTML report (report.html) explaining their decisions.
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

# The report: the trained CAM-ready sample model on six held-out test images (one per
# class) and a photo, every explanation method, in one self-contained HTML file.
shapes=SampleModels/shapes
if [ -f "$shapes/shapes-gap.onnx" ]; then
    photos=(SampleModels/photos/*.jpg SampleModels/photos/*.jpeg SampleModels/photos/*.png)
    photo=()
    for p in "${photos[@]}"; do [ -f "$p" ] && { photo=("$p"); break; }; done
    $loupe report "$shapes/shapes-gap.onnx" "$shapes"/test/00{0,1,2,3,4,5}-*.png "${photo[@]}" \
        --labels "$shapes/labels.txt" --preprocess none -o report.html --force
else
    # Without the trained models, the untrained stand-in.
    $loupe report "$model" SampleModels/tiny-cnn/images/*.png --labels SampleModels/tiny-cnn/labels.txt \
        --preprocess none -o report.html --force
fi
echo "demo: wrote $(pwd)/report.html"
