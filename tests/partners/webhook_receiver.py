"""A real HTTP server on loopback that receives webhook deliveries, answering with the statuses a test queues, and
the receiver's signature check exactly as the README shows it."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


# --- the README's verification code (keep the two the same) ---------------------------------------------------------
def verify(secret: str, body: bytes, header: str, tolerance: int = 300) -> bool:
    """True if `header` (Portal-Signature) signs `body` with `secret` and is at most `tolerance` seconds old."""
    try:
        fields = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False  # too old (or from the future): a replayed delivery
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))
# ---------------------------------------------------------------------------------------------------------------------


class Receiver:
    """Records every POST (headers, raw body) and answers each with the next queued status (200 when none)."""

    def __init__(self):
        self.received: list[dict] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.received.append({"headers": dict(self.headers), "body": body, "path": self.path})
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                answer = json.dumps({"status": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/portal"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def payloads(self) -> list[dict]:
        return [json.loads(request["body"]) for request in self.received]
