"""``make run``: the whole system on this machine, on embedded defaults.

Starts redis-server (AOF on, data in ``var/redis``), a mail catcher that keeps
every message under ``var/mail/``, and the three services on SQLite files in
``var/``. Prints where everything is. Ctrl-C stops all of it.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from devtools.stack import SERVICES, Stack

VAR = Path("var")
SECRETS_FILE = VAR / "dev-secrets.env"


def dev_secrets() -> dict[str, str]:
    """A token, admin password and session key for this checkout, kept across runs in var/."""
    values: dict[str, str] = {}
    if SECRETS_FILE.exists():
        for line in SECRETS_FILE.read_text().splitlines():
            key, _, value = line.partition("=")
            if value:
                values[key] = value
    for key in ("REGLAB_API_TOKEN", "REGLAB_ADMIN_PASSWORD", "REGLAB_SECRET_KEY"):
        values.setdefault(key, os.environ.get(key) or secrets.token_urlsafe(24))
    VAR.mkdir(exist_ok=True)
    SECRETS_FILE.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    SECRETS_FILE.chmod(0o600)
    return values


def port_from_env(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def main() -> int:
    values = dev_secrets()
    stack = Stack(
        var_dir=VAR.resolve(),
        redis_port=port_from_env("REDIS_PORT", 6380),
        smtp_port=port_from_env("SMTP_PORT", 1025),
        ports={
            service: port_from_env(f"{service.upper()}_PORT", default)
            for service, default in zip(SERVICES, (8000, 8001, 8002), strict=True)
        },
        extra_env={**values, "REGLAB_ENV": "development"},
    )

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Both explicitly: a shell that starts us in the background may have set SIGINT to ignored.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print("Startar Reglab Nätverk …", flush=True)
    try:
        stack.start()
        user = os.environ.get("REGLAB_ADMIN_USER", "admin")
        print(
            "\n"
            "Reglab Nätverk är igång.\n"
            f"  Anmälan (registration)   {stack.url('registration')}/\n"
            f"  Fakturor (invoicing)     {stack.url('invoicing')}/\n"
            f"  E-postlogg (notifications) {stack.url('notifications')}/\n"
            f"  Redis                    {stack.redis_url}  (AOF i var/redis/)\n"
            f"  SMTP-fångare             127.0.0.1:{stack.smtp_port}  (e-post sparas i var/mail/)\n"
            f"  Inloggning               {user} / {values['REGLAB_ADMIN_PASSWORD']}\n"
            f"  API-token                {values['REGLAB_API_TOKEN']}\n"
            f"     t.ex. curl -H 'Authorization: Bearer {values['REGLAB_API_TOKEN']}' "
            f"{stack.url('invoicing')}/api/v1/invoices\n"
            "Tryck Ctrl-C för att stoppa allt.\n",
            flush=True,
        )
        while True:
            for name, process in stack.processes.items():
                if not process.running():
                    print(f"{name} har stannat oväntat; stoppar allt.", file=sys.stderr, flush=True)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStoppar …", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()
        print("Allt är stoppat.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
