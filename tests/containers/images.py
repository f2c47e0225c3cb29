"""Images of our own for the Docker tests: the test image plus a label, saved as a tar.

``make(name)`` (from the ``images`` session fixture) commits the test image (tests/servers)
with a label unique to this session, so each name is a distinct image a test may remove
from the engine and watch being loaded again; ``docker save`` writes its tar once.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class LocalImage:
    def __init__(self, engine, tag: str, image_id: str, tar: Path):
        self.engine = engine
        self.tag = tag
        self.id = image_id
        self.tar = tar
        self.sha256 = sha256_of(tar)

    def present(self) -> bool:
        return self.engine.docker("image", "inspect", self.id, check=False).returncode == 0

    def remove(self) -> None:
        self.engine.docker("rmi", "--force", self.id, check=False)
        assert not self.present()


def make_images(docker_engine, test_image, tmp_path_factory):
    """Body of a session fixture: yields make(name) -> LocalImage, an image of our own (the
    test image + a label) saved as a tar; removes them all at the end."""
    base = tmp_path_factory.mktemp("images")
    made: dict[str, LocalImage] = {}
    session = uuid.uuid4().hex[:8]

    def make(name: str) -> LocalImage:
        if name not in made:
            tag = "pegasus-lite/containers-test:%s-%s" % (name, session)
            cid = docker_engine.docker("create", test_image, "true").stdout.strip()
            docker_engine.docker("commit", "--change", "LABEL pegasus-lite.test=" + tag, cid, tag)
            docker_engine.docker("rm", cid)
            tar = base / ("%s.tar" % name)
            docker_engine.docker("save", "--output", str(tar), tag)
            image_id = docker_engine.docker(
                "image", "inspect", "--format", "{{.Id}}", tag
            ).stdout.strip()
            made[name] = LocalImage(docker_engine, tag, image_id, tar)
        return made[name]

    yield make
    for image in made.values():
        docker_engine.docker("rmi", "--force", image.id, check=False)
