#!/usr/bin/env python3
"""A registry that lies, for the hostile-input reliability tests.

lying-registry.py PORT OTHER_PORT LOG [USER PASSWORD]

Serves one small, valid image (one uncompressed layer, OCI media types) under every repository
below; what it lies about depends on the repository's first path component:

  honest/img         the truth (a pull succeeds)
  wrongblob/img      the layer blob's bytes are not the ones its digest names
  badconfig/img      the config blob's bytes are not the ones the manifest's config digest names
  wrongmanifest/img  Docker-Content-Digest names other bytes than the manifest sent
  hugemanifest/img   the manifest is 100 MiB of JSON whitespace
  redirect/img       blobs redirect (307) to another host, 127.0.0.1:OTHER_PORT, which serves them
  redirectloop/img   the manifest redirects to itself, forever
  redirectfile/img   the manifest redirects to file:///etc/passwd

With USER and PASSWORD every request on PORT needs HTTP basic authentication. Every request
either server gets is logged to LOG as a JSON line (port, method, path, Authorization header),
so a test can tell whether credentials followed a redirect to the other host.
"""
import base64
import hashlib
import http.server
import io
import json
import socketserver
import sys
import tarfile
import threading

PORT, OTHER_PORT, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
USER = sys.argv[4] if len(sys.argv) > 5 else None
PASSWORD = sys.argv[5] if len(sys.argv) > 5 else None
LOG_LOCK = threading.Lock()


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_layer():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        content = b"served by the lying registry\n"
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


LAYER = make_layer()
CONFIG = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Cmd": ["/hello.txt"]},
    "rootfs": {"type": "layers", "diff_ids": [digest(LAYER)]},
}, sort_keys=True).encode()
MANIFEST = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(CONFIG),
               "size": len(CONFIG)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(LAYER),
                "size": len(LAYER)}],
}, sort_keys=True).encode()
BLOBS = {digest(LAYER): LAYER, digest(CONFIG): CONFIG}
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    port = PORT

    def log_message(self, *args):
        pass

    def record(self):
        line = json.dumps({"port": self.port, "method": self.command, "path": self.path,
                           "authorization": self.headers.get("Authorization")})
        with LOG_LOCK, open(LOG, "a") as log:
            log.write(line + "\n")

    def answer(self, status, body=b"", headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def authorized(self):
        if USER is None or self.port != PORT:
            return True
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") == expected:
            return True
        self.answer(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                    {"WWW-Authenticate": 'Basic realm="lying-registry"', "Content-Type": "application/json"})
        return False

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.record()
        if not self.authorized():
            return
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts == ["v2"]:
            return self.answer(200, b"{}", {"Content-Type": "application/json"})
        if len(parts) < 5 or parts[0] != "v2":
            return self.answer(404)
        mode, kind, reference = parts[1], parts[-2], parts[-1]
        if kind == "manifests":
            return self.manifest(mode, reference)
        if kind == "blobs":
            return self.blob(mode, reference)
        self.answer(404)

    def manifest(self, mode, reference):
        if mode == "hugemanifest":
            size = 100 << 20
            self.send_response(200)
            self.send_header("Content-Type", MANIFEST_TYPE)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b" " * (1 << 20)
            try:
                for _ in range(size >> 20):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if mode == "redirectloop":
            return self.answer(307, headers={"Location": self.path})
        if mode == "redirectfile":
            return self.answer(307, headers={"Location": "file:///etc/passwd"})
        headers = {"Content-Type": MANIFEST_TYPE, "Docker-Content-Digest": digest(MANIFEST)}
        if mode == "wrongmanifest":
            headers["Docker-Content-Digest"] = digest(MANIFEST + b" ")
        self.answer(200, MANIFEST, headers)

    def blob(self, mode, reference):
        data = BLOBS.get(reference)
        if data is None:
            return self.answer(404)
        if mode == "redirect" and self.port == PORT:
            location = f"http://127.0.0.1:{OTHER_PORT}{self.path}"
            return self.answer(307, headers={"Location": location})
        if mode == "wrongblob" and data is LAYER:
            data = LAYER[:-1] + b"\x01"
        if mode == "badconfig" and data is CONFIG:
            data = CONFIG.replace(b"amd64", b"arm64")
        self.answer(200, data, {"Content-Type": "application/octet-stream", "Docker-Content-Digest": reference})


class Other(Handler):
    port = OTHER_PORT


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


other = Server(("127.0.0.1", OTHER_PORT), Other)
threading.Thread(target=other.serve_forever, daemon=True).start()
Server(("127.0.0.1", PORT), Handler).serve_forever()
