"""No secret ever reaches a log, an error, a record, a report or a statistics file.

Every credential source holds its own canary (``CANARY-<source>-<random hex>``): environment
variables, PEGASUS_CREDENTIALS files (per site), SSH keys (their contents and a passphrase),
passwords and signed query strings in URLs, Globus tokens, HTCondor's token directory, the
credentials a job ships, a workflow's env profiles and properties.  Then real exchanges run
against the tests' own servers (WebDAV with logins, nginx, sshd, moto S3, the Globus fake),
succeeding and failing, with ``--debug`` where the command has it: pegasus-transfer (and its
JSON report and multipart statistics), the HTCondor plugin's result ads, pegasus-kickstart
``-f``, pegasus-integrity, pegasus-lite jobs, pegasus-plan + the local engine and every file
of the submit dir, pegasus-statistics (with its HTML report) and pegasus-analyzer.  Every
byte they produce is searched for every canary (also its random part alone, and the base64
of ``user:password`` an HTTP login would send): 0 leaks.

The rule for URLs (transfer.urls.redact, kickstart.environ for records): a password is
shown as XXXX (``<redacted>`` in records), and a query string keeps its parameter names but
not their values (``?X-Amz-Signature=XXXX``), since presigned URLs and ``?token=`` carry
bearer secrets there.  Variables whose names say they are secret are ``<redacted>`` in
records.  The only files allowed to hold a secret are the ones that carry it to the job
that needs it (a job spec's task environment from an env profile, a transfer list's URLs,
the copy of the properties), and those are written for their owner only (0600).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import console_script
from tests.servers import free_port, start_or_skip
from tests.servers.fixtures import s3_server, sshd_server  # noqa: F401
from tests.servers.globus_fake import GlobusFake
from tests.servers.webdav import WebDav

SRC_EP = "aaaaaaaa-0000-4000-8000-00000000000a"
DST_EP = "bbbbbbbb-0000-4000-8000-00000000000b"


# ---------------------------------------------------------------------- canaries and the scan


class Canaries:
    """Distinct canary values, and every byte string that would betray one of them."""

    def __init__(self):
        self.values: dict[str, str] = {}
        self.needles: dict[bytes, str] = {}

    def new(self, source: str) -> str:
        value = "CANARY-%s-%s" % (source, secrets.token_hex(6))
        self.values[source] = value
        self.watch(value, source)
        self.watch(value.rsplit("-", 1)[1], "%s (its random part)" % source)
        return value

    def watch(self, text: str, label: str) -> None:
        self.needles[text.encode()] = label

    def watch_login(self, user: str, source: str) -> None:
        """An HTTP basic login of ``user`` with the canary: what the header would carry."""
        token = base64.b64encode(("%s:%s" % (user, self.values[source])).encode()).decode()
        self.watch(token, "%s (as a basic-auth header)" % source)

    def watch_file_lines(self, path: Path, label: str) -> None:
        """The secret lines of a key file (not its BEGIN/END armour)."""
        for line in path.read_text().splitlines():
            if len(line) >= 16 and not line.startswith("-----"):
                self.watch(line, label)

    def found_in(self, data: bytes) -> list[str]:
        return sorted({label for needle, label in self.needles.items() if needle in data})


TOTALS = {"scans": 0, "artefacts": 0, "bytes": 0, "leaks": 0}


class Scan:
    """Collects what a test produced and where; ``assert_clean`` names every leak."""

    def __init__(self, canaries: Canaries, counted: bool = True):
        self.canaries = canaries
        self.counted = counted  # into the figures of the run (the scan's self-test is not)
        self.leaks: list[str] = []
        self.items = 0
        self.bytes = 0

    def text(self, where: str, data: str | bytes | None) -> None:
        if data is None:
            return
        raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
        self.items += 1
        self.bytes += len(raw)
        for label in self.canaries.found_in(raw):
            line = _line_with(raw, label, self.canaries)
            self.leaks.append("%s: %s in %r" % (where, label, line))

    def tree(self, root: Path, allowed=lambda path: False) -> None:
        """Every regular file under ``root``; ``allowed(path)`` ones are checked elsewhere."""
        for path in sorted(Path(root).rglob("*")):
            if path.is_symlink() or not path.is_file() or allowed(path):
                continue
            self.text(str(path), path.read_bytes())

    def run(self, what: str, proc) -> None:
        self.text("%s stdout" % what, proc.stdout)
        self.text("%s stderr" % what, proc.stderr)

    def assert_clean(self) -> None:
        if self.counted:
            TOTALS["scans"] += 1
            TOTALS["artefacts"] += self.items
            TOTALS["bytes"] += self.bytes
            TOTALS["leaks"] += len(self.leaks)
        assert self.items, "nothing was scanned"
        assert not self.leaks, "secrets leaked:\n" + "\n".join(self.leaks)


def _line_with(raw: bytes, label: str, canaries: Canaries) -> str:
    for needle, name in canaries.needles.items():
        if name == label and needle in raw:
            at = raw.index(needle)
            start = raw.rfind(b"\n", 0, at) + 1
            end = raw.find(b"\n", at)
            return raw[start : end if end >= 0 else len(raw)][:300].decode("utf-8", "replace")
    return ""


def command(name: str, *args: str, env: dict, cwd: Path, stdin: str | None = None, timeout=240):
    proc = subprocess.run(
        [*console_script(name), *args], input=stdin, capture_output=True, text=True,
        env=env, cwd=cwd, timeout=timeout,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr or "--debug" in args or "-d" in args, proc.stderr
    return proc


def private(path: Path) -> None:
    path.chmod(0o600)


# ---------------------------------------------------------------------- the rule, and the scan


@pytest.mark.parametrize(
    "text, shown",
    [
        ("GET https://u:pw@h:1/p?X-Amz-Signature=s&X-Amz-Credential=a/b c",
         "GET https://u:XXXX@h:1/p?X-Amz-Signature=XXXX&X-Amz-Credential=XXXX c"),
        ("webdav://u:p?w@h/x", "webdav://u:XXXX@h/x"),
        ("http://h/x?token=t#access_token=a", "http://h/x?token=XXXX#access_token=XXXX"),
        ("http://h?bare&empty=", "http://h?XXXX&empty="),
        ('"s3://a:b@c/k"', '"s3://a:XXXX@c/k"'),
        ("Max retries exceeded with url: /up/x?sig=s (Caused by", "Max retries exceeded with "
         "url: /up/x?sig=XXXX (Caused by"),
        ("file:///data/what?.txt and ftp://x@y/", "file:///data/what?.txt and ftp://x@y/"),
    ],
)  # fmt: skip
def test_the_redaction_rule(text, shown):
    from transfer.urls import redact

    assert redact(text) == shown
    assert redact(shown) == shown


def test_records_follow_the_same_rule():
    from kickstart.environ import redacted_value

    assert redacted_value("LINK", "https://h/o?X-Amz-Signature=s&t=1#f") == (
        "https://h/o?X-Amz-Signature=<redacted>&t=<redacted>#<redacted>"
    )
    assert redacted_value("DSN", "postgres://app:pw@db/x") == "postgres://app:<redacted>@db/x"
    assert redacted_value("DATA", "file:///a?b=c") == "file:///a?b=c"
    assert redacted_value("SOME_TOKEN", "anything") == "<redacted>"


def test_the_scan_finds_a_planted_canary(tmp_path):
    """The scan itself: a canary, its random part alone, a basic-auth header, a key line."""
    canaries = Canaries()
    value = canaries.new("probe")
    canaries.new("login")
    canaries.watch_login("u", "login")
    key = tmp_path / "key"
    key.write_text("-----BEGIN KEY-----\nQUJDREVGR0hJSktMTU5PUA==\n-----END KEY-----\n")
    canaries.watch_file_lines(key, "key")
    header = base64.b64encode(("u:%s" % canaries.values["login"]).encode()).decode()
    for planted, labels in (
        (value, ["probe", "probe (its random part)"]),
        (value[-12:], ["probe (its random part)"]),
        ("Authorization: Basic " + header, ["login (as a basic-auth header)"]),
        ("QUJDREVGR0hJSktMTU5PUA==", ["key"]),
    ):
        scan = Scan(canaries, counted=False)
        scan.text("planted", "a line\nsaid %s here\n" % planted)
        assert [leak.split(": ", 1)[1].split(" in ")[0] for leak in scan.leaks] == labels
        with pytest.raises(AssertionError, match="secrets leaked"):
            scan.assert_clean()
    clean = Scan(canaries, counted=False)
    clean.text("clean", "CANARY-probe-XXXX and <redacted>")
    clean.assert_clean()


# ---------------------------------------------------------------------- servers with canaries


class CanaryDav(WebDav):
    """wsgidav with several logins: ``users`` maps user name -> password."""

    def __init__(self, workdir: Path, root: Path, users: dict[str, str]):
        super().__init__(workdir, root)
        self.users = users

    def settings(self) -> dict:
        settings = super().settings()
        mapping = {user: {"password": password} for user, password in self.users.items()}
        settings["simple_dc"] = {"user_mapping": {"*": mapping}}
        return settings


@pytest.fixture(scope="module")
def canaries() -> Canaries:
    made = Canaries()
    yield made
    # the figures of the run (``pytest -s`` shows them), for the README
    print("\nsecrets: %d canaries planted, %d runs scanned (%d outputs, %d bytes), %d leaks"
          % (len(made.values), TOTALS["scans"], TOTALS["artefacts"], TOTALS["bytes"],
             TOTALS["leaks"]))  # fmt: skip


@pytest.fixture(scope="module")
def dav(canaries, tmp_path_factory):
    base = tmp_path_factory.mktemp("secret-dav")
    root = base / "root"
    (root / "pub").mkdir(parents=True)
    (root / "pub" / "a.txt").write_text("published by the dav server\n")
    users = {"ini": canaries.new("dav-ini-password"), "url": canaries.new("dav-url-password")}
    canaries.watch_login("ini", "dav-ini-password")
    canaries.watch_login("url", "dav-url-password")
    server = start_or_skip(CanaryDav(base / "run", root, users))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def globus(canaries, tmp_path_factory):
    base = tmp_path_factory.mktemp("secret-globus")
    token = canaries.new("globus-access-token")
    server = start_or_skip(GlobusFake(base / "run", base / "endpoints", token=token))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def web(nginx_server):
    """Files nginx serves (it ignores query strings and Authorization headers)."""
    (nginx_server.root / "c.txt").write_text("served by nginx\n")
    return nginx_server


@pytest.fixture(scope="module")
def bucket(s3_server):  # noqa: F811
    import boto3

    from tests.servers.moto import ACCESS_KEY, REGION, SECRET_KEY

    client = boto3.client(
        "s3", endpoint_url=s3_server.endpoint_url, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
    )  # fmt: skip
    name = "secrets-%s" % secrets.token_hex(4)
    client.create_bucket(Bucket=name)
    client.put_object(Bucket=name, Key="in/s3.txt", Body=b"from the bucket\n")
    return name


class Creds:
    """Every credential source, each with its canary, as one environment."""

    def __init__(self, root: Path, canaries: Canaries):
        self.root = root
        self.canaries = canaries
        self.home = root / "home"
        self.home.mkdir()
        self.env: dict[str, str] = {}
        self.files: dict[str, Path] = {}

    def file(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text)
        private(path)
        self.files[name] = path
        return path


@pytest.fixture(scope="module")
def creds(canaries, tmp_path_factory, dav, web, globus, s3_server, sshd_server):  # noqa: F811
    c = Creds(tmp_path_factory.mktemp("secret-creds"), canaries)
    new = canaries.new
    env = {
        "AWS_ACCESS_KEY_ID": new("env-aws-access-key-id"),
        "AWS_SECRET_ACCESS_KEY": new("env-aws-secret-access-key"),
        "AWS_SESSION_TOKEN": new("env-aws-session-token"),
        "IRODS_PASSWORD": new("env-irods-password"),
        "GLOBUS_ACCESS_TOKEN": new("env-globus-access-token"),
        "BEARER_TOKEN": new("env-bearer-token"),
        "MY_API_TOKEN": new("env-api-token"),
        "DB_PASSWORD": new("env-db-password"),
        "APP_SECRET": new("env-app-secret"),
        "DEPLOY_KEY": new("env-deploy-key"),
        "PEGASUS_SERVICE_PASSWORD": new("env-pegasus-password"),
        "SSH_KEY_PASSPHRASE": new("ssh-key-passphrase"),
        "DATABASE_URL": "postgres://app:%s@db.example.org/prod" % new("env-url-password"),
        "SIGNED_URL": "https://bucket.example.org/o?X-Amz-Signature=%s&token=%s"
        % (new("env-url-signature"), new("env-url-token")),
    }
    ini = c.file(
        "credentials.conf",
        "[127.0.0.1:%d]\nusername = ini\npassword = %s\n\n"
        "[moto]\nendpoint = %s\nregion = us-east-1\n\n"
        "[me@moto]\naccess_key = %s\nsecret_key = %s\nsession_token = %s\n"
        % (dav.port, canaries.values["dav-ini-password"], s3_server.endpoint_url,
           new("ini-s3-access-key"), new("ini-s3-secret-key"), new("ini-s3-session-token")),
    )  # fmt: skip
    wrong = c.file(
        "wrong.conf",
        "[127.0.0.1:%d]\nusername = ini\npassword = %s\n" % (dav.port, new("ini-wrong-password")),
    )
    key = c.root / "ssh_key"
    shutil.copy(sshd_server.client_key, key)
    private(key)
    canaries.watch_file_lines(key, "ssh private key")
    locked = c.root / "locked_key"
    locked.unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", env["SSH_KEY_PASSPHRASE"], "-f", str(locked)],
        check=True, capture_output=True,
    )  # fmt: skip
    canaries.watch_file_lines(locked, "passphrase-protected ssh key")
    globus_good = c.file(
        "globus.conf",
        "[oauth]\nclient_id = d7382f5a-4ea3-4b69-b094-99c392fc820d\ntransfer_at = %s\n"
        "transfer_at_exp = %d\n" % (globus.token, time.time() + 3600),
    )
    globus_bad = c.file(
        "globus-bad.conf",
        "[oauth]\ntransfer_at = %s\ntransfer_at_exp = %d\n"
        % (new("globus-wrong-token"), time.time() + 3600),
    )
    gcp = c.file(
        "gcp.json",
        json.dumps({
            "type": "service_account", "project_id": "p", "client_email": "x@p.iam.example",
            "private_key_id": new("gcp-private-key-id"),
            "private_key": "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n"
            % new("gcp-private-key"),
            "token_uri": "http://127.0.0.1:%d/token" % free_port(),
        }),
    )  # fmt: skip
    irods = c.file(
        "irods_environment.json",
        json.dumps({
            "irods_host": "127.0.0.1", "irods_port": free_port(), "irods_user_name": "rods",
            "irods_zone_name": "tempZone", "irods_password": new("irods-env-file-password"),
        }),
    )  # fmt: skip
    proxy = c.file(
        "x509up",
        "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % new("x509-proxy"),
    )
    bearer = c.file("bearer_token", new("bearer-token-file") + "\n")
    env.update(
        HOME=str(c.home),
        PEGASUS_CREDENTIALS=str(ini),
        PEGASUS_CREDENTIALS_davbad=str(wrong),
        SSH_PRIVATE_KEY_sshsite=str(key),
        SSH_PRIVATE_KEY_lockedsite=str(locked),
        PEGASUS_GLOBUS_CONF=str(globus_good),
        PEGASUS_GLOBUS_CONF_globusbad=str(globus_bad),
        GLOBUS_SDK_SERVICE_URL_TRANSFER=globus.url,
        GOOGLE_APPLICATION_CREDENTIALS=str(gcp),
        IRODS_ENVIRONMENT_FILE=str(irods),
        X509_USER_PROXY=str(proxy),
        BEARER_TOKEN_FILE=str(bearer),
    )
    c.env = env
    c.dav, c.web, c.globus, c.s3, c.sshd = dav, web, globus, s3_server, sshd_server
    return c


def full_env(creds: Creds, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PEGASUS_", "AWS_"))}
    return {**base, **creds.env, **extra}


# ---------------------------------------------------------------------- pegasus-transfer


def entry(lfn: str, src: str, dst: str, src_site: str = "src", dst_site: str = "dst") -> dict:
    return {
        "type": "transfer", "lfn": lfn, "linkage": "input",
        "src_urls": [{"site_label": src_site, "url": src}],
        "dest_urls": [{"site_label": dst_site, "url": dst}],
    }  # fmt: skip


def run_transfer(creds: Creds, work: Path, entries, scan: Scan, what: str, *flags: str):
    work.mkdir(parents=True, exist_ok=True)
    report = work / "report.json"
    multipart = work / "multipart"
    multipart.mkdir(exist_ok=True)
    env = full_env(creds, PEGASUS_MULTIPART_DIR=str(multipart))
    proc = command(
        "pegasus-transfer", "--debug", "-m", "2", "--json-report", str(report), *flags,
        env=env, cwd=work, stdin=entries if isinstance(entries, str) else json.dumps(entries),
    )  # fmt: skip
    scan.run(what, proc)
    scan.tree(multipart)
    if report.exists():
        scan.text("%s --json-report" % what, report.read_bytes())
    return proc, (json.loads(report.read_text()) if report.exists() else None)


def dav_url(creds: Creds, path: str, login: str = "") -> str:
    return "webdav://%s127.0.0.1:%d/%s" % (login, creds.dav.port, path)


def test_pegasus_transfer_successes_leak_nothing(creds, canaries, bucket, tmp_path):
    c, v = creds, canaries.values
    local = tmp_path / "local"
    local.mkdir()
    (local / "up.txt").write_text("uploaded\n")
    remote_dir = tmp_path / "sftp-area"
    remote_dir.mkdir()
    seed = c.globus.endpoint_dir(SRC_EP) / "data" / "g.txt"
    seed.parent.mkdir(parents=True, exist_ok=True)
    seed.write_text("on a globus endpoint\n")
    signed = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s&X-Amz-Signature=%s" % (
        canaries.new("presigned-credential"), canaries.new("presigned-signature"))  # fmt: skip
    nginx = "http://127.0.0.1:%d" % c.web.port
    user = c.sshd.user
    entries = [
        entry("a.txt", dav_url(c, "pub/a.txt"), "file://%s/a.txt" % local, src_site="dav"),
        entry("up.txt", "file://%s/up.txt" % local,
              dav_url(c, "up/up.txt", "url:%s@" % v["dav-url-password"])),
        entry("signed.txt", "%s/c.txt?%s" % (nginx, signed), "file://%s/signed.txt" % local),
        entry("token.txt", "%s/c.txt?token=%s" % (nginx, canaries.new("query-token")),
              "file://%s/token.txt" % local),
        entry("s3.txt", "s3://me@moto/%s/in/s3.txt" % bucket, "file://%s/s3.txt" % local,
              src_site="moto"),
        entry("s3up.txt", "file://%s/up.txt" % local, "s3://me@moto/%s/out/up.txt" % bucket,
              dst_site="moto"),
        entry("sftp.txt", "file://%s/up.txt" % local,
              "sftp://%s@127.0.0.1:%d%s/sftp.txt" % (user, c.sshd.port, remote_dir),
              dst_site="sshsite"),
        entry("g.txt", "go://%s/data/g.txt" % SRC_EP, "go://%s/data/g.txt" % DST_EP),
    ]  # fmt: skip
    scan = Scan(canaries)
    proc, report = run_transfer(c, tmp_path / "run", entries, scan, "pegasus-transfer")
    assert proc.returncode == 0, proc.stderr
    assert (local / "a.txt").read_text() == "published by the dav server\n"
    assert (c.dav.root / "up" / "up.txt").read_text() == "uploaded\n"
    assert (local / "signed.txt").read_text() == "served by nginx\n"
    assert (local / "s3.txt").read_text() == "from the bucket\n"
    assert (remote_dir / "sftp.txt").read_text() == "uploaded\n"
    assert (c.globus.endpoint_dir(DST_EP) / "data" / "g.txt").exists()
    assert len(report["attempts"]) == len(entries)
    scan.assert_clean()
    assert "?X-Amz-Algorithm=XXXX&X-Amz-Credential=XXXX&X-Amz-Signature=XXXX" in json.dumps(report)


def test_pegasus_transfer_failures_leak_nothing(creds, canaries, bucket, tmp_path):
    c, new = creds, canaries.new
    local = tmp_path / "local"
    local.mkdir()
    nginx = "http://127.0.0.1:%d" % c.web.port
    closed = free_port()
    user = c.sshd.user
    entries = [
        entry("wrong-url-password", dav_url(c, "pub/a.txt", "url:%s@" % new("wrong-url-password")),
              "file://%s/1" % local),
        entry("wrong-ini-password", dav_url(c, "pub/a.txt"), "file://%s/2" % local,
              src_site="davbad"),
        entry("missing", "%s/missing.txt?token=%s&X-Amz-Signature=%s"
              % (nginx, new("404-token"), new("404-signature")), "file://%s/3" % local),
        entry("tls-to-plain", "https://127.0.0.1:%d/c.txt?token=%s"
              % (c.web.port, new("tls-token")), "file://%s/10" % local),
        entry("unreachable", "http://u:%s@127.0.0.1:%d/x?sig=%s"
              % (new("unreachable-password"), closed, new("unreachable-signature")),
              "file://%s/4" % local),
        entry("s3-missing", "s3://me@moto/%s/no/such/key" % bucket, "file://%s/5" % local,
              src_site="moto"),
        entry("sftp-password", "sftp://%s:%s@127.0.0.1:%d/etc/hostname"
              % (user, new("sftp-url-password"), c.sshd.port), "file://%s/6" % local,
              src_site="nokey"),
        entry("ftp", "ftp://u:%s@127.0.0.1:%d/x" % (new("ftp-url-password"), closed),
              "file://%s/8" % local),
        entry("irods", "irods://127.0.0.1:%d/tempZone/home/rods/x" % closed,
              "file://%s/9" % local),
    ]  # fmt: skip
    scan = Scan(canaries)
    proc, report = run_transfer(c, tmp_path / "run", entries, scan, "pegasus-transfer")
    assert proc.returncode == 1, proc.stderr
    assert report is not None, proc.stderr
    failed = sorted(a["lfn"] for a in report["attempts"] if not a["success"])
    assert set(failed) == {e["lfn"] for e in entries}, proc.stderr
    assert os.listdir(local) == []
    scan.assert_clean()


@pytest.mark.parametrize(
    "url, site, said",
    [
        ("sftp://{user}@127.0.0.1:{ssh}/etc/hostname", "lockedsite", "protected by a passphrase"),
        ("gs://some-bucket/x", "gcs", "not a usable Google credentials file"),
        ("go://%s/data/g.txt" % SRC_EP, "globusbad", "Globus rejected the token from"),
    ],
    ids=["passphrase-key", "gcp-key-file", "rejected-globus-token"],
)
def test_credential_errors_leak_nothing(creds, canaries, tmp_path, url, site, said):
    """A credential problem stops the whole run (nothing moves): one line, no secret."""
    url = url.format(user=creds.sshd.user, ssh=creds.sshd.port)
    scan = Scan(canaries)
    dest = "go://%s/x" % DST_EP if url.startswith("go:") else "file://%s/x" % tmp_path
    entries = [entry("x", url, dest, src_site=site)]
    proc, _report = run_transfer(creds, tmp_path / "run", entries, scan, "pegasus-transfer")
    assert proc.returncode == 1
    last = proc.stderr.rstrip().splitlines()[-1]
    assert last.startswith("pegasus-transfer: ") and said in last, proc.stderr
    scan.assert_clean()


def test_malformed_requests_leak_nothing(creds, canaries, tmp_path):
    """A request refused before anything moves (bad JSON, a bad v1 list, an unknown scheme,
    a bad spec) is one line, without the secrets of the URLs it names."""
    new = canaries.new
    url = "http://u:%s@127.0.0.1:1/x?token=%s" % (new("bad-input-password"), new("bad-input-token"))
    lists = [
        '{"not json %s' % url,
        "# v1: a source and no destination\n%s\n" % url,
        json.dumps([entry("x", "nosuch" + url[4:], "file://%s/x" % tmp_path)]),
        json.dumps([{"type": "copy", "lfn": "x", "src_urls": [{"url": url}]}]),
        json.dumps([{"type": "transfer", "lfn": "x", "src_urls": [{"url": url}]}]),
    ]
    scan = Scan(canaries)
    for number, text in enumerate(lists):
        proc, _ = run_transfer(
            creds, tmp_path / ("t%d" % number), text, scan, "bad list %d" % number
        )
        assert proc.returncode == 1
        assert proc.stderr.rstrip().splitlines()[-1].startswith("pegasus-transfer: "), proc.stderr
    start = tmp_path / "start"
    start.mkdir()
    spec = lite_spec("bad_ID1", "true", [("in.txt", "nosuch" + url[4:], "web")], [], {})
    spec["credentials"] = []
    (start / "job.json").write_text(json.dumps(spec))
    wn = tmp_path / "wn"
    wn.mkdir()
    env = full_env(creds, PEGASUS_WN_TMP=str(wn), PEGASUS_WN_TMP_MIN_SPACE="1")
    proc = command("pegasus-lite", "job.json", env=env, cwd=start)
    assert proc.returncode == 71, proc.stderr
    assert "unknown URL scheme" in proc.stderr
    scan.run("pegasus-lite with a bad URL", proc)
    scan.assert_clean()


# ---------------------------------------------------------------------- the HTCondor plugin


def _ads(pairs: list[tuple[str, str]]) -> str:
    return "".join('[ Url = "%s"; LocalFileName = "%s" ]' % pair for pair in pairs)


def test_condor_plugin_result_ads_leak_nothing(creds, canaries, tmp_path):
    c, new = creds, canaries.new
    iwd = tmp_path / "execute" / "dir_1"
    iwd.mkdir(parents=True)
    tokens = tmp_path / "creds"
    tokens.mkdir()
    token = new("condor-creds-token")
    (tokens / "svc.use").write_text(json.dumps({"access_token": token}) + "\n")
    (iwd / "up.txt").write_text("from the sandbox\n")
    nginx = "http://127.0.0.1:%d" % c.web.port
    good = c.canaries.values["dav-url-password"]
    downloads = [
        ("svc+%s/c.txt" % nginx, iwd / "tok.txt"),
        (dav_url(c, "pub/a.txt", "url:%s@" % good), iwd / "dav.txt"),
        ("%s/c.txt?X-Amz-Signature=%s" % (nginx, new("plugin-signature")), iwd / "signed.txt"),
        ("http://u:%s@127.0.0.1:%d/missing.txt?token=%s"
         % (new("plugin-404-password"), c.web.port, new("plugin-404-token")), iwd / "404.txt"),
        (dav_url(c, "pub/a.txt", "url:%s@" % new("plugin-wrong-password")), iwd / "401.txt"),
        ("nosuch+%s/c.txt?token=%s" % (nginx, new("plugin-no-cred-token")), iwd / "nocred.txt"),
    ]  # fmt: skip
    uploads = [
        (dav_url(c, "up/plugin.txt", "url:%s@" % good), iwd / "up.txt"),
        (dav_url(c, "up/never.txt", "url:%s@" % new("plugin-upload-wrong")), iwd / "up.txt"),
    ]
    env = full_env(c, _CONDOR_CREDS=str(tokens), PEGASUS_TRANSFER_MAX_ATTEMPTS="1")
    scan = Scan(canaries)
    for what, pairs, flags in (("download", downloads, []), ("upload", uploads, ["-upload"])):
        infile, outfile = iwd / ".pegasus-transfer.in", iwd / ".pegasus-transfer.out"
        infile.write_text(_ads([(url, str(path)) for url, path in pairs]))
        outfile.write_text(" " * 4096)
        proc = command(
            "pegasus-transfer", "-infile", str(infile), "-outfile", str(outfile), *flags,
            "-diagnostic", env=env, cwd=iwd,
        )  # fmt: skip
        assert proc.returncode == 1, proc.stderr  # some of each fail
        results = outfile.read_text()
        assert results.count("TransferSuccess = true") == (3 if what == "download" else 1)
        scan.run("plugin %s" % what, proc)
        scan.text("plugin %s result ads" % what, results)
    assert (iwd / "tok.txt").read_text() == "served by nginx\n"
    assert (c.dav.root / "up" / "plugin.txt").read_text() == "from the sandbox\n"
    scan.assert_clean()


# ---------------------------------------------------------------------- kickstart, integrity


@pytest.mark.parametrize("code", [0, 3], ids=["success", "failure"])
def test_kickstart_full_record_leaks_nothing(creds, canaries, tmp_path, code):
    """``-f`` puts the whole environment into the record, on success too."""
    env = full_env(creds)
    proc = command(
        "pegasus-kickstart", "-f", "-n", "demo::secret", "-N", "ID1", "-R", "local",
        "/bin/sh", "-c", "exit %d" % code, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == code, proc.stderr
    import yaml

    record = yaml.safe_load(proc.stdout)[0]
    shown = record["environment"]
    assert shown["AWS_SECRET_ACCESS_KEY"] == "<redacted>"
    assert shown["DATABASE_URL"] == "postgres://app:<redacted>@db.example.org/prod"
    assert shown["SIGNED_URL"] == (
        "https://bucket.example.org/o?X-Amz-Signature=<redacted>&token=<redacted>"
    )
    scan = Scan(canaries)
    scan.run("pegasus-kickstart -f", proc)
    scan.assert_clean()


def test_integrity_debug_leaks_nothing(creds, canaries, tmp_path):
    (tmp_path / "f.txt").write_text("some data\n")
    env = full_env(creds)
    scan = Scan(canaries)
    made = command("pegasus-integrity", "--debug", "--generate", "f.txt=f.txt", env=env,
                   cwd=tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stderr
    meta = {"_id": "f.txt", "_type": "file",
            "_attributes": {"checksum.type": "sha256", "checksum.value": "0" * 64}}  # fmt: skip
    (tmp_path / "job.meta").write_text(json.dumps([meta]))
    bad = command("pegasus-integrity", "--debug", "--verify", "f.txt", env=env, cwd=tmp_path)
    assert bad.returncode != 0
    scan.run("pegasus-integrity --generate", made)
    scan.run("pegasus-integrity --verify", bad)
    scan.assert_clean()


# ---------------------------------------------------------------------- pegasus-lite jobs


def lite_spec(name: str, script: str, inputs: list, outputs: list, env: dict) -> dict:
    return {
        "version": 1,
        "job": {"id": name, "name": name, "site": "condorpool"},
        "tasks": [{"transformation": "demo::sh", "executable": {"path": "/bin/sh"},
                   "arguments": ["-c", script], "environment": env}],
        "inputs": [{"lfn": lfn, "sources": [{"url": url, "site": site}]}
                   for lfn, url, site in inputs],
        "outputs": [{"lfn": lfn, "destinations": [{"url": url, "site": site}]}
                    for lfn, url, site in outputs],
        "credentials": [{"env": "PEGASUS_CREDENTIALS", "file": "shipped.conf"}],
    }  # fmt: skip


def test_lite_jobs_leak_nothing(creds, canaries, tmp_path):
    """Succeeding and failing jobs (task, stage-in, stage-out): stdout (records, multipart),
    stderr (the log), the start dir (.meta) and the kept work dirs hold no secret."""
    c, new = creds, canaries.new
    nginx = "http://127.0.0.1:%d" % c.web.port
    good = canaries.values["dav-url-password"]
    task_env = {
        "AWS_SECRET_ACCESS_KEY": new("spec-aws-secret"),
        "MY_SERVICE_TOKEN": new("spec-service-token"),
        "SERVICE_URL": "https://svc:%s@svc.example.org/api?key=%s"
        % (new("spec-url-password"), new("spec-url-key")),
    }
    inputs = [
        ("a.txt", dav_url(c, "pub/a.txt"), "dav"),
        ("b.txt", dav_url(c, "pub/a.txt", "url:%s@" % good), "dav"),
        ("c.txt", "%s/c.txt?X-Amz-Signature=%s&token=%s"
         % (nginx, new("lite-signature"), new("lite-token")), "web"),
    ]  # fmt: skip
    out_ok = [("out.txt", dav_url(c, "up/lite-out.txt", "url:%s@" % good), "dav")]
    jobs = {
        "ok": lite_spec("ok_ID1", "cat a.txt b.txt c.txt > out.txt", inputs, out_ok, task_env),
        "task-fails": lite_spec("fail_ID2", "env > seen.txt; exit 3", inputs, out_ok, task_env),
        "stage-in-fails": lite_spec(
            "in_ID3", "true",
            [("d.txt", "%s/missing.txt?token=%s" % (nginx, new("lite-404-token")), "web"),
             ("e.txt", "http://u:%s@127.0.0.1:%d/x?sig=%s"
              % (new("lite-down-password"), free_port(), new("lite-down-sig")), "down")],
            out_ok, task_env,
        ),
        "stage-out-fails": lite_spec(
            "out_ID4", "echo x > out.txt", inputs,
            [("out.txt", dav_url(c, "up/x.txt", "url:%s@" % new("lite-out-wrong")), "dav")],
            task_env,
        ),
    }  # fmt: skip
    expected = {"ok": 0, "task-fails": 3, "stage-in-fails": 71, "stage-out-fails": 71}
    scan = Scan(canaries)
    for what, spec in jobs.items():
        start = tmp_path / what / "start"
        wn = tmp_path / what / "wn"
        start.mkdir(parents=True)
        wn.mkdir()
        shutil.copy(c.files["credentials.conf"], start / "shipped.conf")
        (start / "job.json").write_text(json.dumps(spec))
        env = full_env(c, PEGASUS_WN_TMP=str(wn), PEGASUS_WN_TMP_MIN_SPACE="1",
                       PEGASUS_TRANSFER_ATTEMPTS="1")  # fmt: skip
        proc = command("pegasus-lite", "--keep-workdir", "job.json", env=env, cwd=start)
        assert proc.returncode == expected[what], (what, proc.stderr)
        assert proc.stderr.rstrip().endswith("PegasusLite: exitcode %d" % expected[what])
        scan.run("pegasus-lite %s" % what, proc)
        (start / "job.json").unlink()  # the spec itself carries the job's secrets: the input
        scan.tree(start)
        kept = list(wn.iterdir())
        assert len(kept) == 1
        assert not (kept[0] / ".pegasus.credentials" / "shipped.conf").exists()
        # the task's own output (env > seen.txt) is the user's business, not a leak of ours
        scan.tree(kept[0], allowed=lambda path: path.name == "seen.txt")
        if what == "task-fails":
            assert "environment:" in proc.stdout and "<redacted>" in proc.stdout
    assert (c.dav.root / "up" / "lite-out.txt").read_text().startswith("published by the dav")
    scan.assert_clean()


# ---------------------------------------------------------------------- planner, engine, reports


def write_workflow(top: Path, creds: Creds, canaries: Canaries) -> None:
    """A workflow whose site env profiles, properties and replica URLs hold secrets: one job
    reads an input from WebDAV (a password in its URL) and one from a presigned URL, one
    job fails (its record then shows its environment)."""
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
    )  # fmt: skip

    new, c = canaries.new, creds
    props = Properties()
    props["pegasus.data.configuration"] = "condorio"
    props["dagman.retry"] = "0"
    props["env.DB_PASSWORD"] = new("properties-env-db-password")
    props["pegasus.catalog.replica.db.password"] = new("properties-catalog-db-password")
    props.write(str(top / "pegasus.properties"))
    local = Site("local").add_directories(
        Directory(Directory.SHARED_SCRATCH, str(top / "scratch")).add_file_servers(
            FileServer("file://" + str(top / "scratch"), Operation.ALL)
        ),
        Directory(Directory.LOCAL_STORAGE, str(top / "output")).add_file_servers(
            FileServer("file://" + str(top / "output"), Operation.ALL)
        ),
    )
    local.add_env(
        AWS_SECRET_ACCESS_KEY=new("site-env-aws-secret"),
        MY_API_TOKEN=new("site-env-api-token"),
        SERVICE_URL="https://svc:%s@svc.example.org/api?key=%s"
        % (new("site-env-url-password"), new("site-env-url-key")),
    )
    SiteCatalog().add_sites(local).write(str(top / "sites.yml"))
    rc = ReplicaCatalog()
    rc.add_replica("dav", "in.txt", dav_url(c, "pub/a.txt", "url:%s@" % canaries.values[
        "dav-url-password"]))  # fmt: skip
    rc.add_replica("web", "in2.txt", "http://127.0.0.1:%d/c.txt?X-Amz-Signature=%s&token=%s"
                   % (c.web.port, new("replica-signature"), new("replica-token")))  # fmt: skip
    rc.write(str(top / "replicas.yml"))
    cat = Transformation("cat", site="local", pfn="/bin/cat", is_stageable=False)
    false = Transformation("false", site="local", pfn="/bin/false", is_stageable=False)
    TransformationCatalog().add_transformations(cat, false).write(str(top / "transformations.yml"))
    wf = Workflow("secrets")
    ins = [File("in.txt"), File("in2.txt")]
    wf.add_jobs(Job(cat).add_args(*ins).add_inputs(*ins).set_stdout(File("out.txt")))
    wf.add_jobs(Job(false))
    wf.write(str(top / "workflow.yml"))


CARRIERS = (".json", ".in", ".properties")  # job specs, transfer lists, the properties copy


@pytest.mark.parametrize("data", ["condorio", "nonsharedfs", "sharedfs"])
def test_planner_engine_statistics_and_analyzer_leak_nothing(creds, canaries, tmp_path, data):
    """pegasus-plan -v --submit, the engine's resume, pegasus-statistics (all levels, HTML)
    and pegasus-analyzer; then every file of the submit dir."""
    top = tmp_path / "wf"
    top.mkdir()
    write_workflow(top, creds, canaries)
    env = full_env(creds, PEGASUS_LOCAL_SCRATCH=str(tmp_path / "engine-scratch"))
    scan = Scan(canaries)
    plan = command(
        "pegasus-plan", "-v", "--dir", "submit", "--sites", "local", "--output-sites", "local",
        "--staging-site", "local", "-D", "pegasus.data.configuration=" + data,
        "--submit", "workflow.yml", env=env, cwd=top,
    )  # fmt: skip
    scan.run("pegasus-plan -v --submit", plan)
    assert plan.returncode == 1, plan.stderr  # the failing job fails the run
    submit = next(p.parent for p in (top / "submit").rglob("braindump.yml"))
    assert (top / "output" / "out.txt").read_text() == (
        "published by the dav server\nserved by nginx\n"
    )
    again = command("pegasus-run", str(submit), env=env, cwd=top)  # the resumed run too
    scan.run("pegasus-run", again)
    stats = command("pegasus-statistics", "-s", "all", "--html", str(tmp_path / "report.html"),
                    str(submit), env=env, cwd=top)  # fmt: skip
    assert stats.returncode == 0, stats.stderr
    scan.run("pegasus-statistics", stats)
    scan.text("pegasus-statistics --html", (tmp_path / "report.html").read_bytes())
    analyzer = command("pegasus-analyzer", str(submit), env=env, cwd=top)
    assert analyzer.returncode != 0 and "false_ID" in analyzer.stdout, analyzer.stdout
    scan.run("pegasus-analyzer", analyzer)
    records = list(submit.rglob("false_ID*.out*"))
    assert any("<redacted>" in p.read_text() for p in records), records
    scan.tree(submit, allowed=lambda path: path.name.endswith(CARRIERS))
    # the files that carry a secret to the job that needs it are their owner's alone
    carriers = [p for p in submit.rglob("*") if p.is_file() and p.name.endswith(CARRIERS)]
    holding = [p for p in carriers if canaries.found_in(p.read_bytes())]
    assert holding, "no job spec carries the env profiles: the test checks nothing"
    scan.assert_clean()
    loose = [str(p) for p in holding if stat.S_IMODE(p.stat().st_mode) & 0o077]
    assert loose == [], "secrets in files others can read"
