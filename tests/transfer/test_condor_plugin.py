"""pegasus-transfer as an HTCondor file transfer plugin, called exactly as the starter calls it.

No HTCondor daemons: each test writes the input ads the way the starter does (ClassAd objects
from the ``htcondor`` package's ``classad2`` module, unparsed one after another into
``<iwd>/.pegasus-transfer.in``), pre-fills ``<iwd>/.pegasus-transfer.out`` with spaces as the
starter does, runs the installed console script with ``-infile``/``-outfile`` [``-upload``],
and reads the result ads back with ``classad2``.  Servers are real: nginx for downloads,
moto for an S3 upload, and a small http.server here where a test needs 503s or tokens.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading

import pytest

from tests.conftest import console_script
from tests.servers import free_port
from tests.servers.moto import ACCESS_KEY, REGION, SECRET_KEY
from transfer.classad_text import ClassAdSyntaxError, Opaque, format_ad, parse_ads
from transfer.registry import HANDLERS

classad2 = pytest.importorskip("classad2")

KIB = 1024
PREALLOCATED = 301 * 64  # the starter's pre-allocation: 301 runs of 64 spaces


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def starter_text(ads: list[dict]) -> str:
    """Input ads as the starter writes them: each ClassAd unparsed on one line
    (``[ Url = "..."; LocalFileName = "..." ]``), concatenated with nothing between."""
    out = []
    for attrs in ads:
        ad = classad2.ClassAd()
        for name, value in attrs.items():
            ad[name] = classad2.ExprTree(value) if isinstance(value, Opaque) else value
        out.append("[ %s ]" % "; ".join("%s = %s" % (k, ad.lookup(k)) for k in ad))
    return "".join(out)


def result_ads(text: str) -> list:
    return list(classad2.parseAds(text, classad2.ParserType.New))


class PluginRun:
    def __init__(self, proc: subprocess.CompletedProcess, outfile):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.text = outfile.read_text(encoding="ascii")
        self.ads = result_ads(self.text)


@pytest.fixture
def sandbox(tmp_path):
    iwd = tmp_path / "execute" / "dir_4242"
    iwd.mkdir(parents=True)
    return iwd


@pytest.fixture
def plugin(sandbox):
    """plugin(ads, upload=False, env=None): one starter invocation; a PluginRun."""

    def run(ads, upload: bool = False, env: dict | None = None, text: str | None = None):
        infile = sandbox / ".pegasus-transfer.in"
        outfile = sandbox / ".pegasus-transfer.out"
        infile.write_text(starter_text(ads) if text is None else text, encoding="utf-8")
        outfile.write_text(" " * PREALLOCATED)
        argv = [*console_script("pegasus-transfer"), "-infile", str(infile)]
        argv += ["-outfile", str(outfile)] + (["-upload"] if upload else [])
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PEGASUS_")}
        full_env.update({"PEGASUS_TRANSFER_MAX_ATTEMPTS": "1", **(env or {})})
        proc = subprocess.run(
            argv, cwd=sandbox, env=full_env, capture_output=True, text=True, timeout=120
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        return PluginRun(proc, outfile)

    return run


def sandbox_files(sandbox) -> list[str]:
    """What is in the job's directory besides the plugin's own .in/.out files."""
    return sorted(n for n in os.listdir(sandbox) if not n.startswith(".pegasus-transfer."))


# ---------------------------------------------------------------------------- stub server


class Stub:
    """http.server on 127.0.0.1: ``files`` by path; ``busy[path] = (k, retry_after)``
    answers the first k GETs with 503; ``token`` demands ``Authorization: Bearer <token>``.
    Remembers the Authorization header of every request."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.busy: dict[str, tuple[int, str]] = {}
        self.token: str | None = None
        self.authorizations: list[str | None] = []
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status: int, body: bytes, headers: dict | None = None):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                stub.authorizations.append(self.headers.get("Authorization"))
                left, retry_after = stub.busy.get(self.path, (0, ""))
                if left:
                    stub.busy[self.path] = (left - 1, retry_after)
                    return self.reply(503, b"busy", {"Retry-After": retry_after})
                if stub.token and self.headers.get("Authorization") != "Bearer " + stub.token:
                    return self.reply(403, b"no")
                if self.path not in stub.files:
                    return self.reply(404, b"gone")
                return self.reply(200, stub.files[self.path])

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stub():
    server = Stub()
    yield server
    server.close()


# ---------------------------------------------------------------------------- -classad


def test_classad_capabilities_as_the_starter_reads_them():
    proc = subprocess.run(
        [*console_script("pegasus-transfer"), "-classad"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    ad = classad2.parseOne(proc.stdout)
    assert ad["MultipleFileSupport"] is True
    assert ad["PluginType"] == "FileTransfer"
    assert isinstance(ad["PluginVersion"], str) and ad["PluginVersion"]
    assert ad["ProtocolVersion"] == 2 and isinstance(ad["ProtocolVersion"], int)
    methods = ad["SupportedMethods"].split(",")
    assert methods == list(HANDLERS)  # every registered scheme, no spaces
    assert {"http", "https", "file", "s3", "sftp", "gs", "osdf"} <= set(methods)
    # the starter inserts the output line by line: each line is one whole attribute
    lines = proc.stdout.splitlines()
    assert len(lines) == 5
    for line in lines:
        assert len(classad2.parseOne(line)) == 1, line


def test_the_normal_command_does_not_load_the_plugin():
    code = "import sys, transfer.cli; print('transfer.condor_plugin' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "False", proc.stderr


# ---------------------------------------------------------------------------- downloads


@pytest.mark.server
def test_multi_file_download(nginx_server, plugin, sandbox, tmp_path):
    payloads = {"a.bin": os.urandom(1), "b.bin": os.urandom(100 * KIB), "c é.bin": b""}
    folder = nginx_server.root / "plugin-multi"
    folder.mkdir(exist_ok=True)
    for name, data in payloads.items():
        (folder / name).write_bytes(data)
    local = tmp_path / "local.dat"
    local_data = os.urandom(3 * KIB)
    local.write_bytes(local_data)
    ads = [
        {
            "Url": "%s/plugin-multi/%s" % (nginx_server.url, name.replace(" ", "%20")),
            "LocalFileName": str(sandbox / name),
        }
        for name in payloads
    ]
    ads.append({"LocalFileName": str(sandbox / "local.dat"), "Url": "file://%s" % local})
    # what newer starters add from the job ad; a plugin must ignore it
    ads[0]["PluginData"] = classad2.ClassAd({"Cache": "nearby", "Weight": 2})
    ads[1]["http_PluginData"] = Opaque('strcat("x", MY.Owner) ?: {1, [a = "]"]}')

    run = plugin(ads)

    assert run.rc == 0, run.stderr
    for name, data in payloads.items():
        assert (sandbox / name).read_bytes() == data
    assert (sandbox / "local.dat").read_bytes() == local_data
    assert sandbox_files(sandbox) == sorted([*payloads, "local.dat"])  # no temporary files
    assert len(run.ads) == 4
    sizes = [*(len(d) for d in payloads.values()), len(local_data)]
    for ad, given, size in zip(run.ads, ads, sizes):  # one result per input ad, in order
        assert ad["TransferFileName"] == given["LocalFileName"]
        assert ad["TransferURL"] == given["Url"]
        assert ad["TransferSuccess"] is True
        assert ad["TransferType"] == "download"
        assert ad["TransferTotalBytes"] == size and ad["TransferFileBytes"] == size
        assert isinstance(ad["TransferStartTime"], int)
        assert ad["TransferStartTime"] <= ad["TransferEndTime"]
        assert "TransferError" not in ad and "TransferErrorData" not in ad
    assert [ad["TransferProtocol"] for ad in run.ads] == ["http", "http", "http", "file"]
    assert run.ads[1]["DeveloperData"]["Sha256"] == sha256(payloads["b.bin"])
    assert run.text.strip().endswith("]")  # the pre-allocated spaces are not left behind


@pytest.mark.server
def test_missing_file_fails_with_a_specification_error(nginx_server, plugin, sandbox):
    (nginx_server.root / "here.txt").write_bytes(b"here\n")
    port = nginx_server.url.rsplit(":", 1)[1]
    secret_url = "http://alice:s3cr3t@127.0.0.1:%s/no/such.txt" % port
    ads = [
        {"Url": nginx_server.url + "/here.txt", "LocalFileName": str(sandbox / "here.txt")},
        {"Url": secret_url, "LocalFileName": str(sandbox / "such.txt")},
    ]

    run = plugin(ads, env={"PEGASUS_TRANSFER_MAX_ATTEMPTS": "3"})

    assert run.rc == 1
    assert (sandbox / "here.txt").read_bytes() == b"here\n"
    assert sandbox_files(sandbox) == ["here.txt"]  # nothing, not even a partial file
    good, bad = run.ads
    assert good["TransferSuccess"] is True
    assert bad["TransferSuccess"] is False
    assert bad["TransferFileName"] == str(sandbox / "such.txt")
    shown = "http://alice:XXXX@127.0.0.1:%s/no/such.txt" % port
    assert bad["TransferURL"] == shown
    assert "404" in bad["TransferError"] and shown in bad["TransferError"]
    assert bad["TransferTotalBytes"] == 0
    assert bad["DeveloperData"]["TransferTries"] == 1  # a 404 is not tried again
    (error,) = bad["TransferErrorData"]
    assert error["ErrorType"] == "Specification"
    assert error["FailedServer"] == "127.0.0.1:%s" % port
    assert error["ErrorCode"] == 404
    assert error["Retryable"] == -1
    assert "404" in error["ErrorString"]
    assert "s3cr3t" not in run.text + run.stderr + run.stdout


def test_transient_failures_are_marked_retryable(stub, plugin, sandbox):
    stub.files["/slow"] = b"x"
    stub.busy["/slow"] = (5, "7")
    closed = "http://127.0.0.1:%d/nothing-listens" % free_port()
    ads = [
        {"Url": closed, "LocalFileName": str(sandbox / "refused")},
        {"Url": stub.url + "/slow", "LocalFileName": str(sandbox / "slow")},
    ]

    run = plugin(ads)

    assert run.rc == 1
    refused, busy = run.ads
    assert refused["TransferSuccess"] is False and busy["TransferSuccess"] is False
    (error,) = refused["TransferErrorData"]
    assert error["ErrorType"] == "Contact"
    assert error["FailedServer"] == closed.split("/")[2]
    assert error["Retryable"] == 0
    assert "refused" in refused["TransferError"].lower()
    (error,) = busy["TransferErrorData"]
    assert error["ErrorType"] == "Transfer"
    assert error["ErrorCode"] == 503
    assert error["Retryable"] == 7  # the server's Retry-After
    assert sandbox_files(sandbox) == []


def test_presigned_query_strings_stay_out_of_the_results(stub, plugin, sandbox):
    signature = "X-Amz-Signature=" + os.urandom(16).hex()
    url = stub.url + "/expired.dat?X-Amz-Expires=60&" + signature
    run = plugin([{"Url": url, "LocalFileName": str(sandbox / "expired.dat")}])
    assert run.rc == 1
    (ad,) = run.ads
    assert ad["TransferURL"] == stub.url + "/expired.dat?..."  # as HTCondor prints URLs
    assert "404" in ad["TransferError"]
    assert signature not in run.text


def test_a_busy_server_is_tried_again_within_the_run(stub, plugin, sandbox):
    stub.files["/later"] = b"arrived\n"
    stub.busy["/later"] = (1, "1")
    ads = [{"Url": stub.url + "/later", "LocalFileName": str(sandbox / "later")}]

    run = plugin(ads, env={"PEGASUS_TRANSFER_MAX_ATTEMPTS": "2"})

    assert run.rc == 0, run.stderr
    assert (sandbox / "later").read_bytes() == b"arrived\n"
    (ad,) = run.ads
    assert ad["TransferSuccess"] is True
    assert ad["DeveloperData"]["TransferTries"] == 2


def test_checksum_attribute_is_verified(plugin, sandbox, tmp_path):
    data = os.urandom(20 * KIB)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    ads = [
        {
            "Url": "file://%s" % source,
            "LocalFileName": str(sandbox / "good.bin"),
            "Checksum": sha256(data),
            "ChecksumType": "SHA256",
        },
        {
            "Url": "file://%s" % source,
            "LocalFileName": str(sandbox / "bad.bin"),
            "Checksum": "0" * 64,
        },
    ]

    run = plugin(ads)

    assert run.rc == 1
    assert (sandbox / "good.bin").read_bytes() == data
    assert sandbox_files(sandbox) == ["good.bin"]
    good, bad = run.ads
    assert good["TransferSuccess"] is True
    assert bad["TransferSuccess"] is False
    assert "checksum mismatch" in bad["TransferError"]
    assert [e["ErrorType"] for e in bad["TransferErrorData"]] == ["Transfer", "Transfer"]


def test_tokens_from_condor_creds(stub, plugin, sandbox, tmp_path):
    stub.token = "tok-" + os.urandom(8).hex()
    stub.files["/private.txt"] = b"for token holders\n"
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "my_service.use").write_text(json.dumps({"access_token": stub.token}) + "\n")
    ads = [
        {"Url": "my.service+" + stub.url + "/private.txt", "LocalFileName": str(sandbox / "p")},
        {"Url": "absent+" + stub.url + "/private.txt", "LocalFileName": str(sandbox / "q")},
    ]

    run = plugin(ads, env={"_CONDOR_CREDS": str(creds)})

    assert run.rc == 1
    assert (sandbox / "p").read_bytes() == b"for token holders\n"
    assert stub.authorizations == ["Bearer " + stub.token]  # the second never went out
    ok, missing = run.ads
    assert ok["TransferSuccess"] is True
    assert ok["TransferURL"] == "my.service+" + stub.url + "/private.txt"
    assert missing["TransferSuccess"] is False
    assert "absent.use" in missing["TransferError"]
    (error,) = missing["TransferErrorData"]
    assert error["ErrorType"] == "Authorization"
    assert error["ShouldRefresh"] is True
    assert error["Retryable"] == -1
    assert stub.token not in run.text + run.stderr + run.stdout


def test_one_bad_ad_fails_only_its_file(plugin, sandbox, tmp_path):
    source = tmp_path / "fine.txt"
    source.write_bytes(b"fine\n")
    ads = [
        {"Url": "nosuch://host/x", "LocalFileName": str(sandbox / "x")},
        {"Url": "file://%s" % source},
        {"Url": "file://%s" % source, "LocalFileName": str(sandbox / "fine.txt")},
    ]

    run = plugin(ads)

    assert run.rc == 1
    assert (sandbox / "fine.txt").read_bytes() == b"fine\n"
    unknown, incomplete, fine = run.ads
    assert "unknown URL scheme 'nosuch'" in unknown["TransferError"]
    assert unknown["TransferErrorData"][0]["ErrorType"] == "Parameter"
    assert unknown["TransferErrorData"][0]["PluginLaunched"] is True
    assert "LocalFileName" in incomplete["TransferError"]
    assert incomplete["TransferSuccess"] is False
    assert fine["TransferSuccess"] is True


# ---------------------------------------------------------------------------- uploads


@pytest.mark.server
def test_upload_to_s3(s3_server, plugin, sandbox, tmp_path):
    import boto3

    creds = tmp_path / "credentials.conf"
    creds.write_text(
        "[moto]\nendpoint = %s\nregion = %s\n\n[test@moto]\naccess_key = %s\nsecret_key = %s\n"
        % (s3_server.endpoint_url, REGION, ACCESS_KEY, SECRET_KEY)
    )
    creds.chmod(0o600)
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    bucket = "plugin-" + os.urandom(4).hex()
    client.create_bucket(Bucket=bucket)
    data = os.urandom(200 * KIB)
    (sandbox / "result.dat").write_bytes(data)
    ads = [
        {
            "Url": "s3://test@moto/%s/out/result.dat" % bucket,
            "LocalFileName": str(sandbox / "result.dat"),
        },
        {
            "Url": "s3://test@moto/%s/out/never.dat" % bucket,
            "LocalFileName": str(sandbox / "never.dat"),
        },
    ]
    env = {
        "PEGASUS_CREDENTIALS": str(creds),
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": str(tmp_path),
    }

    run = plugin(ads, upload=True, env=env)

    assert run.rc == 1
    body = client.get_object(Bucket=bucket, Key="out/result.dat")["Body"].read()
    assert body == data
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["out/result.dat"]
    sent, missing = run.ads
    assert sent["TransferSuccess"] is True
    assert sent["TransferType"] == "upload" and sent["TransferProtocol"] == "s3"
    assert sent["TransferFileName"] == str(sandbox / "result.dat")
    assert sent["TransferURL"] == ads[0]["Url"]
    assert sent["TransferTotalBytes"] == len(data)
    assert missing["TransferSuccess"] is False
    assert str(sandbox / "never.dat") in missing["TransferError"]
    assert missing["TransferErrorData"][0]["Retryable"] == -1


# ---------------------------------------------------------------------------- bad calls


def test_input_that_is_not_classads(plugin):
    run = plugin([], text='[ Url = "file:///x"; LocalFileName = "/y" ')
    assert run.rc == 1
    assert "is not ClassAds" in run.stderr
    (ad,) = run.ads
    assert ad["TransferSuccess"] is False
    assert "is not ClassAds" in ad["TransferError"]
    assert ad["TransferErrorData"][0]["ErrorType"] == "Parameter"


def test_missing_outfile_is_one_line(sandbox):
    proc = subprocess.run(
        [*console_script("pegasus-transfer"), "-infile", str(sandbox / "in")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == ("pegasus-transfer: both -infile and -outfile are needed")
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------------------- ClassAd text


def test_parse_ads_reads_what_classad2_writes():
    tricky = 'http://h/a "q" \\ back\tslash é\n'
    first = classad2.ClassAd({"Url": tricky, "LocalFileName": "/s/é", "N": -3, "R": 2.5})
    first["List"] = [1, "two", classad2.ClassAd({"x": True})]
    first["Expr"] = classad2.ExprTree("MY.a + [b = 1].b")
    second = classad2.ClassAd({"URL": "file:///x", "localfilename": "/y"})
    text = str(first) + str(second)  # pretty, multi-line, one after another
    one, two = parse_ads(text.encode("utf-8"))
    assert one["url"] == tricky and one["localfilename"] == "/s/é"
    assert one["n"] == -3 and one["r"] == 2.5
    assert one["list"] == [1, "two", {"x": True}]
    assert isinstance(one["expr"], Opaque)
    assert two == {"url": "file:///x", "localfilename": "/y"}


def test_parse_ads_lists_comments_and_joined_strings():
    text = (
        b'// a comment\n{ [ Url = "a" "b"; /* c */ LocalFileName = "\\303\\251\\101" ],\n'
        b"[ 'LocalFileName' = \"/z\"; Url = undefined; Flag = false; ] }"
    )
    one, two = parse_ads(text)
    assert one == {"url": "ab", "localfilename": "\u00e9A"}
    assert two == {"localfilename": "/z", "url": None, "flag": False}


@pytest.mark.parametrize(
    "text",
    [b'[ Url = "never closed ]', b"[ Url = ]", b"[ Url = (1 ]", b"Url = 1", b'[ Url = "\\0" ]'],
)
def test_parse_ads_rejects_broken_input(text):
    with pytest.raises(ClassAdSyntaxError):
        parse_ads(text)


def test_format_ad_reads_back_in_classad2():
    name = '/s/x "y" \\ é\x01\t'
    ad = {
        "TransferFileName": name,
        "TransferSuccess": False,
        "TransferTotalBytes": 12,
        "ConnectionTimeSeconds": 0.25,
        "TransferErrorData": [{"ErrorType": "Contact", "Retryable": 0}],
        "DeveloperData": {},
    }
    text = format_ad(ad)
    (back,) = result_ads(text)
    assert back["TransferFileName"] == name
    assert back["TransferSuccess"] is False and back["TransferTotalBytes"] == 12
    assert back["ConnectionTimeSeconds"] == 0.25
    assert back["TransferErrorData"][0]["ErrorType"] == "Contact"
    assert parse_ads(text.encode("ascii"))[0]["transferfilename"] == name


def test_a_file_name_that_is_not_utf8_keeps_its_bytes():
    name = "/s/" + b"caf\xe9".decode("utf-8", "surrogateescape")  # Latin-1 bytes on disk
    text = format_ad({"TransferFileName": name})
    assert '"/s/caf\\351"' in text  # the byte, octal, as HTCondor's own unparser writes it
    (back,) = result_ads(text)
    assert '"/s/caf\\351"' in str(back)  # HTCondor holds the same byte
    assert parse_ads(text.encode("ascii"))[0]["transferfilename"] == name
