"""A real HTTP server on loopback that plays a unit's webhook endpoint."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Answers with the scripted statuses in turn (then the last one forever) and keeps
    every request it got. `delay` seconds before answering simulates a slow endpoint; `tls`
    (a server-side ssl.SSLContext) makes it an https endpoint."""

    def __init__(self, statuses=(200,), delay=0.0, host="127.0.0.1", port=0, tls=None):
        self.statuses = list(statuses)
        self.delay = delay
        self.requests = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body.decode()})
                    status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                if receiver.delay:
                    threading.Event().wait(receiver.delay)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        if tls is not None:  # an ssl.SSLContext for the server side
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://{host}:{self.port}/hooks/piaojia"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def event_ids(self):
        return [r["headers"].get("webhook-id") for r in self.requests]
