# shellcheck shell=bash
# ShellCheck: the router's scripts in its ash dialect (ShellCheck before 0.10 has no
# busybox dialect; dash, ash's other descendant, is the closest), the package Makefiles'
# maintainer scripts likewise, and the feed's own bash scripts; luacheck on the Lua.

dialect=dash
shellcheck --help 2>&1 | grep -q busybox && dialect=busybox

router_scripts=()
while IFS= read -r f; do
	head -n 3 "$f" | grep -Eq '^#!/bin/sh|^# shellcheck shell=sh' && router_scripts+=("$f")
done < <(find files -type f ! -name '*.md' ! -name '*.json' | sort)
check "files/ holds the expected shell scripts (${#router_scripts[@]})" \
	test "${#router_scripts[@]}" -ge 4
for f in "${router_scripts[@]}"; do
	check "shellcheck -s $dialect $f" shellcheck -s "$dialect" "$f"
done

for mk in package/*/Makefile; do
	for script in preinst postinst prerm postrm; do
		body=$(maintainer_script "$mk" "$(basename "$(dirname "$mk")")" "$script")
		[ -n "$body" ] || continue
		printf '%s\n' "$body" >"$SCRATCH/$script"
		check "shellcheck -s $dialect $mk $script" shellcheck -s "$dialect" "$SCRATCH/$script"
	done
done

check "shellcheck kernel/openwrt-tree tests/package/* tests/openwrt-make tests/demo-fresh tests/luci tests/prometheus tests/vm-router tests/eslint/run scripts/*" \
	shellcheck -x kernel/openwrt-tree tests/package/check tests/package/*.sh \
	tests/openwrt-make tests/demo-fresh tests/luci tests/prometheus tests/vm-router tests/eslint/run \
	scripts/setup-host scripts/luci-pot
check "shellcheck -s $dialect tests/vm/router.sh (busybox sh in the VM)" shellcheck -x -s "$dialect" tests/vm/router.sh
# Lua 5.1, as OpenWrt's; metric() and out are the exporter's globals, the collectors' API.
check "luacheck the collector and tests/router/malformed-offload.lua" luacheck --no-color --std lua51 \
	--globals metric out -- package/prometheus-node-exporter-lua-fw4-offload/files/usr/lib/lua/prometheus-collectors/fw4_offload.lua \
	tests/router/malformed-offload.lua
check "shellcheck tests/openwrt-guest tests/openwrt/{build,root,package}" \
	shellcheck -x tests/openwrt-guest tests/openwrt/build tests/openwrt/root tests/openwrt/package
# the guest's scripts, run by its busybox ash
check "shellcheck -s $dialect tests/openwrt/{scenario,respawnlate}.sh" \
	shellcheck -x -s "$dialect" tests/openwrt/scenario.sh tests/openwrt/respawnlate.sh
