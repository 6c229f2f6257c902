#!/usr/bin/env python3
"""A webhook receiver for scripts/webhook-check.sh: verifies each POST's signature with the
Standard Webhooks reference library (PyPI `standardwebhooks`, not code written here), and
writes one JSON line per request to the log:

  {"ok": true,  "id": webhook-id, "type": ..., "issue": id, "ts": payload timestamp,
   "recv": unix seconds on arrival, "sigs": how many signatures the header held}
  {"ok": false, "id": webhook-id, "error": why the library refused it}

A verified request is answered 204 (after --delay seconds: a request stays in flight that
long), a refused one 400. The secret is read from --secret-file on every request, so the
check can hand it a rotated secret without restarting it. GET answers 200 (a health check).
"""
import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--secret-file", required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--delay", type=float, default=0.0, help="seconds before answering a verified request")
args = parser.parse_args()

lock = threading.Lock()
log = open(args.log, "a", buffering=1)


def record(entry):
    with lock:
        log.write(json.dumps(entry) + "\n")
        log.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def answer(self, status, body=b""):
        try:
            self.send_response(status)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)
        except OSError:
            pass  # the sender went away (killed mid-request): nothing to answer

    def do_GET(self):
        self.answer(200, b"ok")

    def do_POST(self):
        recv = time.time()
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {k: v for k, v in self.headers.items()}
        with open(args.secret_file) as f:
            secret = f.read().strip()
        try:
            payload = Webhook(secret).verify(body, headers)
        except Exception as err:  # WebhookVerificationError, or a malformed header
            record({"ok": False, "id": headers.get("webhook-id") or headers.get("Webhook-Id"),
                    "error": f"{type(err).__name__}: {err}", "recv": recv})
            self.answer(400, b"bad signature")
            return
        issue = (payload.get("data") or {}).get("issue") or {}
        record({
            "ok": True,
            "id": self.headers.get("webhook-id"),
            "type": payload.get("type"),
            "issue": issue.get("id"),
            "ts": payload.get("timestamp"),
            "recv": recv,
            "sigs": len(self.headers.get("webhook-signature", "").split()),
        })
        if args.delay:
            time.sleep(args.delay)
        self.answer(204)


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.allow_reuse_address = True
ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
