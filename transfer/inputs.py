"""pegasus-transfer's input: the JSON list the planner writes, or the old v1 text pairs."""

from __future__ import annotations

import json

from .errors import BadInput
from .urls import URL, redact


class Endpoint:
    """One URL of a transfer with its site label, priority and (for containers) file type."""

    __slots__ = ("file_type", "priority", "site", "url")

    def __init__(
        self, url: URL, site: str, priority: int | None = None, file_type: str | None = None
    ):
        self.url = url
        self.site = site
        self.priority = priority
        self.file_type = file_type

    @property
    def site_env(self) -> str:
        """The label as it appears in variable names (SSH_PRIVATE_KEY_<site>): '-' becomes '_'."""
        return self.site.replace("-", "_")


class Transfer:
    kind = "transfer"

    def __init__(
        self, number: int, lfn: str | None, sources: list[Endpoint], dests: list[Endpoint]
    ):
        self.id = number
        self.lfn = lfn
        self.sources = sources
        self.dests = dests
        self.linkage = "unknown"
        self.generate_checksum = False
        self.verify_checksum_remote = False
        self.verify_symlink_source = True
        self.checksum: str | None = None  # expected sha256 (our additive "checksum" key)

    def describe(self) -> str:
        """One line naming the transfer for messages (URLs redacted)."""
        name = "%s: " % self.lfn if self.lfn else ""
        return "%s%s -> %s" % (name, self.sources[0].url, self.dests[0].url)


class Mkdir:
    kind = "mkdir"

    def __init__(self, number: int, target: Endpoint):
        self.id = number
        self.target = target

    def describe(self) -> str:
        return "mkdir %s" % self.target.url


class Remove:
    kind = "remove"

    def __init__(self, number: int, target: Endpoint, recursive: bool):
        self.id = number
        self.target = target
        self.recursive = recursive

    def describe(self) -> str:
        return "remove %s%s" % (self.target.url, " (recursive)" if self.recursive else "")


def _truth(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("yes", "true", "t", "1", "y"):
        return True
    if text in ("no", "false", "f", "0", "n", ""):
        return False
    raise BadInput("%s: not a yes/no value: %r" % (where, value))


def _endpoint(obj: object, where: str, env: dict[str, str] | None) -> Endpoint:
    if not isinstance(obj, dict) or "url" not in obj:
        raise BadInput('%s: needs an object with a "url" (and "site_label")' % where)
    url = URL(str(obj["url"]), env)
    priority = obj.get("priority")
    if priority is not None:
        try:
            priority = int(priority)
        except (TypeError, ValueError, OverflowError):  # OverflowError: 1e400 is infinite
            raise BadInput("%s: priority must be a number, not %r" % (where, priority)) from None
    return Endpoint(url, str(obj.get("site_label", "local")), priority, obj.get("type"))


def _endpoints(objs: object, where: str, env: dict[str, str] | None) -> list[Endpoint]:
    if not isinstance(objs, list) or not objs:
        raise BadInput("%s: needs a non-empty list of URLs" % where)
    found = [_endpoint(o, "%s[%d]" % (where, i), env) for i, o in enumerate(objs)]
    # Highest priority first; without priorities the list order stands (Pegasus shuffles).
    return sorted(found, key=lambda e: -(e.priority or 0))


def _sha256(value: object, where: str) -> str:
    text = str(value).strip().lower()
    if text.startswith("sha256:"):
        text = text[len("sha256:") :]
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise BadInput("%s: checksum must be a sha256 in hex, not %r" % (where, value))
    return text


def parse_json(text: str, env: dict[str, str] | None = None) -> list:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise BadInput("the transfer list is not valid JSON: %s" % exc) from None
    except RecursionError:
        raise BadInput("the transfer list is not valid JSON: nested too deeply") from None
    return parse_entries(doc, env)


def parse_entries(doc: object, env: dict[str, str] | None = None) -> list:
    """Entries from the decoded JSON (a list of dicts), as pegasus-lite builds them."""
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        raise BadInput("the transfer list must be a JSON list of entries")
    entries = []
    for index, item in enumerate(doc):
        where = "entry %d" % (index + 1)
        if not isinstance(item, dict):
            raise BadInput("%s: not a JSON object" % where)
        number = item.get("id", index + 1)
        kind = item.get("type", "transfer")
        if kind == "transfer":
            entries.append(_transfer(item, number, where, env))
        elif kind in ("mkdir", "remove"):
            target = _endpoint(item.get("target"), where + " target", env)
            if kind == "mkdir":
                entries.append(Mkdir(number, target))
            else:
                recursive = _truth(item["target"].get("recursive", False), where + " recursive")
                entries.append(Remove(number, target, recursive))
        else:
            raise BadInput(
                "%s: unknown entry type %r (expected transfer, mkdir or remove)" % (where, kind)
            )
    return entries


def _transfer(item: dict, number: object, where: str, env: dict[str, str] | None) -> Transfer:
    lfn = item.get("lfn")
    if lfn is not None:
        where = "%s (%s)" % (where, lfn)
    transfer = Transfer(
        number,
        lfn,
        _endpoints(item.get("src_urls"), where + " src_urls", env),
        _endpoints(item.get("dest_urls"), where + " dest_urls", env),
    )
    transfer.linkage = str(item.get("linkage", "unknown"))
    transfer.generate_checksum = _truth(item.get("generate_checksum", False), where)
    transfer.verify_checksum_remote = _truth(item.get("verify_checksum_remote", False), where)
    transfer.verify_symlink_source = _truth(item.get("verify_symlink_source", True), where)
    if item.get("checksum") is not None:
        transfer.checksum = _sha256(item["checksum"], where + " checksum")
    return transfer


def parse_v1(text: str, env: dict[str, str] | None = None) -> list:
    """``# src 1 site`` / URL / ``# dst 1 site`` / URL blocks (Pegasus 4's format)."""
    pending: list[tuple[str, str]] = []  # (label, url) in file order
    label = "local"
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) <= 4:
            continue
        if line.startswith("#"):
            words = line.lstrip("#").split()
            label = words[2] if len(words) >= 3 else "local"
            continue
        pending.append((label, line))
    if len(pending) % 2:
        raise BadInput(
            "the v1 transfer list has a source without a destination: %s" % redact(pending[-1][1])
        )
    entries = []
    for i in range(0, len(pending), 2):
        (slabel, src), (dlabel, dst) = pending[i], pending[i + 1]
        entries.append(
            Transfer(
                i // 2 + 1,
                None,
                [Endpoint(URL(src, env), slabel)],
                [Endpoint(URL(dst, env), dlabel)],
            )
        )
    return entries


def parse(text: str, env: dict[str, str] | None = None) -> list:
    """Transfers, mkdirs and removes from either format (v1 starts with ``# src``)."""
    if text.lstrip().startswith("# src"):
        return parse_v1(text, env)
    if not text.strip():
        return []
    return parse_json(text, env)
