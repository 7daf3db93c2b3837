"""The operator's commands of `python -m gateway` (admin, audit, backup), one module per command
group: argparse in, a service call, plain text out. Each module's `register` builds only its
parsers; what a command needs is imported when it runs, so `gateway migrate` or `serve` loads
none of it."""
