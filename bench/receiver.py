"""A webhook receiver for bench/events.sh: answers 204 to every POST,
counts them, and tells on GET how many came and when the first and the last
did (JSON). Threaded, keep-alive (HTTP/1.1).
  python3 bench/receiver.py PORT
"""
import http.server
import json
import sys
import threading
import time

lock = threading.Lock()
state = {"count": 0, "first": None, "last": None}


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        now = time.time()
        with lock:
            state["count"] += 1
            state["first"] = state["first"] or now
            state["last"] = now
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self):
        with lock:
            body = json.dumps(state).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
