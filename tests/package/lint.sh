# shellcheck shell=bash
# ShellCheck: the router's scripts in its ash dialect (ShellCheck before 0.10 has no
# busybox dialect; dash, ash's other descendant, is the closest), the package Makefiles'
# maintainer scripts likewise, and the feed's own bash scripts.

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

check "shellcheck kernel/openwrt-tree tests/package/* tests/openwrt-make tests/demo-fresh scripts/setup-host" \
	shellcheck -x kernel/openwrt-tree tests/package/check tests/package/*.sh \
	tests/openwrt-make tests/demo-fresh scripts/setup-host
