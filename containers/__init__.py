"""Container runtimes behind one interface: docker, apptainer/singularity, podman.

Not built yet (see the pegasus-lite issue).
"""
