"""What the benchmark scripts share: the machine and build they ran on, and number format.

Imported by Scripts/bench/bench.py and Scripts/bench/bench-explain.py (run them as
`.venv/bin/python Scripts/bench/NAME.py`; Python puts the script's folder on the path).
"""
import datetime
import json
import os
import platform
import sys
import subprocess


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_details():
    """Family/model and the widest vector extensions, from /proc/cpuinfo."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if ":" in line:
                    k, v = (p.strip() for p in line.split(":", 1))
                    info.setdefault(k, v)
    except OSError:
        return ""
    flags = info.get("flags", "").split()
    simd = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni") if f in flags]
    return f"family {info.get('cpu family', '?')} model {info.get('model', '?')}, {', '.join(simd) or 'no avx2'}"


def openblas_core(loupe):
    """The OpenBLAS kernel family `loupe` runs with this environment, as `loupe bench` reports it
    (Loupe opens OpenBLAS itself and picks the family from the CPU unless OPENBLAS_CORETYPE is set)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    model = os.path.join(root, "SampleModels", "tiny-cnn", "tiny-cnn.onnx")
    try:
        out = subprocess.run([loupe, "bench", model, "--runs", "1", "--warmup", "0", "--json"],
                             capture_output=True, text=True, timeout=60)
        kernels = json.loads(out.stdout).get("blas_kernels", "unknown")
    except (OSError, subprocess.SubprocessError, ValueError):
        kernels = "unknown"
    coretype = os.environ.get("OPENBLAS_CORETYPE") or "unset"
    return f"OpenBLAS {kernels} kernels (OPENBLAS_CORETYPE {coretype})"


def binary_time(path):
    try:
        return datetime.datetime.fromtimestamp(os.path.getmtime(path)).strftime("%Y-%m-%d %H:%M")
    except OSError:
        return "(missing)"


def load_average():
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def git_revision():
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
        return (rev or "unknown") + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def last_error_line(proc):
    """The most useful line of a failed command's output."""
    lines = [l for l in (proc.stderr or "").splitlines() if l.strip()]
    for l in reversed(lines):
        if "error" in l.lower():
            return l.strip().removeprefix("loupe: error: ")
    if lines:
        return lines[-1].strip()
    return f"exit code {proc.returncode}"


def fmt(v, digits=None):
    if v is None:
        return "—"
    if digits is None:
        digits = 2 if abs(v) < 10 else 1
    return f"{v:.{digits}f}"
