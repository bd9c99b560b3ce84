"""The chat front-end of Piaojia (DESIGN §9): a client of the HTTP API, never of the backend's
code or database. `flask --app bots.app run` (gunicorn `bots.app:app`), `python -m bots.console`."""
