"""`python -m bots.demo_curl [TEXT] [OPENID]`: prints a curl command posting a freshly signed
WeChat text message (plain mode) to the bot's /wechat callback, as WeChat would — to try the
bot of the embedded default without an official account. Signatures last 5 minutes."""
import hashlib
import os
import secrets
import shlex
import sys
import time


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = args[0] if args else "报销进度"
    openid = args[1] if len(args) > 1 else "o-demo-openid-0001"
    token = os.environ.get("WECHAT_TOKEN", "piaojia-demo-token")
    base = os.environ.get("BOT_URL", "http://127.0.0.1:5000/bot")
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    xml = (f"<xml><ToUserName><![CDATA[gh_piaojia_demo]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
           f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content>"
           f"<MsgId>{secrets.randbelow(10**15)}</MsgId></xml>")
    url = f"{base}/wechat?signature={signature}&timestamp={timestamp}&nonce={nonce}"
    print(f"curl -s -X POST {shlex.quote(url)} -H 'content-type: text/xml' --data-binary {shlex.quote(xml)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
