"""`python -m gateway serve|migrate|payments reconcile|simulator|admin|audit|backup`: run, migrate,
apply the payments Stripe could not deliver, simulate an upstream, or operate (gateway.commands)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from gateway.logs import configure_logging
from gateway.settings import ConfigError, load_settings, with_dev_secret


def _serve(args: argparse.Namespace) -> None:
    from gateway.services.operations import serving

    try:
        settings = load_settings(dev_secret=False)
    except ConfigError as error:
        sys.exit(f"gateway: {error}")
    refusal = serving.workers_refusal(settings, args.workers)
    if refusal is not None:
        sys.exit(f"gateway: {refusal}")
    if args.workers > 1:
        with_dev_secret(settings)  # made once here, or each worker would make its own
    where = f"http://{args.host}:{args.port}"
    print(f"gateway listening on {where}  (API docs: {where}/docs, OpenAI base_url: {where}/v1)")
    print(f"database: {settings.database_display}; {args.workers} worker process(es)")
    print(f"on SIGTERM, requests in flight get {settings.shutdown_grace_seconds:g} s (SHUTDOWN_GRACE_SECONDS)")
    if settings.admin_api_key is None:
        print("admin routes are closed: restart with ADMIN_API_KEY set to get an admin key, e.g.")
        new_key = "$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        print(f"  ADMIN_API_KEY={new_key} python -m gateway serve")
    else:
        print("admin key: the value of ADMIN_API_KEY (send it as 'Authorization: Bearer ...')")
    sys.stdout.flush()
    serving.run(settings, host=args.host, port=args.port, workers=args.workers, access_log=args.access_log)


def _migrate(_: argparse.Namespace) -> None:
    from gateway.db.database import open_database

    try:  # a container runs this first: a bad setting is named, not a traceback
        settings = load_settings()
    except ConfigError as error:
        sys.exit(f"gateway: {error}")

    async def run() -> list[str]:
        db = await open_database(settings.database_url)
        try:
            return await db.migrate()
        finally:
            await db.close()

    applied = asyncio.run(run())
    print("applied: " + ", ".join(applied) if applied else "the schema is up to date")


def _reconcile(args: argparse.Namespace) -> None:
    from gateway.db.database import open_database
    from gateway.services.payments.reconcile import reconcile
    from gateway.services.payments.setup import command_inbox, payment_config

    settings = load_settings()
    config = payment_config(settings)
    if config is None:
        sys.exit("gateway: STRIPE_SECRET_KEY is not set: there is nothing to reconcile with")

    async def run() -> str:
        db = await open_database(settings.database_url)
        try:
            await db.migrate()
            done = await reconcile(config, command_inbox(settings, db=db, config=config), days=args.days)
        finally:
            await config.api.close()
            await db.close()
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(done.outcomes.items())) or "none"
        return f"events Stripe could not deliver in the last {args.days} days: {done.seen} ({counts})"

    print(asyncio.run(run()))


def _simulator(args: argparse.Namespace) -> None:
    from aiohttp import web

    from gateway.simulator.server import create_app

    print(f"simulated upstream on http://{args.host}:{args.port}/v1", flush=True)
    app = create_app(token_delay=args.token_delay_ms / 1000)
    web.run_app(app, host=args.host, port=args.port, print=None)


def main(argv: list[str] | None = None) -> None:
    configure_logging()
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--access-log", action="store_true", help="uvicorn's access line too (the gateway logs its own)")
    serve.add_argument("--workers", type=int, default=1, help="processes (more than 1 needs PostgreSQL and REDIS_URL)")
    serve.set_defaults(run=_serve)
    commands.add_parser("migrate", help="create or migrate the database schema").set_defaults(run=_migrate)
    payments = commands.add_parser("payments", help="payments with Stripe").add_subparsers(dest="what", required=True)
    reconcile = payments.add_parser("reconcile", help="apply the events Stripe could not deliver")
    reconcile.add_argument("--days", type=int, default=30, choices=range(1, 31), metavar="1-30")
    reconcile.set_defaults(run=_reconcile)
    sim = commands.add_parser("simulator", help="run the simulated upstream")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=9100)
    sim.add_argument("--token-delay-ms", type=float, default=0.0, help="time per generated token")
    sim.set_defaults(run=_simulator)
    from gateway.commands import admin, audit, backup  # their parsers only: each command imports its own needs

    for group in (admin, audit, backup):
        group.register(commands)
    args = parser.parse_args(argv)
    args.run(args)
