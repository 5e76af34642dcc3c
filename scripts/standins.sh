#!/usr/bin/env bash
# Control side of the stand-in world (playbooks/standins.yml), into DIR:
#   images.tar               the stand-in images (docker save), remade when one changes
#   pebble-ca.pem            the CA of Pebble's ACME endpoint, for the proxy to trust
#   supermark-standin.git    a git repository of the Supermark stand-in with tags
#                            v1 (good), v2 (good, one more migration) and
#                            v3-broken (a schema-changing migration, then unhealthy),
#                            v1-unbuildable (v1 whose build fails at a RUN step),
#                            v1-oom (v1 whose build is killed as the kernel's OOM killer
#                            kills it: SIGKILL, exit code 137)
# Prints CHANGED when it made something.
set -euo pipefail
dir=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
images=(supermark-ops/standin-postgres:1 supermark-ops/standin-s3:1 supermark-ops/standin-proxy:1
        supermark-ops/standin-pebble:1 supermark-ops/standin-app-base:1
        supermark-ops/standin-saas:1 supermark-ops/standin-gotenberg:1)
mkdir -p "$dir" && chmod 700 "$dir"
# One at a time: the test lanes (stack, cutover) prepare the same folder at once.
exec 9>"$dir/.lock"
flock 9

ids=$(docker image inspect -f '{{.Id}}' "${images[@]}") \
  || { echo "stand-in images missing: run scripts/setup.sh" >&2; exit 1; }
if [ ! -f "$dir/images.tar" ] || [ "$(cat "$dir/images.ids" 2>/dev/null)" != "$ids" ]; then
  docker save -o "$dir/images.tar.partial" "${images[@]}"
  mv "$dir/images.tar.partial" "$dir/images.tar"
  echo "$ids" >"$dir/images.ids"
  echo "CHANGED images.tar"
fi

if [ ! -f "$dir/pebble-ca.pem" ]; then
  docker run --rm --entrypoint cat supermark-ops/standin-pebble:1 /etc/pebble/ca.pem >"$dir/pebble-ca.pem"
  echo "CHANGED pebble-ca.pem"
fi

repo="$dir/supermark-standin.git"
src="$root/images/standins/app-src"
want=$( (cd "$src" && find . -type f | sort | xargs cat; cat "$root/scripts/standins.sh") | sha256sum | cut -c1-16)
if [ "$(cat "$repo/.standin-recipe" 2>/dev/null)" != "$want" ]; then
  rm -rf "$repo" "$dir/work"
  git init -q --bare "$repo"
  git init -q "$dir/work"
  cp -r "$src/." "$dir/work/"
  g() { git -C "$dir/work" -c user.name=standin -c user.email=standin@supermark.test "$@"; }
  g add -A && g commit -qm "stand-in v1" && g tag v1
  mkdir -p "$dir/work/prisma/migrations/20240201000000_add_link"
  printf 'CREATE TABLE "Link" ("id" TEXT PRIMARY KEY, "documentId" TEXT NOT NULL REFERENCES "Document"("id"));\n' \
    >"$dir/work/prisma/migrations/20240201000000_add_link/migration.sql"
  g add -A && g commit -qm "stand-in v2: a new migration" && g tag v2
  mkdir -p "$dir/work/prisma/migrations/20240301000000_add_view"
  printf 'CREATE TABLE "View" ("id" TEXT PRIMARY KEY);\nALTER TABLE "Document" ADD COLUMN "views" INTEGER;\n' \
    >"$dir/work/prisma/migrations/20240301000000_add_view/migration.sql"
  echo "this release fails its health check on purpose" >"$dir/work/BROKEN"
  g add -A && g commit -qm "stand-in v3: changes the schema, then fails" && g tag v3-broken
  g checkout -q v1
  echo "this release does not build, on purpose" >"$dir/work/BUILD_FAIL"
  g add -A && g commit -qm "stand-in: a release whose build fails" && g tag v1-unbuildable
  g checkout -q v1
  printf 'import os\nimport signal\n\nos.kill(os.getpid(), signal.SIGKILL)\n' >"$dir/work/build/build.py"
  g add -A && g commit -qm "stand-in: a release whose build runs out of memory" && g tag v1-oom
  g push -q "$repo" "v3-broken:refs/heads/main" --tags
  rm -rf "$dir/work"
  echo "$want" >"$repo/.standin-recipe"
  echo "CHANGED supermark-standin.git"
fi
