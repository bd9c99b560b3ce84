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

    @app.cli.command("seed-demo")
    def seed_demo():
        """Load demo hospitals, citizens' receipts and credentials (embedded default)."""
        from backend.demo.seed import seed_demo as seed

        summary = seed(app)
        click.echo("Demo data ready: %(receipts)d receipts (%(newly_applied)d new)." % summary)
        click.echo("Fiscal operator API client: " + json.dumps(summary["operator"]))
        for name, issuer_id in summary["hospitals"].items():
            click.echo(f"Issuer {name}: {issuer_id}")
