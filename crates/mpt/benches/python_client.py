"""The official Python client (mpt-api-client) doing what benches/sdk.rs measures for Rust.

Usage: python python_client.py BASE_URL SECRET TOKEN_ID GETS
Prints one JSON object: median get latency and client CPU per get (seconds), and the time and
count of a full listing.
"""

import json
import statistics
import sys
import time

from mpt_api_client import BearerTokenAuthentication, MPTClient


def main() -> None:
    base_url, secret, token_id, gets = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = MPTClient.from_config(BearerTokenAuthentication(secret), base_url)
    tokens = client.accounts.api_tokens
    for _ in range(100):  # warm up, as the Rust side does
        tokens.get(token_id)
    latencies = []
    cpu_start = time.process_time()
    for _ in range(gets):
        started = time.perf_counter()
        tokens.get(token_id)
        latencies.append(time.perf_counter() - started)
    cpu = time.process_time() - cpu_start
    started = time.perf_counter()
    count = sum(1 for _ in tokens.iterate())
    listing = time.perf_counter() - started
    print(json.dumps({
        "get_median_s": statistics.median(latencies),
        "get_cpu_s": cpu / gets,
        "list_s": listing,
        "list_count": count,
    }))


if __name__ == "__main__":
    main()
