"""`python -m bots.console [zhangsan|lisi|wangwu|zhaoliu]`: chat with the bot in a terminal,
signed in as a demo citizen of the embedded default (through the demo identity provider and
the same sign-in as the mini-app). Talks to Piaojia over HTTP only (PIAOJIA_API_URL)."""
import os
import sys
from datetime import datetime, timezone

import requests

from bots.api_client import CitizenApi
from bots.core.dialog import Conversation
from bots.core.errors import ApiError
from bots.service import render_text
from bots.store import MemoryStore


def sign_in(api_url: str, handle: str) -> dict:
    base = api_url.rstrip("/") + "/api/v1"
    assertion = requests.post(base + "/demo/assertion", json={"citizen": handle}, timeout=5)
    if assertion.status_code != 200:
        raise SystemExit("没有演示身份提供方：请在内嵌默认模式（./scripts/run.sh）下使用终端聊天。")
    tokens = requests.post(base + "/auth/citizen", json={"assertion": assertion.json()["assertion"]}, timeout=5)
    tokens.raise_for_status()
    return tokens.json()


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    handle = args[0] if args else "zhangsan"
    api_url = os.environ.get("PIAOJIA_API_URL", "http://127.0.0.1:5000")
    try:
        tokens = sign_in(api_url, handle)
    except requests.RequestException:
        print(f"无法连接票夹服务 {api_url}，请先运行 ./scripts/run.sh", file=sys.stderr)
        return 1
    api = CitizenApi(api_url, tokens["access_token"], tokens["refresh_token"])
    conversation = Conversation(app_url=os.environ.get("PIAOJIA_APP_URL", api_url.rstrip("/") + "/app/"), store=MemoryStore())
    print(f"票夹助手（{handle}）：输入问题，例如「我的票据」「报销进度」「帮助」；Ctrl+D 退出。")
    for line in sys.stdin:
        text = line.strip()
        if not text:
            continue
        try:
            reply = conversation.reply(f"console:{handle}", text, api, datetime.now(timezone.utc))
            print(render_text(reply), flush=True)
        except ApiError as exc:
            print(f"出错了：{exc.title}", flush=True)
        print("> ", end="", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
