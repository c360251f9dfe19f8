#!/usr/bin/env bash
# Re-fetch the vendored OpenID Connect client from npm and check it is byte-for-byte what is
# committed. `bash fetch.sh` checks; after changing VERSION, `bash fetch.sh --update` replaces the
# files and prints the new SHA-256 to put in SHA256 below (and in src/assets.rs's comment).
# oidc-client-ts's browser build bundles jwt-decode (MIT, LICENSE-jwt-decode).
set -euo pipefail
VERSION="3.5.0"
SHA256="f999daa383f09eb090d0ae32211e9ca931c76840e08e47fcf334fc8f5f74f1ef"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "oidc-client-ts@$VERSION" >/dev/null && tar xzf "oidc-client-ts-$VERSION.tgz")
fetched="$tmp/package/dist/browser/oidc-client-ts.min.js"
if [ "${1:-}" = "--update" ]; then
    cp "$fetched" "$here/oidc-client-ts.min.js"
    cp "$tmp/package/LICENSE" "$here/LICENSE-oidc-client-ts"
    sha256sum "$here/oidc-client-ts.min.js"
    exit 0
fi
echo "$SHA256  $fetched" | sha256sum -c --quiet
cmp "$fetched" "$here/oidc-client-ts.min.js"
cmp "$tmp/package/LICENSE" "$here/LICENSE-oidc-client-ts"
echo "oidc-client-ts $VERSION: the vendored file is npm's, sha256 $SHA256"
