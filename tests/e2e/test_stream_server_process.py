"""The stream server as production runs it — docker-compose's command with the Dockerfile's
granian settings, a process of its own beside the web process, same database — over real HTTP: refusals as problem details, a
one-time ticket, a receipt issued to the citizen arriving as a frame, Last-Event-ID replay."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from tests.federation.cluster import ROOT, Process, free_port, healthy
from tests.federation.cluster import Hospital, key_of


def image_command_and_env(port: int) -> tuple[list[str], dict]:
    """The stream service's command from docker-compose.yml and the GRANIAN_* settings the
    Dockerfile bakes into the image, on `port` instead of 8001."""
    import re

    import yaml

    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["stream"]["command"]
    command = [str(port) if part == "8001" else part for part in command]
    dockerfile = (ROOT / "Dockerfile").read_text()
    env = dict(re.findall(r"(GRANIAN_[A-Z_]+)=(\S+)", dockerfile))
    env["GRANIAN_HOST"] = "127.0.0.1"
    return [sys.executable, "-m", *command], env


@pytest.fixture(scope="module")
def node_and_streams(tmp_path_factory):
    node = Process("streams", "node", "46", tmp_path_factory.mktemp("streams")).start()
    port = free_port()
    command, image_env = image_command_and_env(port)
    assert command[2:4] == ["granian", "--interface"]
    proc = subprocess.Popen(command, cwd=ROOT, env={**node.env, **image_env, "STREAM_MAX_SECONDS": "20"}, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        assert healthy(url), "the stream server did not start as docker-compose runs it"
        yield node, url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
        node.stop()
        node.drop_database()


def read_frames(resp, wanted, found):
    buffer = b""
    for chunk in resp.iter_content(chunk_size=None):
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.decode().splitlines() if ": " in line and not line.startswith(":"))
            if "event" in fields:
                found.append({"id": fields["id"], "event": fields["event"], "data": json.loads(fields["data"])})
                if len(found) >= wanted:
                    return


def test_the_stream_server_serves_the_citizens_stream_over_http(node_and_streams):
    node, streams = node_and_streams
    refused = requests.get(streams + "/api/v1/me/stream")
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "missing_token" and refused.json()["title"]
    assert requests.get(streams + "/api/v1/me/receipts").status_code == 404  # only the stream is served here

    citizen = node.citizen("zhangsan")
    hospital = Hospital(node, node.operator())
    first = hospital.issue()
    ticket = requests.post(node.url + "/api/v1/me/stream-tickets", headers=citizen).json()["ticket"]
    found = []
    with requests.get(f"{streams}/api/v1/me/stream?ticket={ticket}", stream=True, timeout=30) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        reader = threading.Thread(target=read_frames, args=(resp, 1, found), daemon=True)
        reader.start()
        time.sleep(0.5)
        second = hospital.issue()  # issued while the stream is open
        reader.join(15)
    assert [f["event"] for f in found] == ["receipt.issued"] and found[0]["data"]["receipt_key"] == key_of(second)
    assert requests.get(f"{streams}/api/v1/me/stream?ticket={ticket}").status_code == 401  # a ticket opens one stream

    # Resuming: the frames after Last-Event-ID are replayed from the inbox.
    inbox = requests.get(node.url + "/api/v1/me/notifications", headers=citizen).json()["items"]
    oldest = next(n for n in inbox if n["receipt_key"] == key_of(first))
    replayed = []
    with requests.get(streams + "/api/v1/me/stream", headers={**citizen, "Last-Event-ID": oldest["id"]}, stream=True, timeout=30) as resp:
        read_frames(resp, 1, replayed)
    assert replayed[0]["data"]["receipt_key"] == key_of(second)
