"""Side-by-side benchmarks against the anchors (the real Pegasus tools), run by hand:

    python -m bench kickstart [--runs 200] [--anchor-kickstart /path/to/C/pegasus-kickstart]

Each scenario runs its cases interleaved, several times, in one process, and writes a
markdown table of medians and ratios to bench/results/<scenario>.md.  These machines are
noisy: compare ratios measured in the same run, never absolute numbers across runs.
"""
