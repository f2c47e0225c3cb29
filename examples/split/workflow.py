#!/usr/bin/env python3
"""The Pegasus tutorial's split workflow, written with Pegasus's own Python API.

One job splits ``pegasus.html`` into parts with ``split``; one ``wc -l`` job per part
counts its lines into ``count.txt.<part>``, the outputs staged to the output site.  The
script writes the workflow and its catalogs (as any Pegasus 5 user does) into ``--dir``;
``pegasus-plan --submit workflow.yml`` in that directory runs it.
"""

from __future__ import annotations

import argparse
import math
import os
import string
from pathlib import Path

from Pegasus.api import (
    Directory,
    File,
    FileServer,
    Job,
    Operation,
    Properties,
    ReplicaCatalog,
    Site,
    SiteCatalog,
    Transformation,
    TransformationCatalog,
    Workflow,
)

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=".", help="where to write the workflow (default: .)")
    parser.add_argument("--parts", type=int, default=4, help="how many parts (default 4)")
    args = parser.parse_args()
    top = Path(args.dir).resolve()
    top.mkdir(parents=True, exist_ok=True)
    os.chdir(top)

    page = HERE / "input" / "pegasus.html"
    lines = sum(1 for _ in page.open())
    per_part = math.ceil(lines / args.parts)

    props = Properties()
    props["pegasus.data.configuration"] = "condorio"
    props.write("pegasus.properties")

    local = Site("local").add_directories(
        Directory(Directory.SHARED_SCRATCH, str(top / "scratch")).add_file_servers(
            FileServer("file://" + str(top / "scratch"), Operation.ALL)
        ),
        Directory(Directory.LOCAL_STORAGE, str(top / "output")).add_file_servers(
            FileServer("file://" + str(top / "output"), Operation.ALL)
        ),
    )
    SiteCatalog().add_sites(local).write("sites.yml")

    ReplicaCatalog().add_replica("local", "pegasus.html", str(page)).write("replicas.yml")

    split = Transformation("split", site="local", pfn="/usr/bin/split", is_stageable=False)
    wc = Transformation("wc", site="local", pfn="/usr/bin/wc", is_stageable=False)
    TransformationCatalog().add_transformations(split, wc).write("transformations.yml")

    wf = Workflow("split")
    webpage = File("pegasus.html")
    parts = [File("part.%s" % letter) for letter in string.ascii_lowercase[: args.parts]]
    wf.add_jobs(
        Job(split)
        .add_args("-l", str(per_part), "-a", "1", webpage, "part.")
        .add_inputs(webpage)
        .add_outputs(*parts, stage_out=False, register_replica=False)
    )
    for part in parts:
        count = File("count.txt.%s" % part.lfn[-1])
        wf.add_jobs(Job(wc).add_args("-l", part).add_inputs(part).set_stdout(count, stage_out=True))
    wf.write("workflow.yml")
    print("wrote %s/workflow.yml (%d jobs) and its catalogs" % (top, 1 + len(parts)))


if __name__ == "__main__":
    main()
