#!/usr/bin/env bash
# Printed when a terminal attaches to the dev container (postAttachCommand): how to start.
cd "$(dirname "$0")/.." || exit 0
if [ ! -x .venv/bin/kata ]; then
  echo "ml-debug-katas: the environment is not set up yet; run: bash scripts/install.sh"
  exit 0
fi
cat <<'EOF'
ml-debug-katas: find and fix the silent bug in a small ML module.

  kata list            the katas: topic, difficulty, time budget, status
  kata start ID        start the clock (a marker commit) and read the brief
  kata watch ID        re-run the kata's tests on every save
  kata test ID         run them once: red or green, and which property broke

Edit only the files the kata's kata.toml lists; commit when green, push, open a pull
request: the grader answers there. More in README.md.
EOF
