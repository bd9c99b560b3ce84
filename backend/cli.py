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

    @app.cli.command("create-bot-client")
    @click.argument("name")
    def create_bot_client(name):
        """Create the chat bot's API client (DESIGN §9); prints its credentials as JSON."""
        from backend.clients.services import create_client
        from backend.extensions import db

        client, secret = create_client("bot", name.strip() or "bot")
        db.session.commit()
        click.echo(json.dumps({"client_id": client.client_id, "client_secret": secret}))

    @app.cli.command("seed-demo")
    @click.option("--units-only", is_flag=True, help="only the demo units (a node of a province without demo hospitals)")
    def seed_demo(units_only):
        """Load demo hospitals, citizens' receipts and credentials (embedded default)."""
        import logging

        from backend.demo.seed import seed_demo as seed

        logging.getLogger().setLevel(logging.WARNING)  # 40 deliveries and request lines would bury the summary
        summary = seed(app, units_only=units_only)
        click.echo("Demo data ready: %(receipts)d receipts (%(newly_applied)d new)." % summary)
        click.echo("Fiscal operator API client: " + json.dumps(summary["operator"]))
        for name, issuer_id in summary["hospitals"].items():
            click.echo(f"Issuer {name}: {issuer_id}")
        for unit in summary["units"]:
            click.echo(f"Unit {unit['name']} (console /console/): client_id={unit['client_id']} client_secret={unit['client_secret']}")

    @app.cli.command("sweep")
    def sweep():
        """Enqueue (or run inline) undelivered events, due webhook retries and expired locks."""
        from backend.sweeper import sweep as run_sweep

        click.echo(json.dumps(run_sweep()))

    @app.cli.command("purge")
    @click.option("--hours", default=48, show_default=True, help="keep records younger than this")
    def purge(hours):
        """Delete idempotency keys and issuer webhook replay records older than --hours (≥ 24),
        and expired single-use assertions and stream tickets."""
        from datetime import timedelta

        from backend.citizens.services import purge_expired_credentials
        from backend.common.idempotency import purge as purge_keys
        from backend.receipts.webhooks import purge_replay_records

        if hours < 24:
            raise click.BadParameter("keys are kept at least 24 hours", param_hint="--hours")
        age = timedelta(hours=hours)
        click.echo(json.dumps({"idempotency_keys": purge_keys(age), "webhook_replays": purge_replay_records(age),
                               **purge_expired_credentials()}))

    @app.cli.command("archive-check")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    def archive_check(path):
        """Check an electronic archive (GET /api/v1/unit/archive): every SHA-256 against manifest.json
        and manifest.sha256, every layout file's signature against this node's certificate, every
        data file's finance seal against this node's key, metadata.xml. Prints a JSON report;
        exits 1 when anything is wrong."""
        from flask import current_app

        from backend.receipts.signing import platform_signer
        from backend.reimbursements.archive import check_archive
        from backend.verification.layout import signer

        node = platform_signer()
        report = check_archive(path, [signer().cert_pem], node.public_key, supervisor_alg=node.alg,
                               max_layout_bytes=current_app.config["LAYOUT_MAX_BYTES"])
        click.echo(json.dumps(report, ensure_ascii=False))
        if not report["ok"]:
            raise click.exceptions.Exit(1)

    @app.cli.group("federation")
    def federation():
        """The hub's directory of provincial nodes (DESIGN §6)."""

    @federation.command("add-node")
    @click.argument("province")
    @click.argument("url")
    def add_node(province, url):
        """Fetch URL/api/v1/federation/jwks.json and enter the node in the directory."""
        from backend.federation import directory

        click.echo(json.dumps(directory.add_node(province, url), ensure_ascii=False))

    @federation.command("nodes")
    def nodes():
        """The directory: every node, its URL and keys."""
        from backend.federation import directory

        click.echo(json.dumps(directory.listing(), ensure_ascii=False))

    @federation.command("refresh-node")
    @click.argument("province")
    def refresh_node(province):
        """Fetch the node's keys again: new ones are added, dropped ones retire after the overlap."""
        from backend.federation import directory

        click.echo(json.dumps(directory.refresh_node(province), ensure_ascii=False))

    @federation.command("retire-key")
    @click.argument("province")
    @click.argument("kid")
    def retire_key(province, kid):
        """Retire one of a node's keys at once (e.g. a leaked key)."""
        from backend.federation import directory

        click.echo(json.dumps(directory.retire_key(province, kid), ensure_ascii=False))

    @federation.command("subscriptions")
    @click.option("--province", default=None, help="only this node's subscriptions")
    @click.option("--payer-fhash", default=None, help="only this payer hash")
    @click.option("--limit", default=50, show_default=True)
    def subscriptions(province, payer_fhash, limit):
        """Hub: the audit of payer subscriptions (which node asked for whose receipts), newest first."""
        from backend.federation.hub import subscriptions as listing

        click.echo(json.dumps(listing(province, payer_fhash, limit=limit), ensure_ascii=False))

