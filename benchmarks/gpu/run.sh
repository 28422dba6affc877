#!/usr/bin/env bash
# The torch backend on a lent GPU: what the machine has, parity of the CUDA path against the
# CPU FP32 reference (both families), then the benchmark; everything under one folder.
#
#   benchmarks/gpu/run.sh [--dry-run] [--quick] [-o OUTDIR]
#
# Run from anywhere; it works in the repository root and imports the package from the source
# tree (PYTHONPATH), so nothing is installed. It needs python (3.10+) with torch and numpy;
# onnx, onnxruntime, onnxscript, pillow, tqdm, pyyaml and matplotlib are used where present
# and each part that needs a missing one is skipped with the reason (summary.txt).
# --dry-run: every step on the CPU at 16x16 with the tiny presets (seconds; what CI runs).
# --quick: on the GPU, fewer points (batches 1 and 50, 2 timed rounds) when time is short.
# Exit: 0 all steps passed, 4 a parity gate failed, 3 no CUDA device (without --dry-run),
# 1 a step failed, 2 bad arguments.
set -uo pipefail
usage() { echo "usage: benchmarks/gpu/run.sh [--dry-run] [--quick] [-o OUTDIR]" >&2; exit 2; }
dry=0
quick=0
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --quick) quick=1 ;;
    -o|--out) [ $# -ge 2 ] || usage; out="$2"; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "run.sh: error: unknown argument '$1'" >&2; usage ;;
  esac
  shift
done
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
if [ -z "$out" ]; then
  if [ $dry = 1 ]; then out="$root/benchmarks/results/gpu-dry-run-$stamp"; else out="$root/benchmarks/results/gpu-$stamp"; fi
fi
mkdir -p "$out" || exit 1
out="$(cd "$out" && pwd)"
summary="$out/summary.txt"
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }
status=0
fail() { if [ "$status" = 0 ] || [ "$1" = 4 ]; then status="$1"; fi; }

# 1. what this machine has
"$python" - "$out/environment.json" <<'PY' 2>&1 | tee -a "$summary"
import importlib, json, platform, subprocess, sys
have = {"python": platform.python_version()}
for name in ("torch", "numpy", "onnx", "onnxruntime", "onnxscript", "PIL", "tqdm", "yaml", "matplotlib", "openvino", "tensorrt"):
    try:
        m = importlib.import_module(name)
        have[name] = getattr(m, "__version__", "present")
    except Exception as e:  # noqa: BLE001  (an import that fails for any reason counts as absent)
        have[name] = None
        have[name + "_why"] = f"{type(e).__name__}: {e}"
cuda = {}
if have["torch"]:
    import torch
    cuda = {"built": torch.backends.cuda.is_built(), "cuda": torch.version.cuda, "available": torch.cuda.is_available(),
            "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []}
try:
    smi = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout.strip()
except (OSError, subprocess.SubprocessError):
    smi = None
json.dump({"libraries": have, "cuda": cuda, "nvidia_smi": smi, "platform": platform.platform()}, open(sys.argv[1], "w"), indent=2)
print("have:", ", ".join(f"{k} {v}" for k, v in have.items() if not k.endswith("_why") and v))
print("missing:", ", ".join(k for k, v in have.items() if not k.endswith("_why") and v is None) or "nothing")
print("cuda:", json.dumps(cuda), "| nvidia-smi:", smi or "none")
PY
[ "${PIPESTATUS[0]}" = 0 ] || { note "run.sh: error: $python cannot run the environment probe"; exit 1; }
has() { "$python" -c "import json,sys; d=json.load(open('$out/environment.json')); sys.exit(0 if d['libraries'].get('$1') else 1)"; }
has torch || { note "run.sh: error: torch is not importable with $python; nothing to run"; exit 3; }
has numpy || { note "run.sh: error: numpy is not importable with $python; nothing to run"; exit 3; }

if [ $dry = 1 ]; then
  device=cpu
  parity_args=(--presets demo:tiny,demo:sg2-tiny --size 16 --seeds 0,1)
  # --analytic-macs: the ONNX export for the counted MACs would take most of the dry run
  bench_runs=("demo:tiny --sizes 16 --batch 1,2 --precisions fp32,bf16 --quick --views 2 --analytic-macs"
              "demo:sg2-tiny --sizes 16 --batch 1 --precisions fp32,fp16 --quick --views 2 --analytic-macs")
  note "dry run: every step on the CPU at 16x16 (no GPU figures)"
else
  device=cuda
  if ! "$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    note "run.sh: error: torch sees no CUDA device here (see environment.json); use --dry-run for the CPU rehearsal"
    exit 3
  fi
  parity_args=(--presets demo:tiny,demo:sg2-tiny,demo:sg2-tiny-bil,demo:photos,demo:photos-sg2,demo:church,demo:released-church)
  # 64²–1024², batch 1–64 and the authors' batch 50 (their V100 figure is 256², batch 50);
  # MACs analytic: the ONNX export of the full presets would take minutes (and onnxscript)
  sizes=64,128,256,512,1024
  batches=1,8,50,64
  extra="--analytic-macs"
  if [ $quick = 1 ]; then batches=1,50; extra="$extra --quick"; fi
  bench_runs=("demo:church --sizes $sizes --batch $batches --precisions fp32,fp16,bf16 $extra"
              "demo:released-church --sizes $sizes --batch $batches --precisions fp32,fp16,bf16 $extra"
              "demo:released-church --sizes 256 --batch 50 --precisions fp32,fp16 --compile $extra")
fi

# 2. parity of the device path against the CPU FP32 reference
note "== parity: torch on $device against torch cpu fp32"
"$python" benchmarks/gpu/parity.py --device "$device" "${parity_args[@]}" -o "$out/parity.json" 2>&1 | tee "$out/parity.log" | tee -a "$summary"
rc=${PIPESTATUS[0]}
if [ "$rc" = 4 ]; then note "parity: a gate FAILED (parity.json)"; fail 4
elif [ "$rc" != 0 ]; then note "parity: error (exit $rc; parity.log)"; fail 1
else note "parity: all gates passed"; fi

# 3. the benchmark (bench's own MAC count needs onnxscript and plots need matplotlib: it
#    records what it skipped in results.json)
i=0
for run in "${bench_runs[@]}"; do
  i=$((i + 1))
  name="bench$i-$(echo "$run" | cut -d' ' -f1 | tr ':' '-')"
  note "== bench: $run --device $device"
  # shellcheck disable=SC2086  # the run's options are split on purpose
  "$python" -m inrgan_export bench $run --backends torch --device "$device" -o "$out/$name" --json \
    > "$out/$name.json" 2> "$out/$name.log"
  rc=$?
  if [ "$rc" = 0 ]; then
    "$python" - "$out/$name.json" <<'PY' 2>&1 | tee -a "$summary"
import json, sys
r = json.load(open(sys.argv[1]))
for s in r.get("skipped", []):
    print(f"  skipped {s['backend']}/{s['precision']}: {s['reason']}")
for p in r["points"]:
    print(f"  {p['precision']:<5} compile={p['compile']!s:<5} batch {p['batch']:>3} {p['height']}x{p['width']}: "
          f"INR {p['inr_median_ms']:.2f} ms, {p['generate_images_per_s']:.1f} img/s (hypernet+INR)")
PY
  else
    note "bench failed (exit $rc): $(tail -n 1 "$out/$name.log")"; fail 1
  fi
done
note "== wrote $out (exit $status)"
exit $status
