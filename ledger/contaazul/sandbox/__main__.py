"""Run the sandbox standalone: `python -m ledger.contaazul.sandbox [--port 8765] [--auto-consent]`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from .server import Sandbox


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ledger.contaazul.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--client-id", default="aprova-local")
    parser.add_argument("--client-secret", default="local-secret")
    parser.add_argument("--state-file", default=None, help="JSON snapshot that survives restarts")
    parser.add_argument("--auto-consent", action="store_true", help="skip the consent page (headless demo)")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    sandbox = Sandbox(
        client_id=args.client_id,
        client_secret=args.client_secret,
        clock=None,
        auto_consent=args.auto_consent,
        state_file=args.state_file,
    )
    try:
        await sandbox.start(args.host, args.port)
    except OSError as exc:  # the port is taken, or the address is not this machine's
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        raise SystemExit(
            f"✗ cannot listen on {args.host}:{args.port} ({reason}) → pick another port with --port"
        ) from None
    try:
        print(f"Conta Azul sandbox for {sandbox.state.company.razao_social}", flush=True)
        print(f"  auth_url:  {sandbox.auth_url}  (authorize: {sandbox.authorize_url})", flush=True)
        print(f"  api_url:   {sandbox.api_url}", flush=True)
        print(f"  token_url: {sandbox.token_url}", flush=True)
        print(f"  control:   {sandbox.base_url}/_sandbox/state, POST {sandbox.base_url}/_sandbox/faults", flush=True)
        print(f"  client_id={args.client_id} client_secret={args.client_secret}", flush=True)
        await asyncio.Event().wait()
    finally:
        await sandbox.stop()


def main(argv: list[str] | None = None) -> int:
    """Entry point; Ctrl-C stops it quietly."""
    args = _parse(argv)
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
