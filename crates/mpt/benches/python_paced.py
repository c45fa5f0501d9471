"""The official Python client (mpt-api-client) disabling tokens one by one, as an administrator's
script would, against a rate-limited server (its own retries on 429 included).

Usage: python python_paced.py BASE_URL SECRET IDS_FILE
Prints one JSON object: the wall time and how many ids failed.
"""

import json
import sys
import time

from mpt_api_client import BearerTokenAuthentication, MPTClient


def main() -> None:
    base_url, secret, ids_file = sys.argv[1], sys.argv[2], sys.argv[3]
    ids = [line.strip() for line in open(ids_file) if line.strip()]
    client = MPTClient.from_config(BearerTokenAuthentication(secret), base_url)
    tokens = client.accounts.api_tokens
    failed = 0
    started = time.perf_counter()
    for token_id in ids:
        try:
            tokens.disable(token_id)
        except Exception:  # noqa: BLE001 - a failed id is counted, not fatal
            failed += 1
    print(json.dumps({"wall_s": time.perf_counter() - started, "failed": failed}))


if __name__ == "__main__":
    main()
