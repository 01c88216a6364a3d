#!/usr/bin/env bash
# Vendors swagger-ui-dist, the files /docs serves, into third_party/swagger-ui:
#   scripts/update-swagger-ui.sh [VERSION]
# The version and the npm registry's integrity hash of its tarball are
# written to third_party/swagger-ui/VERSION; the tarball must match the
# hash npm publishes for it. Only what the page loads is kept, with the
# licence and notice. Run `go test ./...` after: the docs tests check the
# files and that the page still loads nothing from another host.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-$(sed -n 's/^version=//p' third_party/swagger-ui/VERSION)}
dest=third_party/swagger-ui
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

integrity=$(npm view "swagger-ui-dist@$version" dist.integrity)
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null)
tarball="$work/swagger-ui-dist-$version.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$got" != "$integrity" ]; then
  echo "swagger-ui-dist@$version: tarball hash $got, the registry says $integrity" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"
mkdir -p "$dest"
for f in LICENSE NOTICE swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css favicon-32x32.png; do
  cp "$work/package/$f" "$dest/$f"
done
printf 'version=%s\nintegrity=%s\n' "$version" "$integrity" >"$dest/VERSION"
echo "vendored swagger-ui-dist $version into $dest"
