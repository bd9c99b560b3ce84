"""Static front-ends served by the web process, each under a strict Content-Security-Policy.

The mini-app (`miniapp_mock/`) and the console (`backend/console/static/`) are clients of
the HTTP API only: this module serves their files and nothing else.
"""
from pathlib import Path

from flask import Blueprint, current_app, redirect, render_template, send_from_directory

ROOT = Path(__file__).resolve().parents[2]
MINIAPP_DIR = ROOT / "miniapp_mock"
CONSOLE_DIR = ROOT / "backend" / "console" / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

blp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/static/web")


@blp.after_request
def secure_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-cache"
    return response


@blp.get("/")
def home():
    cfg = current_app.config
    demo = "demo" in current_app.blueprints  # registered only while the demo identity provider is active
    return render_template("home.html", province=cfg.get("NODE_PROVINCE"), env=cfg.get("ENV_NAME"), demo=demo)


@blp.get("/api/docs")
@blp.get("/api/docs/")
def api_docs():
    return render_template("api_docs.html")


@blp.get("/app")
@blp.get("/console")
def add_slash():
    from flask import request

    return redirect(request.path + "/", code=308)


@blp.get("/app/")
@blp.get("/app/<path:filename>")
def miniapp(filename="index.html"):
    return send_from_directory(MINIAPP_DIR, filename)


@blp.get("/console/")
@blp.get("/console/<path:filename>")
def console(filename="index.html"):
    return send_from_directory(CONSOLE_DIR, filename)
