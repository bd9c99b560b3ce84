"""A provincial node that lies: it is in the hub's directory with a real key of its own and
signs every message correctly, but what it says is made up — the probe's "lying node".

It serves its JWKS and answers every message it receives with `answer(claims)`, a body the
test decides (`{"in_reply_to", "status", "result" | "problem"}`), signed with its key.
It also sends messages of its own to the hub (`send`)."""
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm


class LyingNode:
    def __init__(self, province: str):
        self.province = province
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.kid = f"liar-{uuid.uuid4().hex[:8]}"
        self.answer = lambda claims: {"in_reply_to": claims["jti"], "status": 200, "result": {}}
        self.received: list[dict] = []
        node = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path != "/api/v1/federation/jwks.json":
                    return self._reply(404, "application/json", b"{}")
                jwk = json.loads(ECAlgorithm.to_jwk(node.key.public_key()))
                body = json.dumps({"keys": [{**jwk, "kid": node.kid, "alg": "ES256", "use": "sig"}]}).encode()
                self._reply(200, "application/json", body)

            def do_POST(self):
                token = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                claims = jwt.decode(token, options={"verify_signature": False})
                node.received.append(claims)
                answer = node.seal(claims["typ"] + ".answer", node.answer(claims), claims["iss"])
                self._reply(200, "application/jose", answer.encode())

            def _reply(self, status, content_type, body):
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def seal(self, typ: str, body: dict, aud: str, **claims) -> str:
        now = int(time.time())
        payload = {"iss": self.province, "aud": aud, "jti": uuid.uuid4().hex, "iat": now, "exp": now + 10, "typ": typ,
                   "body": body, **claims}
        return jwt.encode(payload, self.key, algorithm="ES256", headers={"kid": self.kid})

    def send(self, hub_url: str, typ: str, body: dict, aud: str = "hub") -> tuple[int, dict]:
        """Posts a message of its own to the hub: (HTTP status, the answer's body or problem)."""
        resp = requests.post(hub_url + "/api/v1/federation/messages", data=self.seal(typ, body, aud),
                             headers={"content-type": "application/jose"}, timeout=10)
        if resp.headers.get("content-type", "").startswith("application/jose"):
            return resp.status_code, jwt.decode(resp.text, options={"verify_signature": False})["body"]
        return resp.status_code, resp.json()

    def stop(self):
        self.server.shutdown()
