#!/usr/bin/env python3
"""Times Loupe's explanation methods against Captum and pytorch-grad-cam on the same models.

Run from the package root with the project's virtualenv (numpy, onnx, onnxruntime, torch,
torchvision, captum, grad-cam), after building Loupe in release mode and exporting the models:

    swift build -c release
    .venv/bin/python Scripts/bench/export-torchvision.py --models resnet18,resnet50
    .venv/bin/python Scripts/bench/bench-explain.py [--models resnet18,resnet50] \
        [--methods saliency,guided-backprop,grad-cam,occlusion] [--threads 2] [--runs 10] \
        [--warmup 2] [--loupe .build/release/loupe] [--markdown-out FILE]

For each model, PyTorch rebuilds the same random weights as Scripts/bench/export-torchvision.py
(torch.manual_seed(0), torchvision constructor with weights=None, eval mode) and the script
checks that its logits match onnxruntime's on the ONNX file to 1e-4; the target is the top
class. One input is drawn (numpy default_rng(0), uniform [0, 1), float32 [1,3,224,224]) and
saved as .npy. Then, one method at a time, so both sides see the same machine state:

1. `loupe bench MODEL --method M [--layer L] --input-npy X --runs R --warmup W --threads T --json`
   (Loupe times one explanation of the input, target = its top class, forward pass included);
2. the PyTorch library call, W untimed then R timed calls, with torch.set_num_threads(T):
   - saliency: captum Saliency(model).attribute(x, target=top, abs=True)
   - guided-backprop: captum GuidedBackprop(model).attribute(x, target=top)
   - grad-cam: pytorch_grad_cam GradCAM(model, target_layers=[model.layer4[-1]]) called with
     targets=[ClassifierOutputTarget(top)] (built once, outside the timing; a call includes the
     forward and backward passes, the map, its scaling and its resizing to 224x224). Loupe's
     layer is the ONNX node of that block's final Relu (found in the file).
   - gradient-x-input: captum InputXGradient(model).attribute(x, target=top)
   - integrated-gradients: captum IntegratedGradients(model).attribute(x, target=top, n_steps=50)
     (its defaults: method="gausslegendre", zero baseline, all 50 steps in one batch) vs Loupe
     --steps 50 (Gauss-Legendre, zero baseline, its default --steps-batch);
   - smoothgrad: captum NoiseTunnel(Saliency(model)).attribute(x, nt_type="smoothgrad",
     nt_samples=10, stdevs=0.15, target=top, abs=True) vs Loupe --method saliency --noise-tunnel
     smoothgrad --noise-samples 10 --noise-std 0.15 (Captum batches the 10 noisy copies, Loupe runs
     them one by one);
     these two are slow and use --occlusion-runs/--occlusion-warmup like occlusion;
   - occlusion: captum Occlusion(model).attribute(x, target=top, sliding_window_shapes=(3,32,32),
     strides=(3,16,16), baselines=0, perturbations_per_eval=16) vs Loupe --window 32x32
     --stride 16x16 --occlusion-batch 16 (169 windows each). It is slow: it uses
     --occlusion-runs/--occlusion-warmup, and a model is skipped if one Loupe run (a probe run,
     untimed) takes longer than --occlusion-limit seconds. --occlusion-window 16 --occlusion-stride 8
     gives the issue's setting (27x27 = 729 windows). occlusion-approximate and occlusion-plain
     (only with --methods) run Loupe with --approximate or --occlusion-plain against the same
     Captum call. For these slow methods the script also prints each side's CPU time per run
     (Loupe: the child process's user + system time over warm-up and timed runs, loading included;
     PyTorch: the process time over the same calls), since a loaded machine inflates wall times.
   - the CAM variants (only with --methods: grad-cam++, xgrad-cam, hires-cam, layer-cam,
     score-cam, ablation-cam, eigen-cam): the pytorch_grad_cam class of the same name
     (GradCAMPlusPlus, ..., EigenCAM) at model.layer4[-1], called as GradCAM is, vs Loupe at
     the same Relu node. Score-CAM (ScoreCAM batch_size 16) and Ablation-CAM (AblationCAM's
     default batch_size 32) use --occlusion-batch 16 / 32 on Loupe's side and, like
     occlusion, --occlusion-runs/--occlusion-warmup/--occlusion-limit.

Peak memory (unless --no-memory): for --memory-model (ResNet-50), each engine runs in its own
process under /usr/bin/time -v, four times: starting without a model (Loupe: `loupe
--version`; PyTorch: the imports), loading the model only (Loupe: `loupe inspect`;
PyTorch: imports and model construction), loading and one forward pass, and loading and one
Grad-CAM (Loupe: `loupe bench --method grad-cam --runs 1 --warmup 0`; PyTorch: one GradCAM
call). The "Maximum resident set size" of each is reported. Then, to separate the
explanation from the loading peak, one process per engine runs the forward pass, then Grad-CAM,
10 times: the RSS after run 1 and the peak RSS over runs 2-10 (reset through
/proc/PID/clear_refs when run 1 is reported done; Loupe reports its progress on a terminal,
so its stderr is a pseudo-terminal here).

A method Loupe cannot run is reported with Loupe's error message and the script goes on. The
environment is passed to Loupe unchanged; OPENBLAS_* values are printed in the header.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

from harness import cpu_model, cpu_details, openblas_core, binary_time, load_average, git_revision, last_error_line, fmt

DEFAULT_MODELS = ["resnet18", "resnet50"]
METHODS = ["saliency", "guided-backprop", "grad-cam", "occlusion", "gradient-x-input", "integrated-gradients", "smoothgrad"]
# Methods timed with --occlusion-runs/--occlusion-warmup (many passes per explanation).
SLOW = ("occlusion", "occlusion-approximate", "occlusion-plain", "integrated-gradients", "smoothgrad")
IG_STEPS = 50
NT_SAMPLES, NT_STD = 10, 0.15
# The CAM variants, each against its pytorch-grad-cam class at model.layer4[-1]; chosen with
# --methods (Score-CAM and Ablation-CAM on ResNet-50 take minutes per run on each side).
CAM_VARIANTS = {"grad-cam++": "GradCAMPlusPlus", "xgrad-cam": "XGradCAM", "hires-cam": "HiResCAM",
                "layer-cam": "LayerCAM", "score-cam": "ScoreCAM", "ablation-cam": "AblationCAM",
                "eigen-cam": "EigenCAM"}
# Occlusion variants (only with --methods): Loupe's approximate incremental inference
# (--approximate, its default options) and the plain method (--occlusion-plain), against the
# same Captum call as occlusion (Loupe's default, exact incremental inference).
OCCLUSION_VARIANTS = {"occlusion-approximate": ["--approximate"], "occlusion-plain": ["--occlusion-plain"]}
ALL_METHODS = METHODS + list(CAM_VARIANTS) + list(OCCLUSION_VARIANTS)
# Methods timed with --occlusion-runs/--occlusion-warmup after a probe run; their batch: the
# reference's default (occlusion: perturbations_per_eval; ScoreCAM: 16; AblationCAM: 32).
SLOW_BATCH = {"occlusion": 16, "score-cam": 16, "ablation-cam": 32}
OCC_WINDOW, OCC_STRIDE, OCC_BATCH = 32, 16, 16
LOGIT_TOLERANCE = 1e-4
STEADY_RUNS = 10


# --- machine report (same as Scripts/bench/bench.py) ------------------------------------------------

def summarize(times):
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times),
            "runs": len(times)}


def combine(rounds):
    """Several rounds of one engine: median of the round medians, overall min and max."""
    if not rounds:
        return None
    return {"median_ms": statistics.median(r["median_ms"] for r in rounds),
            "min_ms": min(r["min_ms"] for r in rounds), "max_ms": max(r["max_ms"] for r in rounds),
            "runs": sum(r.get("runs", 0) for r in rounds)}


# --- models -----------------------------------------------------------------------------------

def torch_model(name):
    """The weights Scripts/bench/export-torchvision.py exported: seed 0, weights=None, eval mode."""
    import torch
    import torchvision
    torch.manual_seed(0)
    return getattr(torchvision.models, name)(weights=None).eval()


def gradcam_layer_node(model_path):
    """ONNX node name of the Relu ending the last layer4 block (the tensor GradCAM's
    model.layer4[-1] outputs): the Relu feeding the global average pool."""
    import onnx
    g = onnx.load(model_path, load_external_data=False).graph
    producer = {o: n for n in g.node for o in n.output}
    for n in g.node:
        if n.op_type in ("GlobalAveragePool", "ReduceMean", "AveragePool") and n.input:
            p = producer.get(n.input[0])
            if p is not None and p.op_type == "Relu" and p.name.startswith("/layer4/"):
                return p.name
    relus = [n.name for n in g.node if n.op_type == "Relu" and n.name.startswith("/layer4/")]
    return relus[-1] if relus else None


# --- Loupe --------------------------------------------------------------------------------------

def loupe_method_args(method, layer):
    if method == "smoothgrad":
        return ["--method", "saliency", "--noise-tunnel", "smoothgrad", "--noise-samples", str(NT_SAMPLES),
                "--noise-std", str(NT_STD)]
    args = ["--method", method]
    if method == "integrated-gradients":
        args += ["--steps", str(IG_STEPS), "--integration", "gauss-legendre"]
    if (method == "grad-cam" or method in CAM_VARIANTS) and layer:
        args += ["--layer", layer]
    if method in ("score-cam", "ablation-cam"):
        args += ["--occlusion-batch", str(SLOW_BATCH[method])]
    if method in OCCLUSION_VARIANTS:
        args = ["--method", "occlusion"] + OCCLUSION_VARIANTS[method]
    if method == "occlusion" or method in OCCLUSION_VARIANTS:
        args += ["--window", f"{OCC_WINDOW}x{OCC_WINDOW}", "--stride", f"{OCC_STRIDE}x{OCC_STRIDE}",
                 "--occlusion-batch", str(OCC_BATCH)]
    return args


def run_loupe_bench(args, model_path, input_path, method, layer, runs, warmup):
    cmd = ([args.loupe, "bench", model_path] + loupe_method_args(method, layer)
           + ["--runs", str(runs), "--warmup", str(warmup), "--threads", str(args.threads),
              "--input-npy", input_path, "--json"])
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return None, f"loupe bench timed out after {args.timeout} s"
    except OSError as e:
        return None, f"cannot run {args.loupe}: {e}"
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    if proc.returncode != 0:
        return None, last_error_line(proc)
    try:
        r = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return None, f"loupe bench printed no JSON: {proc.stdout.strip()[:200]!r}"
    if r.get("threads") != args.threads:
        print(f"  note: loupe reports {r.get('threads')} threads, asked for {args.threads}")
    # CPU seconds of the whole process (loading and warm-up included) per explanation run.
    r["cpu_ms_per_run"] = 1000 * cpu_s / max(1, runs + warmup)
    return r, None


def loupe_logits(args, model_path, input_path, out_dir):
    cmd = [args.loupe, "run", model_path, "--input", f"input={input_path}", "--output-dir", out_dir,
           "--threads", str(args.threads), "--force"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except (subprocess.TimeoutExpired, OSError) as e:
        return None, f"loupe run: {e}"
    if proc.returncode != 0:
        return None, "loupe run: " + last_error_line(proc)
    try:
        return np.load(os.path.join(out_dir, "logits.npy")), None
    except (OSError, ValueError) as e:
        return None, f"loupe run: cannot read logits: {e}"


# --- PyTorch ------------------------------------------------------------------------------------

def pytorch_call(method, model, x, top):
    """The explanation call a PyTorch user makes, built once; returns a no-argument callable."""
    if method == "saliency":
        from captum.attr import Saliency
        s = Saliency(model)
        return lambda: s.attribute(x, target=top, abs=True)
    if method == "guided-backprop":
        from captum.attr import GuidedBackprop
        gb = GuidedBackprop(model)
        return lambda: gb.attribute(x, target=top)
    if method == "grad-cam":
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
        cam = GradCAM(model=model, target_layers=[model.layer4[-1]])
        targets = [ClassifierOutputTarget(top)]
        return lambda: cam(input_tensor=x, targets=targets)
    if method == "gradient-x-input":
        from captum.attr import InputXGradient
        gxi = InputXGradient(model)
        return lambda: gxi.attribute(x, target=top)
    if method == "integrated-gradients":
        from captum.attr import IntegratedGradients
        ig = IntegratedGradients(model)
        return lambda: ig.attribute(x, target=top, n_steps=IG_STEPS)
    if method == "smoothgrad":
        from captum.attr import NoiseTunnel, Saliency
        nt = NoiseTunnel(Saliency(model))
        return lambda: nt.attribute(x, nt_type="smoothgrad", nt_samples=NT_SAMPLES, stdevs=NT_STD, target=top, abs=True)
    if method in CAM_VARIANTS:
        import pytorch_grad_cam
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
        cls = getattr(pytorch_grad_cam, CAM_VARIANTS[method])
        cam = cls(model=model, target_layers=[model.layer4[-1]])
        if method == "score-cam":
            cam.batch_size = SLOW_BATCH[method]     # its default, set explicitly
        targets = [ClassifierOutputTarget(top)]
        return lambda: cam(input_tensor=x, targets=targets)
    if method == "occlusion" or method in OCCLUSION_VARIANTS:
        from captum.attr import Occlusion
        occ = Occlusion(model)
        return lambda: occ.attribute(x, target=top, sliding_window_shapes=(3, OCC_WINDOW, OCC_WINDOW),
                                     strides=(3, OCC_STRIDE, OCC_STRIDE), baselines=0,
                                     perturbations_per_eval=OCC_BATCH)
    raise ValueError(method)


def run_pytorch(call, runs, warmup):
    c0 = time.process_time()
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        call()
        times.append((time.perf_counter_ns() - t0) / 1e6)
    r = summarize(times)
    r["cpu_ms_per_run"] = 1000 * (time.process_time() - c0) / max(1, runs + warmup)
    return r


# --- peak memory ----------------------------------------------------------------------------------

def time_v(cmd, timeout):
    """Runs cmd under /usr/bin/time -v; returns (max RSS in MiB, wall s, error)."""
    try:
        proc = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, None, f"timed out after {timeout} s"
    except OSError as e:
        return None, None, str(e)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    w = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", proc.stderr)
    wall = None
    if w:
        wall = 0.0
        for part in w.group(1).split(":"):
            wall = wall * 60 + float(part)
    if proc.returncode != 0:
        return None, wall, last_error_line(proc)
    if not m:
        return None, wall, "no 'Maximum resident set size' in /usr/bin/time output"
    return int(m.group(1)) / 1024, wall, None


def pytorch_child(mode, model_name, input_path, threads, runs=STEADY_RUNS):
    """Runs in a subprocess for the memory measurement: imports, load, forward or one Grad-CAM
    call; forward-loop and grad-cam-loop repeat the call `runs` times and report progress on
    stderr as `loupe bench` does on a terminal ("bench i/n")."""
    import torch
    import torchvision  # noqa: F401
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    torch.set_num_threads(threads)
    if mode == "imports":
        return
    model = torch_model(model_name)
    if mode == "load":
        return
    x = torch.from_numpy(np.load(input_path))
    with torch.no_grad():
        top = int(model(x).argmax())
    if mode == "grad-cam":
        GradCAM(model=model, target_layers=[model.layer4[-1]])(input_tensor=x, targets=[ClassifierOutputTarget(top)])
    elif mode in ("forward-loop", "grad-cam-loop"):
        if mode == "forward-loop":
            def call():
                with torch.no_grad():
                    model(x)
        else:
            cam = GradCAM(model=model, target_layers=[model.layer4[-1]])
            targets = [ClassifierOutputTarget(top)]
            def call():
                cam(input_tensor=x, targets=targets)
        for i in range(runs):
            call()
            sys.stderr.write(f"\rbench {i + 1}/{runs}")
            sys.stderr.flush()
        sys.stderr.write("\n")


def proc_status_mib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split(":", 1)[1].split()[0]) / 1024
    except (OSError, ValueError):
        pass
    return None


def steady_memory(cmd, timeout):
    """Runs cmd with stderr on a pseudo-terminal (so `loupe bench` shows its progress). When the
    first run is reported done ("bench 1/N"), reads the process's RSS, resets its peak RSS
    (writing 5 to /proc/PID/clear_refs) and then follows VmHWM until the process ends.
    Returns (RSS after run 1, peak RSS over runs 2..N, error), in MiB."""
    import pty
    import select
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL)
    except OSError as e:
        os.close(master)
        os.close(slave)
        return None, None, str(e)
    os.close(slave)
    buf, after_first, peak, err = b"", None, None, None
    deadline = time.time() + timeout
    while True:
        ready, _, _ = select.select([master], [], [], 0.005)
        if ready:
            try:
                buf = (buf + os.read(master, 4096))[-4096:]
            except OSError:
                pass
        if after_first is None and re.search(rb"bench 1/\d+", buf):
            after_first = proc_status_mib(p.pid, "VmRSS")
            try:
                with open(f"/proc/{p.pid}/clear_refs", "w") as f:
                    f.write("5")
            except OSError as e:
                err = f"cannot reset the peak RSS: {e}"
        if after_first is not None:
            h = proc_status_mib(p.pid, "VmHWM")
            if h is not None:
                peak = h
        if p.poll() is not None:
            break
        if time.time() > deadline:
            p.kill()
            p.wait()
            err = f"timed out after {timeout} s"
            break
    os.close(master)
    if err is None and p.returncode != 0:
        tail = buf.decode(errors="replace").strip().splitlines()
        err = tail[-1] if tail else f"exit code {p.returncode}"
    if err is None and after_first is None:
        err = "no progress report 'bench 1/N' seen"
    return after_first, peak, err


def measure_memory(args, model, model_path, input_path, layer):
    me = os.path.abspath(__file__)
    child = [sys.executable, me, "--threads", str(args.threads), "--pytorch-memory-child"]
    loupe_common = ["--threads", str(args.threads), "--input-npy", input_path, "--runs", "1", "--warmup", "0"]
    cases = [
        ("start only (no model)", [args.loupe, "--version"], child + ["imports", model, input_path]),
        ("load the model", [args.loupe, "inspect", model_path, "--json"],
         child + ["load", model, input_path]),
        ("load + one forward pass", [args.loupe, "bench", model_path] + loupe_common,
         child + ["forward", model, input_path]),
        ("load + forward + one Grad-CAM", [args.loupe, "bench", model_path, "--method", "grad-cam"]
         + (["--layer", layer] if layer else []) + loupe_common,
         child + ["grad-cam", model, input_path]),
    ]
    rows = []
    for label, lcmd, pcmd in cases:
        print(f"memory {model}: {label} ...", flush=True)
        lrss, lwall, lerr = time_v(lcmd, args.timeout)
        prss, pwall, perr = time_v(pcmd, args.timeout)
        for who, err in (("loupe", lerr), ("pytorch", perr)):
            if err:
                print(f"  {who} error: {err}", flush=True)
        print(f"  Loupe {fmt(lrss)} MiB ({fmt(lwall)} s), PyTorch {fmt(prss)} MiB ({fmt(pwall)} s)", flush=True)
        rows.append((label, lrss, prss, lerr, perr))
    loop = ["--threads", str(args.threads), "--input-npy", input_path, "--runs", str(STEADY_RUNS), "--warmup", "0"]
    steady = []
    for label, lcmd, pcmd in [
        ("forward pass", [args.loupe, "bench", model_path] + loop, child + ["forward-loop", model, input_path]),
        ("Grad-CAM", [args.loupe, "bench", model_path, "--method", "grad-cam"] + (["--layer", layer] if layer else [])
         + loop, child + ["grad-cam-loop", model, input_path]),
    ]:
        print(f"memory {model}: {label}, {STEADY_RUNS} runs in one process ...", flush=True)
        la, lp, lerr = steady_memory(lcmd, args.timeout)
        pa, pp, perr = steady_memory(pcmd, args.timeout)
        for who, err in (("loupe", lerr), ("pytorch", perr)):
            if err:
                print(f"  {who} error: {err}", flush=True)
        print(f"  Loupe {fmt(la)} MiB after run 1, peak {fmt(lp)} MiB over runs 2..{STEADY_RUNS}; "
              f"PyTorch {fmt(pa)} MiB, peak {fmt(pp)} MiB", flush=True)
        steady.append((label, la, lp, pa, pp, lerr, perr))
    return rows, steady


# --- main -----------------------------------------------------------------------------------------

def main():
    global OCC_WINDOW, OCC_STRIDE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS),
                    help="comma-separated torchvision ResNets (files MODELS_DIR/NAME.onnx); default: resnet18,resnet50")
    ap.add_argument("--methods", default=",".join(METHODS),
                    help="comma-separated subset of: " + ", ".join(ALL_METHODS) + " (default: " + ",".join(METHODS) + ")")
    ap.add_argument("--models-dir", default="bench-out/models", help="where the .onnx files are")
    ap.add_argument("--threads", type=int, default=2, help="threads for both sides (default 2)")
    ap.add_argument("--runs", type=int, default=10, help="timed runs per method and side (default 10)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed warm-up runs (default 2)")
    ap.add_argument("--occlusion-runs", type=int, default=3, help="timed runs for occlusion, score-cam and ablation-cam (default 3)")
    ap.add_argument("--occlusion-warmup", type=int, default=1, help="warm-up runs for occlusion, score-cam and ablation-cam (default 1)")
    ap.add_argument("--occlusion-window", type=int, default=OCC_WINDOW, help=f"occlusion window side (default {OCC_WINDOW}; the issue's target uses 16)")
    ap.add_argument("--occlusion-stride", type=int, default=OCC_STRIDE, help=f"occlusion stride (default {OCC_STRIDE}; the issue's target uses 8)")
    ap.add_argument("--occlusion-limit", type=float, default=120,
                    help="skip occlusion on a model if one Loupe run takes longer than this many seconds (default 120)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="alternate Loupe and PyTorch this many times per method; the table shows the median of "
                         "the round medians and the overall min/max (default 1)")
    ap.add_argument("--loupe", default=".build/release/loupe", help="the loupe binary")
    ap.add_argument("--work-dir", default="bench-out", help="inputs and outputs go under here")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds allowed per loupe command")
    ap.add_argument("--memory-model", default="resnet50", help="model for the peak-memory measurement (default resnet50)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    ap.add_argument("--markdown-out", help="also write the report (header, tables) to this file")
    ap.add_argument("--pytorch-memory-child", nargs=3, metavar=("MODE", "MODEL", "INPUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    OCC_WINDOW, OCC_STRIDE = args.occlusion_window, args.occlusion_stride

    if args.pytorch_memory_child:
        mode, model, input_path = args.pytorch_memory_child
        pytorch_child(mode, model, input_path, args.threads)
        return 0

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        ap.error(f"unknown method(s): {', '.join(unknown)}; choose from {', '.join(ALL_METHODS)}")
    if (args.threads < 1 or args.runs < 1 or args.occlusion_runs < 1 or args.rounds < 1
            or args.warmup < 0 or args.occlusion_warmup < 0):
        ap.error("--threads, --runs, --occlusion-runs and --rounds must be at least 1, warm-ups at least 0")

    import onnxruntime as ort
    import torch
    import torchvision
    import captum
    import pytorch_grad_cam  # noqa: F401
    from importlib.metadata import version
    import warnings
    # Captum's notices (input made to require gradients, hooks set on ReLUs) are noise here.
    warnings.filterwarnings("ignore", category=UserWarning)
    torch.set_num_threads(args.threads)

    header = [
        f"- date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"- machine: {os.cpu_count()} CPUs (nproc), {cpu_model()} ({cpu_details()}), {platform.system()} {platform.release()}",
        f"- OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
        f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')} (passed to Loupe unchanged)",
        f"- Loupe's BLAS: {openblas_core(args.loupe)}",
        f"- loupe: {args.loupe}, built {binary_time(args.loupe)}; working tree at git {git_revision()}",
        f"- torch {torch.__version__} (torch.set_num_threads({args.threads}); {torch.get_num_interop_threads()} "
        f"inter-op threads), torchvision {torchvision.__version__}, captum {captum.__version__}, "
        f"grad-cam {version('grad-cam')}, onnxruntime {ort.__version__} (logit check only)",
        f"- {args.warmup} warm-up + {args.runs} timed runs per method and side "
        f"(occlusion: {args.occlusion_warmup} + {args.occlusion_runs})"
        + (f", {args.rounds} alternating rounds (median of round medians)" if args.rounds > 1 else "")
        + "; times in ms for one explanation of one image, forward pass included "
        "(Loupe: its own timer around the method; PyTorch: around the library call from Python)",
        f"- input: numpy default_rng(0).random([1,3,224,224], float32); target: the top class; "
        f"PyTorch weights rebuilt as export-torchvision.py does, logits checked against ORT on the ONNX file "
        f"(max |diff| ≤ {LOGIT_TOLERANCE:g})",
        f"- occlusion: window {OCC_WINDOW}x{OCC_WINDOW}, stride {OCC_STRIDE}x{OCC_STRIDE}, baseline 0, "
        f"{OCC_BATCH} occluded images per forward pass "
        f"({((224 - OCC_WINDOW + OCC_STRIDE - 1) // OCC_STRIDE + 1) ** 2} windows)",
        f"- load average at start: {load_average()}",
    ]
    print("\n".join(header), flush=True)

    input_dir = os.path.join(args.work_dir, "inputs")
    out_root = os.path.join(args.work_dir, "loupe-outputs")
    os.makedirs(input_dir, exist_ok=True)
    if not os.path.exists(args.loupe):
        print(f"warning: {args.loupe} does not exist (build it with `swift build -c release`); "
              "only PyTorch will be timed", flush=True)

    x_np = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    rows, errors, notes, checks = [], [], [], []
    layers = {}
    for model in models:
        model_path = os.path.join(args.models_dir, model + ".onnx")
        if not os.path.exists(model_path):
            errors.append((model, "-", f"{model_path} not found (run Scripts/bench/export-torchvision.py)"))
            print(f"{model}: {model_path} not found", flush=True)
            continue
        input_path = os.path.join(input_dir, f"{model}_b1.npy")
        np.save(input_path, x_np)
        try:
            net = torch_model(model)
        except AttributeError:
            errors.append((model, "-", "not a torchvision model"))
            continue
        x = torch.from_numpy(x_np.copy())
        with torch.no_grad():
            pt_logits = net(x).numpy()
        sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        ort_logits = sess.run(None, {sess.get_inputs()[0].name: x_np})[0]
        del sess
        diff = float(np.max(np.abs(pt_logits.astype(np.float64) - ort_logits)))
        top = int(pt_logits[0].argmax())
        lo, lerr = loupe_logits(args, model_path, input_path, os.path.join(out_root, f"{model}_explain"))
        loupe_top = int(lo[0].argmax()) if lo is not None else None
        check = (f"{model}: PyTorch vs ORT logits max |diff| {diff:.1e} (max |logit| {np.abs(ort_logits).max():.2g}); "
                 f"top class {top} (ORT {int(ort_logits[0].argmax())}, Loupe {loupe_top if lerr is None else '—'})")
        print(check, flush=True)
        checks.append(check)
        if lerr:
            errors.append((model, "-", lerr))
        if diff > LOGIT_TOLERANCE:
            errors.append((model, "-", f"PyTorch logits differ from ORT's by {diff:.2e} > {LOGIT_TOLERANCE:g}: "
                                       "not the exported weights; skipped"))
            continue
        if loupe_top is not None and loupe_top != top:
            notes.append(f"{model}: Loupe's top class {loupe_top} differs from PyTorch's {top}")
        layer = gradcam_layer_node(model_path)
        layers[model] = layer

        for method in methods:
            occ = method in SLOW or method in SLOW_BATCH
            runs = args.occlusion_runs if occ else args.runs
            warmup = args.occlusion_warmup if occ else args.warmup
            if occ and os.path.exists(args.loupe):
                print(f"{model} {method}: loupe probe run ...", flush=True)
                pr, perr = run_loupe_bench(args, model_path, input_path, method, layer, 1, 0)
                if pr and pr["median_ms"] > args.occlusion_limit * 1000:
                    msg = (f"{model} {method} skipped: one Loupe run took {pr['median_ms'] / 1000:.0f} s "
                           f"(> {args.occlusion_limit:g} s)")
                    print("  " + msg, flush=True)
                    notes.append(msg)
                    continue
                if pr:
                    print(f"  probe: {pr['median_ms'] / 1000:.1f} s", flush=True)
            call = pytorch_call(method, net, x, top)
            lrounds, prounds, lerr = [], [], None
            for rnd in range(args.rounds):
                tag = f"{model} {method}" + (f" round {rnd + 1}/{args.rounds}" if args.rounds > 1 else "")
                if lerr is None and os.path.exists(args.loupe):
                    print(f"{tag}: loupe bench ...", flush=True)
                    lr, lerr = run_loupe_bench(args, model_path, input_path, method, layer, runs, warmup)
                    if lerr:
                        print(f"  loupe error: {lerr}", flush=True)
                    else:
                        lrounds.append(lr)
                print(f"{tag}: pytorch ...", flush=True)
                try:
                    prounds.append(run_pytorch(call, runs, warmup))
                except Exception as e:  # noqa: BLE001 - report and go on
                    errors.append((model, method, f"PyTorch: {type(e).__name__}: {e}"))
                    print(f"  pytorch error: {e}", flush=True)
                    break
            if lerr:
                errors.append((model, method, "loupe: " + lerr))
            lr, pr = combine(lrounds), combine(prounds)
            ratio = lr["median_ms"] / pr["median_ms"] if lr and pr else None
            ratio_min = lr["min_ms"] / pr["min_ms"] if lr and pr else None
            rows.append((model, method, runs, lr, pr, ratio, ratio_min))
            print(f"  loupe {fmt(lr and lr['median_ms'])} ms, pytorch {fmt(pr and pr['median_ms'])} ms, "
                  f"ratio {fmt(ratio, 2)} (mins {fmt(ratio_min, 2)}), load {load_average()}", flush=True)
            if lrounds and prounds and "cpu_ms_per_run" in lrounds[0] and "cpu_ms_per_run" in prounds[0]:
                lc, pc = lrounds[0]["cpu_ms_per_run"], prounds[0]["cpu_ms_per_run"]
                print(f"  CPU time per run (warm-up included; Loupe's loading too): loupe {fmt(lc)} ms, "
                      f"pytorch {fmt(pc)} ms, ratio {fmt(lc / pc, 2)}", flush=True)
        del net, call

    memory = None
    if not args.no_memory:
        model = args.memory_model
        model_path = os.path.join(args.models_dir, model + ".onnx")
        input_path = os.path.join(input_dir, f"{model}_b1.npy")
        if not os.path.exists("/usr/bin/time"):
            errors.append((model, "memory", "/usr/bin/time not found (apt-get install time)"))
        elif not os.path.exists(model_path):
            errors.append((model, "memory", f"{model_path} not found"))
        else:
            np.save(input_path, x_np)
            layer = layers.get(model) or gradcam_layer_node(model_path)
            memory = (model, measure_memory(args, model, model_path, input_path, layer))

    table = [
        "| model | method | runs | Loupe median ms | PyTorch median ms | Loupe/PyTorch | Loupe min ms "
        "| PyTorch min ms | Loupe/PyTorch (mins) | Loupe max ms | PyTorch max ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for model, method, runs, lr, pr, ratio, ratio_min in rows:
        table.append(
            f"| {model} | {method} | {runs} | {fmt(lr and lr['median_ms'])} | {fmt(pr and pr['median_ms'])} "
            f"| {fmt(ratio, 2)} | {fmt(lr and lr['min_ms'])} | {fmt(pr and pr['min_ms'])} | {fmt(ratio_min, 2)} "
            f"| {fmt(lr and lr['max_ms'])} | {fmt(pr and pr['max_ms'])} |")
    header.append(f"- load average at end: {load_average()} (other work on the machine inflates both sides' times)")
    report = ["## Explanations: Loupe vs Captum / pytorch-grad-cam", ""] + header + ["", "Checks:", ""]
    report += [f"- {c}" for c in checks]
    report += [f"- Grad-CAM layer, {m}: ONNX node `{l}` (PyTorch: `model.layer4[-1]`)" for m, l in layers.items()]
    report += ["", *table]
    if memory:
        model, (mrows, steady) = memory
        report += ["", f"Peak memory (maximum resident set size from /usr/bin/time -v), {model}, "
                       f"one process per row and engine, {args.threads} threads:", "",
                   "| process | Loupe MiB | PyTorch MiB |", "|---|---:|---:|"]
        for label, lrss, prss, lerr, perr in mrows:
            report.append(f"| {label} | {fmt(lrss, 0)} | {fmt(prss, 0)} |")
            if lerr:
                errors.append((model, f"memory ({label})", "loupe: " + lerr))
            if perr:
                errors.append((model, f"memory ({label})", "PyTorch: " + perr))
        report += ["", "Loupe: `loupe --version`, `loupe inspect MODEL --json`, `loupe bench MODEL --runs 1 --warmup 0`, "
                       "`loupe bench MODEL --method grad-cam --layer L --runs 1 --warmup 0`. PyTorch: a Python "
                       "process importing torch, torchvision and pytorch_grad_cam; then also building the model; then "
                       "one forward pass under torch.no_grad(); then that forward pass and one GradCAM call. "
                       "A process's peak can be reached while loading, which then hides what comes after; "
                       "the next table separates the two.",
                   "", f"Steady state, {model}: one process runs the call {STEADY_RUNS} times; RSS when run 1 is "
                       f"done, then the peak RSS over runs 2–{STEADY_RUNS} (peak reset through /proc/PID/clear_refs):",
                   "", "| call | Loupe RSS after run 1 | Loupe peak, runs 2–N | PyTorch RSS after run 1 "
                       "| PyTorch peak, runs 2–N |", "|---|---:|---:|---:|---:|"]
        for label, la, lp, pa, pp, lerr, perr in steady:
            report.append(f"| {label} | {fmt(la, 0)} | {fmt(lp, 0)} | {fmt(pa, 0)} | {fmt(pp, 0)} |")
            if lerr:
                errors.append((model, f"steady memory ({label})", "loupe: " + lerr))
            if perr:
                errors.append((model, f"steady memory ({label})", "PyTorch: " + perr))
    if notes:
        report += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    if errors:
        report += ["", "Errors:", ""] + [f"- {m} ({w}): {e}" for m, w, e in errors]
    text = "\n".join(report) + "\n"
    print()
    print(text, end="")
    if args.markdown_out:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown_out)), exist_ok=True)
        with open(args.markdown_out, "w") as f:
            f.write(text)
        print(f"\nwrote {args.markdown_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
