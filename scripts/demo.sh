#!/usr/bin/env bash
# README command 1: install pegasus-lite and run its main job.
# Today that is pegasus-kickstart running a real command and printing its provenance record.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_venv
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
printf 'alpha\nbeta\ngamma\n' > input.txt
say "running: pegasus-kickstart -n demo::wc -N ID0000001 -R local -S input.txt -s counts.txt -o counts.txt wc -l input.txt"
rc=0
pegasus-kickstart -n demo::wc -N ID0000001 -R local -S input.txt -s counts.txt -o counts.txt \
    wc -l input.txt || rc=$?
say "job exited $rc; it wrote: $(cat counts.txt)"
exit $rc
