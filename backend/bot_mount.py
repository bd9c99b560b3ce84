"""The embedded default mounts the chat bot at /bot/ in the web process (one command starts
everything; the mini-app's 助手 tab reaches it on the same origin). The bot still talks to
Piaojia only over HTTP (PIAOJIA_API_URL): this module composes WSGI apps, nothing more.
In production the bot runs on its own (`gunicorn bots.app:app`) behind the same proxy."""
import os

from werkzeug.middleware.dispatcher import DispatcherMiddleware


def mount(flask_app, api_url: str | None = None, **env):
    from bots.app import create_app as create_bot
    from bots.config import BotConfig

    settings = {**os.environ, **env}
    if api_url:
        settings["PIAOJIA_API_URL"] = api_url
    bot = create_bot(BotConfig(settings))
    flask_app.wsgi_app = DispatcherMiddleware(flask_app.wsgi_app, {"/bot": bot.wsgi_app})
    flask_app.extensions["piaojia_bot_app"] = bot
    return bot
