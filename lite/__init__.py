"""pegasus-lite: run one planned job on a worker node. Owns the job-spec format.

Not built yet (see the pegasus-lite issue).
"""
