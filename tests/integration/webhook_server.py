# A webhook receiver for the integration tests: listens on 127.0.0.1:PORT,
# answers 500 to the first FAIL requests and 200 after, checks the
# Custos-Signature header against KEY (hex), and appends one JSON line per
# request (headers, body, signature check) to LOG.
import hashlib
import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

port, key_hex, fails, log = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
key = bytes.fromhex(key_hex)
seen = {"n": 0}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        sig = self.headers.get("Custos-Signature", "")
        parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
        want = hmac.new(key, parts.get("t", "").encode() + b"." + body, hashlib.sha256).hexdigest()
        seen["n"] += 1
        status = 500 if seen["n"] <= fails else 200
        with open(log, "a") as f:
            f.write(json.dumps({"status": status,
                                "signature_ok": hmac.compare_digest(want, parts.get("v1", "")),
                                "idempotency_key": self.headers.get("Idempotency-Key"),
                                "body": body.decode()}) + "\n")
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", port), Handler).serve_forever()
