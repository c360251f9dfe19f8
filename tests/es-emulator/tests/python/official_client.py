"""Drive the ES emulator through the official Python client (elasticsearch 9.x).

Every request shape elastic-jit's driver sends, and every call a credential holder typically
makes, goes through the real client: a missing X-Elastic-Product header, a media type the client
cannot read or a response shape it rejects fails here. Usage: official_client.py URL PASSWORD.
Prints only "ok" lines (never a credential) and exits non-zero on the first failure.
"""

import sys

from elasticsearch import Elasticsearch

URL, ELASTIC_PASSWORD = sys.argv[1], sys.argv[2]
MANAGED = {"managed_by": "elastic-jit", "integration": "py-client", "grant_id": "py-1"}


def check(condition, what):
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok {what}")


admin = Elasticsearch(URL, basic_auth=("elastic", ELASTIC_PASSWORD))

# What the driver sends, in the order a grant's life sends it.
check(admin.info()["version"]["number"].startswith("9."), "info")
priv = admin.security.has_privileges(
    cluster=["monitor", "manage_security"],
    index=[{"names": ["*"], "privileges": ["monitor", "view_index_metadata"]}],
)
check(priv["cluster"]["manage_security"] is True and "*" in priv["index"], "has_privileges (connector check)")
resolved = admin.indices.resolve_index(name="*", expand_wildcards="all")
check(any(i["name"] == "logs-2026.11" for i in resolved["indices"]), "resolve_index expand_wildcards=all")
check(any(d["name"] == "metrics-app" for d in resolved["data_streams"]), "resolve_index data streams")
mappings = admin.indices.get_mapping(expand_wildcards="all", filter_path="*.mappings._meta")
check(mappings["logs-2026.11"]["mappings"]["_meta"]["owner"] == "alice@example.com", "get_mapping filter_path")
streams = admin.indices.get_data_stream(
    name="*", expand_wildcards="all", filter_path="data_streams.name,data_streams._meta"
)
check(streams["data_streams"][0]["_meta"]["owner"] == "ops@example.com", "get_data_stream filter_path")
full_stream = admin.indices.get_data_stream(name="metrics-app")
check("settings" in full_stream["data_streams"][0], "get_data_stream settings")

role = admin.security.put_role(
    name="ejit_grant_py-1",
    cluster=[],
    indices=[{"names": ["logs-2026.11"], "privileges": ["read", "view_index_metadata"], "allow_restricted_indices": False}],
    metadata=MANAGED,
)
check(role["role"]["created"] is True, "put_role")
user = admin.security.put_user(
    username="ejit_py@example.com",
    password="py-client-password-1",
    roles=["ejit_grant_py-1"],
    enabled=True,
    full_name="py@example.com",
    email="py@example.com",
    metadata={"managed_by": "elastic-jit", "integration": "py-client", "requester": "py-sub"},
)
check(user["created"] is True, "put_user")
key = admin.security.grant_api_key(
    grant_type="password",
    username="ejit_py@example.com",
    password="py-client-password-1",
    api_key={
        "name": "ejit_grant_py-1",
        "expiration": "3600s",
        "role_descriptors": {"grant": {"indices": [{"names": ["logs-2026.11"], "privileges": ["read"]}]}},
        "metadata": MANAGED,
    },
)
check(key["id"] and key["encoded"], "grant_api_key")

page = admin.security.query_api_keys(
    query={"bool": {"filter": [{"term": {"metadata.managed_by": "elastic-jit"}}, {"term": {"invalidated": False}}]}},
    sort=["creation", "name"],
    size=1000,
)
check(page["count"] == 1 and page["api_keys"][0]["_sort"], "query_api_keys sorted")
after = admin.security.query_api_keys(sort=["creation", "name"], size=1000, search_after=page["api_keys"][0]["_sort"])
check(after["count"] == 0, "query_api_keys search_after")
check("ejit_py@example.com" in admin.security.get_user(), "get_user (inventory)")
check("ejit_grant_py-1" in admin.security.get_role(), "get_role (inventory)")

# What the credential holder does with the password and with the key.
for label, holder in [
    ("user", Elasticsearch(URL, basic_auth=("ejit_py@example.com", "py-client-password-1"))),
    ("api key", Elasticsearch(URL, api_key=key["encoded"])),
]:
    me = holder.security.authenticate()
    check(me["username"] == "ejit_py@example.com", f"{label}: authenticate")
    hits = holder.search(index="logs-2026.11", query={"match_all": {}})
    check(hits["hits"]["total"]["value"] == 2, f"{label}: search")
    as_int = holder.search(index="logs-2026.11", rest_total_hits_as_int=True)
    check(as_int["hits"]["total"] == 2, f"{label}: search rest_total_hits_as_int")
    doc = holder.get(index="logs-2026.11", id="1")
    check(doc["_source"]["level"] == "info", f"{label}: get")
    mine = holder.indices.resolve_index(name="logs-*")
    check([i["name"] for i in mine["indices"]] == ["logs-2026.11"], f"{label}: resolve_index")
    can = holder.security.has_privileges(index=[{"names": ["logs-2026.11"], "privileges": ["read", "write"]}])
    check(can["index"]["logs-2026.11"] == {"read": True, "write": False}, f"{label}: has_privileges")

writer = admin.security.put_role(
    name="ejit_grant_py-2",
    indices=[{"names": ["logs-2026.11"], "privileges": ["read", "write", "view_index_metadata"]}],
    metadata=MANAGED,
)
admin.security.put_user(
    username="ejit_py@example.com",
    roles=["ejit_grant_py-1", "ejit_grant_py-2"],
    enabled=True,
    metadata={"managed_by": "elastic-jit", "integration": "py-client", "requester": "py-sub"},
)
holder = Elasticsearch(URL, basic_auth=("ejit_py@example.com", "py-client-password-1"))
indexed = holder.index(index="logs-2026.11", id="py", document={"message": "from python", "level": "info"})
check(indexed["result"] == "created", "user: index")

# Revoke and account upkeep, as the driver does them.
inv = admin.security.invalidate_api_key(ids=[key["id"]])
check(inv["invalidated_api_keys"] == [key["id"]], "invalidate_api_key")
admin.security.change_password(username="ejit_py@example.com", password="py-client-password-2")
check(True, "change_password")
check(admin.security.delete_role(name="ejit_grant_py-2")["found"] is True, "delete_role")
check(admin.security.delete_user(username="ejit_py@example.com")["found"] is True, "delete_user")
print("all ok")
