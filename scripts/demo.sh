#!/usr/bin/env bash
# Bake the default project, install it in its own venv and train it once: what a new user does.
# Usage: scripts/demo.sh  (or `make demo`, which puts the template's .venv on PATH first)
set -euo pipefail

cd "$(dirname "$0")/.."
out=build/demo
project="$out/my-project"

step() { printf '\n==> %s\n' "$*"; }

step "Baking the default project into $project"
# -f reuses an earlier bake's folder, keeping its venv, so a rerun skips the big downloads.
cookiecutter --no-input . -o "$out" -f

step "Installing the project into $project/.venv as uv.lock pins it (the first run downloads PyTorch)"
(cd "$project" && uv sync --locked)

step "Training with the default config: python train.py"
(cd "$project" && .venv/bin/python train.py)

run_dir=$(ls -dt "$project"/logs/runs/*/ | head -n 1)
step "Done. The run (config, logs, checkpoints) is in: ${run_dir%/}"
ls -A "$run_dir"
