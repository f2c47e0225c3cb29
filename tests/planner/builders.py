"""Model objects for planner tests, built directly (no parsing), plus a dict Properties."""

from __future__ import annotations

import types

from lite.spec import JobSpec
from planner.model import (
    ContainerDef,
    Directory,
    FileServer,
    Job,
    Replica,
    ReplicaCatalog,
    ReplicaEntry,
    Site,
    SiteCatalog,
    Transformation,
    TransformationCatalog,
    TransformationSite,
    Use,
    Workflow,
)
from planner.plan import PlanOptions, plan

UUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
STAMP = "20261121T060000+0000"


class Props:
    """A Properties stand-in: ``get``, ``items``, ``profiles()``, ``site_profiles(site)``."""

    def __init__(self, values: dict | None = None, profiles: dict | None = None, site=None):
        self.values = dict(values or {})
        self._profiles = profiles or {}
        self._site = site or {}

    def get(self, key: str, default=None):
        return self.values.get(key, default)

    def get_bool(self, key: str, default: bool = False) -> bool:
        value = self.values.get(key)
        return default if value is None else value.lower() == "true"

    def get_int(self, key: str, default: int = 0) -> int:
        value = self.values.get(key)
        return default if value is None else int(value)

    def items(self):
        return self.values.items()

    def profiles(self) -> dict:
        return self._profiles

    def site_profiles(self, site: str) -> dict:
        return self._site.get(site, {})


def use(lfn: str, kind: str = "input", stage_out: bool = True, **extra) -> Use:
    return Use(lfn, kind, stage_out=stage_out, **extra)


def job(job_id: str, name: str, uses=(), namespace=None, version=None, args=None, profiles=None):
    made = Job(job_id, name, namespace, version, list(args or []), list(uses))
    made.profiles = profiles
    return made


def workflow(name: str, jobs: list, edges: dict | None = None) -> Workflow:
    wf = Workflow(name, source="/wf/%s.yml" % name)
    wf.pegasus_version = "5.0.4"
    for j in jobs:
        wf.jobs[j.id] = j
    for parent, children in (edges or {}).items():
        wf.children[parent] = list(children)
    return wf


def directory(kind: str, path: str, *servers) -> Directory:
    if not servers:
        servers = (("file://" + path, "all"),)
    return Directory(kind, path, servers=[FileServer(url, op) for url, op in servers])


def site(name: str, *directories, profiles: dict | None = None) -> Site:
    made = Site(name)
    made.directories = list(directories)
    made.profiles = profiles or {}
    return made


def sites(top: str, *extra: Site) -> SiteCatalog:
    """``local`` with scratch ``<top>/scratch`` and storage ``<top>/outputs``; condorpool."""
    catalog = SiteCatalog()
    local = site(
        "local",
        directory("sharedScratch", top + "/scratch"),
        directory("localStorage", top + "/outputs"),
    )
    pool = site("condorpool", profiles={"condor": {"universe": "vanilla"}})
    for s in (local, pool, *extra):
        catalog.sites[s.name] = s
    return catalog


def transformation(name, pfn, site_name="local", kind="stageable", namespace=None, version=None,
                   sha256=None, container=None, profiles=None, site_profiles=None):  # fmt: skip
    t = Transformation(name, namespace, version)
    entry = TransformationSite(site_name, pfn, kind)
    entry.container = container
    entry.profiles = site_profiles or {}
    t.sites.append(entry)
    t.sha256 = sha256
    t.profiles = profiles or {}
    return t


def tc(*transformations, containers=()) -> TransformationCatalog:
    catalog = TransformationCatalog()
    catalog.transformations.extend(transformations)
    for c in containers:
        catalog.containers[c.name] = c
    return catalog


def container(name, kind, image, image_site=None, sha256=None, mounts=(), profiles=None):
    made = ContainerDef(name, kind, image)
    made.image_site = image_site
    made.sha256 = sha256
    made.mounts = list(mounts)
    made.profiles = profiles or {}
    return made


def rc(*entries) -> ReplicaCatalog:
    """entries: (lfn, [(pfn, site)...], sha256 or None[, regex])."""
    catalog = ReplicaCatalog()
    for item in entries:
        lfn, pfns, sha = item[0], item[1], item[2] if len(item) > 2 else None
        regex = item[3] if len(item) > 3 else False
        catalog.add(ReplicaEntry(lfn, [Replica(p, s) for p, s in pfns], sha, regex=regex))
    return catalog


def inputs(wf, sites_, tc_, rc_=None, props=None):
    return types.SimpleNamespace(
        workflow=wf, sites=sites_, transformations=tc_, replicas=rc_ or ReplicaCatalog(),
        properties=props or Props(), sources={},
    )  # fmt: skip


def options(submit: str, **kw) -> PlanOptions:
    kw.setdefault("sites", ["condorpool"])
    kw.setdefault("output_sites", ["local"])
    kw.setdefault("relative_dir", "user/pegasus/%s/run0001" % kw.pop("wf", "diamond"))
    kw.setdefault("user", "user")
    kw.setdefault("timestamp", STAMP)
    kw.setdefault("uuid", UUID)
    kw.setdefault("environment", {})
    return PlanOptions(submit_dir=submit, **kw)


KEG_SHA = "c3be63a37e067612da05a9e3bd57501c02b122d9188dd0270f95c4942653c861"
FA_SHA = "ca8ed5988cb4ca0b67c45fd80fd17423aba2a066ca8a63a4e1c6adab067a3e92"


def diamond(top: str, props=None, extra_sites=(), keg="/opt/bin/pegasus-keg", fa_pfn=None,
            fa_site="local"):  # fmt: skip
    """Pegasus's black diamond (fixture 008's shape), its catalogs rooted at ``top``."""
    jobs = [
        job("ID0000001", "preprocess", [use("f.a"), use("f.b1", "output"), use("f.b2", "output")],
            "diamond", "4.0", ["-a", "preprocess", "-i", "f.a", "-o", "f.b1", "f.b2"]),
        job("ID0000002", "findrange", [use("f.b1"), use("f.c1", "output")], "diamond", "4.0",
            ["-a", "findrange", "-i", "f.b1", "-o", "f.c1"]),
        job("ID0000003", "findrange", [use("f.b2"), use("f.c2", "output")], "diamond", "4.0",
            ["-a", "findrange", "-i", "f.b2", "-o", "f.c2"]),
        job("ID0000004", "analyze", [use("f.c1"), use("f.c2"), use("f.d", "output")],
            "diamond", "4.0", ["-a", "analyze", "-i", "f.c1", "f.c2", "-o", "f.d"]),
    ]  # fmt: skip
    wf = workflow(
        "diamond", jobs, {"ID0000001": ["ID0000002", "ID0000003"],
                          "ID0000002": ["ID0000004"], "ID0000003": ["ID0000004"]}
    )  # fmt: skip
    catalog = tc(*[
        transformation(name, keg, namespace="diamond", version="4.0", sha256=KEG_SHA)
        for name in ("preprocess", "findrange", "analyze")
    ])  # fmt: skip
    replicas = rc(("f.a", [(fa_pfn or top + "/f.a", fa_site)], FA_SHA))
    return inputs(wf, sites(top, *extra_sites), catalog, replicas, props)


def run(inputs_, submit: str, **kw):
    """Plan and check every spec with lite's own validator."""
    result = plan(inputs_, options(submit, **kw))
    for pj in result.jobs:
        if pj.spec is not None:
            JobSpec(pj.spec)
    return result


def by_name(result) -> dict:
    return {pj.name: pj for pj in result.jobs}
