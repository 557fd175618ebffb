#!/usr/bin/env bash
# The main job: sets up everything (Scripts/setup.sh), then shows the trained shapes model
# (SampleModels/shapes) on held-out test images it never saw in training: its summary, its
# predictions (label and confidence), one image explained by every method (explain-demo.png),
# an atlas of the whole test set (atlas.html) and an HTML report (report.html) explaining its
# decisions. The untrained tiny-cnn model is kept for tests and the README's examples; it is
# not shown here.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/setup.sh
loupe=.build/release/loupe
shapes=SampleModels/shapes
model=$shapes/shapes-gap.onnx
# The test images: two per class (file names carry the true class); the model takes
# 64x64 RGB in [0, 1], no mean or std (SampleModels/shapes/README.md): --preprocess none.
images=("$shapes"/test/0{00,01,02,03,04,05,06,07,08,09,10,11}-*.png)

$loupe inspect "$model"
$loupe predict "$model" "${images[@]}" --labels "$shapes/labels.txt" --preprocess none --top 2

$loupe explain "$model" "$shapes/test/008-triangle.png" --method all --preprocess none \
    --labels "$shapes/labels.txt" -o explain-demo.png --force
echo "demo: wrote $(pwd)/explain-demo.png"

# The atlas of all 120 test images, sorted into one folder per class (the file names carry
# the class) in a scratch folder, so that the page lists them as shapes/CLASS/NNN-CLASS.png.
atlas_in=$(mktemp -d)
for f in "$shapes"/test/*.png; do
    c=$(basename "$f" .png); c=${c#*-}
    mkdir -p "$atlas_in/shapes/$c" && cp "$f" "$atlas_in/shapes/$c/"
done
(cd "$atlas_in" && "$OLDPWD/$loupe" atlas "$OLDPWD/$model" shapes --labels-from-folders \
    --labels "$OLDPWD/$shapes/labels.txt" --preprocess none -o "$OLDPWD/atlas.html" --force)
rm -rf "$atlas_in"
echo "demo: wrote $(pwd)/atlas.html"

# The report: six held-out test images (one per class) and a photo, every explanation
# method, in one self-contained HTML file.
photos=(SampleModels/photos/*.jpg SampleModels/photos/*.jpeg SampleModels/photos/*.png)
photo=()
for p in "${photos[@]}"; do [ -f "$p" ] && { photo=("$p"); break; }; done
$loupe report "$model" "$shapes"/test/00{0,1,2,3,4,5}-*.png "${photo[@]}" \
    --labels "$shapes/labels.txt" --preprocess none -o report.html --force
echo "demo: wrote $(pwd)/report.html"
