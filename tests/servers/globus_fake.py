"""A small fake of the Globus Transfer API (v0.10), for globus-sdk's real TransferClient.

No Globus service can run here, so this stands in for it on loopback: globus-sdk is pointed
at it with ``GLOBUS_SDK_SERVICE_URL_TRANSFER=http://127.0.0.1:PORT/``.  Every endpoint id
is a directory ``<root>/<endpoint-id>`` (made on first use); tasks run synchronously when
they are submitted, so the first ``GET /task/<id>`` already says SUCCEEDED or FAILED.  Only
the calls globus-sdk makes for us are implemented: submission_id, transfer, delete, task
get / cancel / successful_transfers / skipped_errors, operation ls / mkdir, and endpoint
autoactivate.  Requests need ``Authorization: Bearer <token>`` with one of the ``--token``
values (else 401 AuthenticationFailed).  Every request is appended as one JSON line to
``<root>/requests.jsonl`` so tests can see what was asked (e.g. how many tasks).

Run: ``python globus_fake.py --port P --root DIR --token T [--token T2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

if __package__:
    from . import ManagedServer
else:  # run as a script by the fixture
    ManagedServer = object


class GlobusFake(ManagedServer):
    """Serves ``root`` (one directory per endpoint id) at ``url``; ``token`` is accepted."""

    name = "globus-fake"
    start_timeout = 10.0

    def __init__(self, workdir: Path, root: Path, token: str = "fake-transfer-token"):
        super().__init__(workdir)
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.token = token

    def command(self) -> list[str]:
        return [
            sys.executable, os.path.abspath(__file__),
            "--port", str(self.port), "--root", str(self.root), "--token", self.token,
        ]  # fmt: skip

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d/" % self.port

    def endpoint_dir(self, endpoint: str) -> Path:
        return self.root / endpoint

    def requests(self) -> list[dict]:
        log = self.root / "requests.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines() if line]

    def clear_requests(self) -> None:
        log = self.root / "requests.jsonl"
        if log.exists():
            log.unlink()


# ---------------------------------------------------------------------- the server


class Fake:
    def __init__(self, root: Path, tokens: list[str]):
        self.root = root
        self.tokens = set(tokens)
        self.tasks: dict[str, dict] = {}
        self.lock = threading.Lock()

    def local(self, endpoint: str, path: str) -> Path:
        base = (self.root / endpoint).resolve()
        base.mkdir(parents=True, exist_ok=True)
        relative = path.replace("/~/", "/", 1) if path.startswith("/~/") else path
        full = (base / relative.lstrip("/")).resolve()
        if full != base and base not in full.parents:
            raise PermissionError(path)
        return full

    def new_task(self, kind: str, **fields) -> dict:
        task_id = str(uuid.uuid4())
        task = {
            "DATA_TYPE": "task",
            "task_id": task_id,
            "type": kind,
            "status": "SUCCEEDED",
            "nice_status": None,
            "nice_status_short_description": None,
            "fatal_error": None,
            "files": 0,
            "files_skipped": 0,
            "files_transferred": 0,
            "subtasks_failed": 0,
            "_successful": [],
            "_skipped": [],
        }
        task.update(fields)
        self.tasks[task_id] = task
        return task

    def run_transfer(self, doc: dict) -> dict:
        src_ep, dst_ep = doc["source_endpoint"], doc["destination_endpoint"]
        task = self.new_task(
            "TRANSFER",
            source_endpoint_id=src_ep,
            destination_endpoint_id=dst_ep,
            label=doc.get("label"),
            _items=len(doc["DATA"]),
        )
        for item in doc["DATA"]:
            task["files"] += 1
            src_path, dst_path = item["source_path"], item["destination_path"]
            try:
                src = self.local(src_ep, src_path)
                dst = self.local(dst_ep, dst_path)
                if not src.is_file():
                    raise FileNotFoundError(src_path)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
            except (FileNotFoundError, PermissionError) as exc:
                code = (
                    "FILE_NOT_FOUND" if isinstance(exc, FileNotFoundError) else "PERMISSION_DENIED"
                )
                if doc.get("skip_source_errors"):
                    task["files_skipped"] += 1
                    task["_skipped"].append(
                        {
                            "DATA_TYPE": "skipped_error",
                            "source_path": src_path,
                            "destination_path": dst_path,
                            "error_code": code,
                            "error_details": "%s: %s" % (code, src_path),
                            "is_directory": False,
                            "is_symlink": False,
                        }
                    )
                    continue
                task["status"] = "FAILED"
                task["nice_status"] = code
                task["fatal_error"] = {"code": code, "description": "%s: %s" % (code, src_path)}
                continue
            task["files_transferred"] += 1
            task["_successful"].append(
                {
                    "DATA_TYPE": "successful_transfer",
                    "source_path": src_path,
                    "destination_path": dst_path,
                }
            )
        return task

    def run_delete(self, doc: dict) -> dict:
        endpoint = doc["endpoint"]
        task = self.new_task("DELETE", source_endpoint_id=endpoint, _items=len(doc["DATA"]))
        for item in doc["DATA"]:
            path = item["path"]
            try:
                target = self.local(endpoint, path)
            except PermissionError:
                task.update(status="FAILED", fatal_error={"code": "PERMISSION_DENIED"})
                continue
            if target.is_dir():
                if not doc.get("recursive"):
                    task.update(
                        status="FAILED",
                        fatal_error={
                            "code": "DIRECTORY_NOT_EMPTY",
                            "description": "%s is a directory; recursive is false" % path,
                        },
                    )
                    continue
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            elif not doc.get("ignore_missing"):
                task.update(
                    status="FAILED",
                    fatal_error={"code": "FILE_NOT_FOUND", "description": path},
                )
        return task


class Handler(BaseHTTPRequestHandler):
    fake: Fake
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: requests go to requests.jsonl
        pass

    def reply(self, status: int, doc: dict) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status: int, code: str, message: str) -> None:
        self.reply(status, {"code": code, "message": message, "request_id": "fake"})

    def handle_any(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        path = parts.path
        if path.startswith("/v0.10/"):
            path = path[len("/v0.10") :]
        with self.fake.lock:
            with open(self.fake.root / "requests.jsonl", "a", encoding="utf-8") as log:
                log.write(
                    json.dumps({"method": method, "path": path, "query": query, "body": body})
                    + "\n"
                )
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in self.fake.tokens:
                return self.error(401, "AuthenticationFailed", "Token is not active")
            try:
                self.route(method, path.strip("/").split("/"), query, body)
            except KeyError as exc:
                self.error(400, "ClientError.BadRequest", "missing %s" % exc)

    def route(self, method: str, parts: list[str], query: dict, body) -> None:
        fake = self.fake
        if method == "GET" and parts == ["submission_id"]:
            return self.reply(200, {"DATA_TYPE": "submission_id", "value": str(uuid.uuid4())})
        if method == "POST" and parts == ["transfer"]:
            task = fake.run_transfer(body)
            return self.reply(202, _accepted(task, "transfer", body))
        if method == "POST" and parts == ["delete"]:
            task = fake.run_delete(body)
            return self.reply(202, _accepted(task, "delete", body))
        if parts[0] == "task" and len(parts) >= 2:
            task = fake.tasks.get(parts[1])
            if task is None:
                return self.error(404, "ClientError.NotFound", "Task %s not found" % parts[1])
            if method == "GET" and len(parts) == 2:
                return self.reply(200, {k: v for k, v in task.items() if not k.startswith("_")})
            if method == "POST" and parts[2:] == ["cancel"]:
                return self.reply(200, {"code": "TaskComplete", "message": "already complete"})
            if method == "GET" and parts[2:] == ["successful_transfers"]:
                return self.reply(200, _page("successful_transfers", task["_successful"]))
            if method == "GET" and parts[2:] == ["skipped_errors"]:
                return self.reply(200, _page("skipped_errors", task["_skipped"]))
        if parts[:2] == ["operation", "endpoint"] and len(parts) == 4:
            return self.operation(method, parts[2], parts[3], query, body)
        if method == "POST" and parts[0] == "endpoint" and parts[2:] == ["autoactivate"]:
            return self.reply(
                200,
                {
                    "DATA_TYPE": "activation_result",
                    "code": "AutoActivated.CachedCredential",
                    "endpoint": parts[1],
                    "expires_in": -1,
                },
            )
        return self.error(404, "ClientError.NotFound", "no such call in the fake")

    def operation(self, method: str, endpoint: str, op: str, query: dict, body) -> None:
        if op == "ls" and method == "GET":
            path = query.get("path", "/~/")
            target = self.fake.local(endpoint, path)
            if not target.exists():
                return self.error(
                    404, "ClientError.NotFound", "Directory '%s' not found on endpoint" % path
                )
            if not target.is_dir():
                return self.error(
                    502, "ExternalError.DirListingFailed.NotDirectory", "%s: not a directory" % path
                )
            entries = [
                {
                    "DATA_TYPE": "file",
                    "name": child.name,
                    "type": "dir" if child.is_dir() else "file",
                    "size": child.stat().st_size,
                }
                for child in sorted(target.iterdir())
            ]
            limit = int(query.get("limit") or len(entries) or 1)
            return self.reply(
                200,
                {"DATA_TYPE": "file_list", "path": path, "DATA": entries[:limit], "length": limit},
            )
        if op == "mkdir" and method == "POST":
            path = body["path"]
            target = self.fake.local(endpoint, path)
            if target.exists():
                return self.error(
                    502, "ExternalError.MkdirFailed.Exists", "Path already exists: %s" % path
                )
            if not target.parent.is_dir():
                return self.error(404, "ClientError.NotFound", "Parent of %s does not exist" % path)
            target.mkdir()
            return self.reply(
                202,
                {
                    "DATA_TYPE": "mkdir_result",
                    "code": "DirectoryCreated",
                    "message": "The directory was created successfully",
                },
            )
        return self.error(404, "ClientError.NotFound", "no such operation in the fake")

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")


def _accepted(task: dict, resource: str, body: dict) -> dict:
    return {
        "DATA_TYPE": "%s_result" % resource,
        "code": "Accepted",
        "message": "The %s has been accepted and a task has been created" % resource,
        "resource": "/%s" % resource,
        "submission_id": body.get("submission_id"),
        "task_id": task["task_id"],
        "request_id": "fake",
    }


def _page(kind: str, data: list) -> dict:
    return {"DATA_TYPE": kind, "marker": 0, "next_marker": None, "DATA": data}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--token", action="append", default=[])
    args = parser.parse_args()
    Handler.fake = Fake(Path(args.root), args.token)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
