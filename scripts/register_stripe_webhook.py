"""`make run` helper: once the Stripe emulator answers, point its webhooks at our endpoint.

The emulator keeps webhook endpoints in memory only, so this runs beside it in the Procfile.
It then stays idle, because honcho stops every process as soon as one of them exits.
"""

from __future__ import annotations

import base64
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from marketplace.config import load_config  # noqa: E402

WEBHOOK_PATH = "/api/v1/webhooks/stripe"


def _request(url: str, secret_key: str, data: dict | None = None) -> int:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body)
    token = base64.b64encode(f"{secret_key}:".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status


def wait_for_emulator(api_base: str, secret_key: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _request(f"{api_base}/v1/balance", secret_key)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise SystemExit(f"the Stripe emulator at {api_base} did not start") from None
            time.sleep(0.5)


def main() -> None:
    config = load_config(ROOT / "instance")
    api_base = config["STRIPE_API_BASE"]
    if api_base is None:
        print("STRIPE_API_BASE is unset (real Stripe): register the webhook in the dashboard")
    else:
        wait_for_emulator(api_base, config["STRIPE_SECRET_KEY"])
        url = config["PUBLIC_URL"] + WEBHOOK_PATH
        _request(f"{api_base}/_config/webhooks/sheber", config["STRIPE_SECRET_KEY"],
                 {"url": url, "secret": config["STRIPE_WEBHOOK_SECRET"]})
        print(f"Stripe emulator at {api_base} sends webhooks to {url}", flush=True)
    signal.pause()


if __name__ == "__main__":
    main()
