"""`python -m gateway.simulator --port 9100`: run the simulated upstream on its own."""

from __future__ import annotations

import argparse

from aiohttp import web

from gateway.simulator.server import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="Simulated OpenAI-compatible upstream")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--token-delay-ms", type=float, default=0.0, help="time per generated token (streamed or not)")
    args = parser.parse_args()
    print(f"simulated upstream on http://{args.host}:{args.port}/v1", flush=True)
    web.run_app(create_app(token_delay=args.token_delay_ms / 1000), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
