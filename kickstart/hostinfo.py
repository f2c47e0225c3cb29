"""Where the job ran: primary interface and address, host name, batch-system job ids.

No DNS: the C tool asks the resolver for the host's name and stalls for its 5 s timeout on
about 1 % of runs.  The host name here is the kernel's node name.
"""

from __future__ import annotations

import os

_SIOCGIFFLAGS = 0x8913
_SIOCGIFADDR = 0x8915
_IFF_UP = 0x1


def _is_private(address: str) -> bool:
    a, b = (int(part) for part in address.split(".")[:2])
    return (
        a == 10
        or (a == 172 and 16 <= b <= 31)
        or (a == 192 and b == 168)
        or (a == 169 and b == 254)
        or address == "0.0.0.0"
    )


def primary_ipv4() -> tuple[str, str] | None:
    """(interface, address) as the C tool picks it: the first interface that is up with a
    public IPv4 address, else the first that is up with a private one, else any."""
    try:
        import _socket  # the C module: ``socket`` itself costs ~2 ms to import
        import fcntl
    except ImportError:
        return None
    try:
        names = [name for _, name in _socket.if_nameindex()]
    except OSError:
        return None
    try:
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    except OSError:
        return None
    up_private = fallback = None
    try:
        for name in names:
            request = name.encode()[:15].ljust(40, b"\0")
            try:
                address = ".".join(
                    str(b) for b in fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, request)[20:24]
                )
                flags = int.from_bytes(
                    fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request)[16:18], "little"
                )
            except OSError:
                continue
            if address.startswith("127."):
                continue
            if not flags & _IFF_UP:
                fallback = (name, address)
            elif not _is_private(address):
                return name, address
            elif up_private is None:
                up_private = (name, address)
    finally:
        sock.close()
    return up_private or fallback


# Environment variable -> batch system, the first set one wins (the C tool's order; Slurm's
# newer SLURM_JOB_ID added after its older name).
_LRM_IDS = (
    ("SLURM_JOBID", "slurm"),
    ("SLURM_JOB_ID", "slurm"),
    ("COBALT_JOBID", "cobalt"),
    ("JOB_ID", "sge"),
    ("LSB_JOBID", "lsf"),
    ("PBS_JOBID", "pbs"),
)


def condor_job_id(env: dict[str, str]) -> str | None:
    """HTCondor's cluster.proc: CONDOR_JOBID (set by Pegasus), else the job ad."""
    jobid = env.get("CONDOR_JOBID")
    if jobid:
        return jobid
    ad_path = env.get("_CONDOR_JOB_AD")
    if not ad_path:
        return None
    cluster = proc = None
    try:
        with open(ad_path, encoding="utf-8", errors="replace") as ad:
            for line in ad:
                key, sep, value = line.partition("=")
                if not sep:
                    continue
                key = key.strip().lower()
                if key == "clusterid":
                    cluster = value.strip()
                elif key == "procid":
                    proc = value.strip()
    except OSError:
        return None
    if cluster is None:
        return None
    return "%s.%s" % (cluster, proc or "0")


def job_ids(env: dict[str, str]) -> list[tuple[str, str]]:
    ids = []
    condor = condor_job_id(env)
    if condor:
        ids.append(("condor", condor))
    gram = env.get("GLOBUS_GRAM_JOB_CONTACT")
    if gram:
        ids.append(("gram", gram))
    for var, key in _LRM_IDS:
        value = env.get(var)
        if value:
            ids.append(("lrmtype", key))
            ids.append(("lrm", value))
            break
    return ids


def node_name() -> str:
    return os.uname().nodename
