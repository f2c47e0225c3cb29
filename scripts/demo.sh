#!/usr/bin/env bash
# README command 1: install pegasus-lite and run the example workflow end to end.
# examples/split (the Pegasus tutorial's workflow) is written with Pegasus's own Python API,
# planned with pegasus-plan and run on the local engine; the outputs' location is printed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_venv examples
work=${PEGASUS_LITE_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/pegasus-lite-split.XXXXXX")}
say "writing the split workflow and its catalogs into $work"
python "$ROOT/examples/split/workflow.py" --dir "$work"
cd "$work"
say "running: pegasus-plan --sites local --output-sites local --submit workflow.yml"
rc=0
pegasus-plan --sites local --output-sites local --submit workflow.yml || rc=$?
if [ "$rc" -ne 0 ]; then
    say "the workflow failed (exit $rc): pegasus-analyzer $(ls -d "$work"/*/pegasus/split/run* | tail -1)"
    exit "$rc"
fi
say "outputs in $work/output:"
for f in "$work"/output/count.txt.*; do
    printf '  %s: %s\n' "$(basename "$f")" "$(cat "$f")" >&2
done
submit=$(ls -d "$work"/*/pegasus/split/run* | tail -1)
pegasus-statistics "$submit" || true
