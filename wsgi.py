"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""
import os

from dotenv import load_dotenv

load_dotenv()

from backend import create_app  # noqa: E402

app = create_app()

if os.environ.get("PIAOJIA_MOUNT_BOT") == "1":  # the embedded default (scripts/run.sh): the chat bot at /bot/
    from backend.bot_mount import mount  # noqa: E402

    mount(app)
