#!/usr/bin/env bash
# The CUDA check: one short script that shows, on a machine with an NVIDIA GPU,
#   1. that the CUDA path works: every registered algorithm (algorithms/registry.py) trains its `smoke` profile
#      with `--device auto` on a small smoke dataset and evaluates, without error, and that `auto` chose cuda
#      (the run's saved config.json: "device" and "speed"); the wall time of each run;
#   2. the CUDA speed figures: `lompo-bench bench` (algorithms/bench.py) at the paper sizes: LOMPO's world-model
#      update in frames/s per speed lever, with the levers "auto" picks on CUDA ("defaults") and with fp32 eager,
#      the actor-critic update and the rollouts.
# It writes $OUT/log.txt (everything printed), $OUT/summary.json (per algorithm: exit status, wall seconds, the
# device and speed levers the run recorded, its score; the bench's figures; the torch/CUDA versions) and
# $OUT/bench.json. Not yet run on a GPU: on 2026-12-04 it was prepared and dry-run on a CPU, but the device tool
# had paused its loans; write its figures into docs/PERFORMANCE.md once it has run.
#
# The GPU machine has no network, so what it lacks travels with the working tree, in folders that
# .git/info/exclude ignores. Prepare them once, here, in the repository's root:
#   printf '/.whl/\n/.devdata/\n/.gl/\n' >> .git/info/exclude
#   # the packages the train/evaluate path imports that the machine's image lacks (cp312, x86-64):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     mujoco==3.3.0 gymnasium==1.4.0 farama-notifications==0.0.6 minari==0.5.4 pyopengl==3.1.10 \
#     typer==0.29.2 pydantic==2.13.4 pydantic-core==2.46.4 annotated-types==0.7.0 typing-inspection==0.4.2
#   # the GL loaders, unpacked there only if its EGL does not work without them (the device library's README):
#   mkdir -p .gl /tmp/amd64/partial; o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
#   apt-get $o update; (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
#   # the smoke dataset (D'Claw: our own MJCF, needs only mujoco; ~2 MB, a couple of minutes on a CPU):
#   MINARI_DATASETS_PATH=$PWD/.devdata/datasets LOMPO_BENCH_HOME=$PWD/.devdata/home \
#     lompo-bench generate --env dclaw --kind medium-expert --profile smoke --seed 0 --workers 1
# Then, through the device tool (~27 MB travels; the run itself takes a few minutes):
#   run(command="bash benchmarks/gpu_check.sh", carry=[".whl", ".devdata/datasets", ".gl"], timeout_s=420)
# On any machine with torch and the project's packages installed, just `OUT=/tmp/gpu_check bash benchmarks/gpu_check.sh`.
#
# Settings (environment variables), for a dry run on a CPU among others:
#   GPU_CHECK_DEVICE   --device of every run and of the bench (default auto)
#   GPU_CHECK_ALGOS    the algorithms to train (default: every registered one)
#   GPU_CHECK_DATASET  the smoke dataset (default lompo/dclaw_screw/medium-expert-smoke-v0)
#   GPU_CHECK_BENCH    bench profiles, space-separated (default paper; "" skips the bench)
#   GPU_CHECK_UPDATES  the bench's timed repeats, their median reported (default 10)
#   GPU_CHECK_BUDGET_S the seconds the whole script may take; each step is cut to what is left (default 390)
#   GPU_CHECK_TRAIN_S  the most seconds one smoke run may take (default 75)
#   GPU_CHECK_BENCH_S  the seconds kept for the bench, which runs last: the smoke runs stop short of them (default 100)
#   GPU_CHECK_WHEELS   1: install .whl/*.whl into /tmp/site first (default: 1 when .whl holds wheels)
# e.g. GPU_CHECK_DEVICE=cpu GPU_CHECK_ALGOS=bc GPU_CHECK_BENCH=smoke GPU_CHECK_UPDATES=1 OUT=/tmp/gc bash benchmarks/gpu_check.sh

set -u
START=$(date +%s)
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO" || exit 1
OUT=${OUT:-/tmp/gpu_check_out}
mkdir -p "$OUT"

main() {
set -x

DEVICE=${GPU_CHECK_DEVICE:-auto}
DATASET=${GPU_CHECK_DATASET:-lompo/dclaw_screw/medium-expert-smoke-v0}
BENCH=${GPU_CHECK_BENCH-paper}
UPDATES=${GPU_CHECK_UPDATES:-10}
BUDGET=${GPU_CHECK_BUDGET_S:-390}
TRAIN_CAP=${GPU_CHECK_TRAIN_S:-75}
if [ -n "$BENCH" ]; then RESERVE=${GPU_CHECK_BENCH_S:-100}; else RESERVE=0; fi
if compgen -G ".whl/*.whl" >/dev/null; then WHEELS=${GPU_CHECK_WHEELS:-1}; else WHEELS=${GPU_CHECK_WHEELS:-0}; fi
RUNS=$(mktemp -d /tmp/gpu_check_runs.XXXX)
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 MUJOCO_GL=${MUJOCO_GL:-egl}
export MINARI_DATASETS_PATH=${MINARI_DATASETS_PATH:-$REPO/.devdata/datasets}
export LOMPO_BENCH_HOME=${LOMPO_BENCH_HOME:-$RUNS/home}
left() { echo $((BUDGET - ($(date +%s) - START))); }

# --- the machine ------------------------------------------------------------------------------------------
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv || true
python3 -m pip list 2>/dev/null | grep -iE '^(torch|numpy|typer|rich|click|typing.extensions|h5py|pillow) ' || true
if [ "$WHEELS" = 1 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || echo "WHEEL INSTALL FAILED"
  export PYTHONPATH=/tmp/site:$REPO
else
  export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
fi
python3 - <<'EOF'
import importlib, torch
print("python", __import__("sys").version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda,
      "cudnn", torch.backends.cudnn.version(), "cuda available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("gpu", torch.cuda.get_device_name(0), "bf16", torch.cuda.is_bf16_supported(),
          "cudnn.allow_tf32", torch.backends.cudnn.allow_tf32, "matmul.allow_tf32", torch.backends.cuda.matmul.allow_tf32)
for name in ("numpy", "h5py", "mujoco", "gymnasium", "minari", "typer", "rich", "OpenGL", "pydantic"):
    try:
        module = importlib.import_module(name)
        print(f"{name} {getattr(module, '__version__', '?')} {module.__file__}")
    except Exception as error:  # noqa: BLE001 - report and go on
        print(f"{name}: IMPORT FAILED: {error!r}")
EOF

# --- rendering: MuJoCo through EGL, with the carried GL loaders only if it fails without them -------------
cat > "$RUNS/render_check.py" <<'EOF'
import mujoco
model = mujoco.MjModel.from_xml_string(
    "<mujoco><worldbody><light pos='0 0 2'/><camera name='c' pos='0 -1 0' xyaxes='1 0 0 0 0 1'/>"
    "<geom size='.3' rgba='1 0 0 1'/></worldbody></mujoco>")
data = mujoco.MjData(model)
mujoco.mj_forward(model, data)
with mujoco.Renderer(model, 64, 64) as renderer:
    renderer.update_scene(data, camera="c")
    pixels = renderer.render()
red = int((pixels[..., 0] > 100).sum())
print("render", pixels.shape, "red pixels", red, "of", 64 * 64)
assert red > 100, "the sphere did not render"
EOF
RENDER=egl
if ! timeout 60 python3 "$RUNS/render_check.py"; then
  RENDER=failed
  if compgen -G ".gl/*.deb" >/dev/null; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    if timeout 60 python3 "$RUNS/render_check.py"; then RENDER="egl (carried loaders)"; else
      export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
      timeout 60 python3 "$RUNS/render_check.py" && RENDER="egl (carried loaders, nvidia vendor file)"
    fi
  fi
fi
echo "RENDER: $RENDER"

CLI="python3 -m lompo_bench.cli"
ALGOS=${GPU_CHECK_ALGOS:-$(python3 -c "from lompo_bench.algorithms.registry import ALGORITHMS; print(' '.join(ALGORITHMS))")}
echo "ALGOS: $ALGOS"
$CLI datasets list || true

# --- 1. every algorithm's smoke run on --device "$DEVICE" -----------------------------------------------------
: > "$RUNS/trains.tsv"
for algo in $ALGOS; do
  cap=$(( $(left) - RESERVE )); [ "$cap" -gt "$TRAIN_CAP" ] && cap=$TRAIN_CAP
  if [ "$cap" -lt 10 ]; then printf '%s\tskipped\t0\n' "$algo" >> "$RUNS/trains.tsv"; continue; fi
  t0=$(date +%s%N)
  timeout "$cap" $CLI train --algo "$algo" --dataset "$DATASET" --profile smoke --device "$DEVICE" --seed 0 \
    --out "$RUNS/$algo"
  rc=$?
  t1=$(date +%s%N)
  printf '%s\t%s\t%s\n' "$algo" "$rc" "$(awk "BEGIN {print ($t1 - $t0) / 1e9}")" >> "$RUNS/trains.tsv"
  echo "TRAIN $algo rc=$rc"
done

# --- 2. the bench: the model update per lever, "auto"'s defaults against fp32 eager, at the paper sizes -------
if [ -n "$BENCH" ]; then
  cap=$(( $(left) - 10 ))
  if [ "$cap" -ge 20 ]; then
    profiles=(); for p in $BENCH; do profiles+=(--profile "$p"); done
    t0=$(date +%s)
    timeout "$cap" $CLI bench "${profiles[@]}" --updates "$UPDATES" --device "$DEVICE" --json "$OUT/bench.json"
    echo "BENCH rc=$? in $(( $(date +%s) - t0 )) s"
  else
    echo "BENCH skipped: $cap s left"
  fi
fi
nvidia-smi --query-gpu=memory.used,clocks.sm --format=csv || true

# --- the summary --------------------------------------------------------------------------------------------
set +x
RUNS=$RUNS OUT=$OUT RENDER=$RENDER DATASET=$DATASET START=$START python3 - <<'EOF'
import json, os, time
from pathlib import Path
import torch

runs, out = Path(os.environ["RUNS"]), Path(os.environ["OUT"])
summary = {
    "torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    "render": os.environ["RENDER"], "dataset": os.environ["DATASET"], "algorithms": {},
}
for line in (runs / "trains.tsv").read_text().splitlines():
    algo, rc, wall = line.split("\t")
    entry = {"rc": rc, "wall_s": round(float(wall), 1)}
    for folder in (runs / algo).glob("**/smoke-seed0"):
        config = folder / "config.json"
        if config.exists():
            saved = json.loads(config.read_text())
            entry["device"] = saved.get("device")
            entry["speed"] = saved.get("speed")  # runs.py writes it at the top level, for the algorithms that have levers
        result = folder / "result.json"
        if result.exists():
            record = json.loads(result.read_text())
            entry.update({k: record.get(k) for k in ("train_seconds", "mean_return", "normalized_score")})
    summary["algorithms"][algo] = entry
bench = out / "bench.json"
if bench.exists():
    summary["bench"] = {f["name"]: {"ours": round(f["ours"], 1), "reference": f["reference"], "ratio": f["ratio"]}
                        for f in json.loads(bench.read_text())["figures"]}
summary["script_seconds"] = round(time.time() - int(os.environ["START"]), 1)
(out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
print(json.dumps(summary, indent=1))
EOF
}

set -o pipefail
main 2>&1 | tee "$OUT/log.txt"
