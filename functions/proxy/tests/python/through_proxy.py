"""Drive the authorizing proxy with the official Python client (elasticsearch 9.x).

Usage: through_proxy.py URL, with PROXY_USERNAME, PROXY_PASSWORD and PROXY_API_KEY in the
environment (never on the command line). Prints only "ok" lines and exits non-zero on the first
failure. The grant reads logs-2026.11 only.
"""

import os
import sys

from elasticsearch import AuthenticationException, AuthorizationException, Elasticsearch

URL = sys.argv[1]


def check(condition, what):
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok {what}")


by_key = Elasticsearch(URL, api_key=os.environ["PROXY_API_KEY"])
by_user = Elasticsearch(URL, basic_auth=(os.environ["PROXY_USERNAME"], os.environ["PROXY_PASSWORD"]))

check(by_key.info()["version"]["number"].startswith("9."), "info")
hits = by_key.search(index="logs-*", query={"match_all": {}})["hits"]["hits"]
check(hits and all(h["_index"] == "logs-2026.11" for h in hits), "search allowed")
check(by_user.search(index="logs-2026.11", size=0)["hits"]["total"]["value"] > 0, "search with basic auth")
try:
    by_user.search(index="secrets-1")
    check(False, "search refused")
except AuthorizationException as e:
    check(e.meta.status == 403 and "unauthorized" in str(e), "search refused")
try:
    Elasticsearch(URL, basic_auth=(os.environ["PROXY_USERNAME"], "wrong")).info()
    check(False, "wrong password refused")
except AuthenticationException as e:
    check(e.meta.status == 401, "wrong password refused")
