#!/usr/bin/env python3
"""A small registry token server for the tests: token-server.py PORT KEY CERT USER PASSWORD.

GET /token?service=S&scope=repository:NAME:ACTIONS answers with a JWT (RS256, the certificate in
the x5c header) granting the asked actions to USER; wrong Basic credentials get 401, anonymous
requests get a token that grants nothing."""
import base64
import http.server
import json
import os
import subprocess
import sys
import time
import urllib.parse

PORT, KEY, CERT, USER, PASSWORD = sys.argv[1:6]
with open(CERT) as f:
    DER = base64.b64encode(subprocess.run(["openssl", "x509", "-in", CERT, "-outform", "DER"],
                                          capture_output=True, check=True).stdout).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(account, service, scopes):
    access = []
    for scope in scopes:
        kind, name, actions = scope.split(":")
        access.append({"type": kind, "name": name, "actions": actions.split(",")})
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [DER]}
    claims = {"iss": "berth-test-issuer", "sub": account, "aud": service, "exp": now + 300, "nbf": now - 10,
              "iat": now, "jti": os.urandom(8).hex(), "access": access}
    signing = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=signing.encode(),
                               capture_output=True, check=True).stdout
    return signing + "." + b64url(signature)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        account, scopes = "", query.get("scope", [])
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if (user, password) != (USER, PASSWORD):
                self.send_response(401)
                self.end_headers()
                return
            account = user
        else:
            scopes = []
        body = json.dumps({"token": token(account, query.get("service", [""])[0], scopes), "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(PORT)), Handler).serve_forever()
