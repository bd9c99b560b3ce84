"""`flask --app wsgi …` commands. Each one calls the same services the API uses."""
import json

import click


def register(app):
    @app.cli.command("create-operator")
    @click.argument("name")
    def create_operator(name):
        """Create a fiscal operator's API client; prints its credentials as JSON."""
        from backend.clients.services import create_operator as create

        click.echo(json.dumps(create(name)))
