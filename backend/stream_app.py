"""Entry point of the stream server (a composition root, like wsgi.py):

    granian --interface asgi --factory backend.stream_app:create_app
"""
from backend import create_app as create_flask_app
from backend.notifications.stream_server import StreamServer


def create_app(flask_app=None):
    """The ASGI application serving the live stream of the web app `flask_app` (default: the
    one the environment configures, as wsgi.py builds it)."""
    return StreamServer(flask_app or create_flask_app())
