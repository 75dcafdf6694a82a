# shellcheck shell=bash
# Helpers for tests/package/check: one line per check, a summary, scratch space.

PASSED=0
FAILED=0
FAILURES=()

pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$*"); echo "FAIL: $*"; }

# check NAME CMD...: passes when CMD exits 0 (its output shown only on failure).
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$name"; else
		fail "$name"
		[ -z "$out" ] || printf '    %s\n' "${out//$'\n'/$'\n'    }"
	fi
}

# same NAME EXPECTED_FILE ACTUAL_FILE: byte-for-byte equal, else the diff.
same() {
	if cmp -s "$2" "$3"; then pass "$1"; else
		fail "$1"
		diff -u "$2" "$3" | sed 's/^/    /' | head -40 || true
	fi
}

# Where router scripts run: busybox's ash, the shell they meet on OpenWrt; dash (the
# other ash descendant) when there is no busybox. Used by the parts check sources.
# shellcheck disable=SC2034
if command -v busybox >/dev/null && busybox sh -c : 2>/dev/null; then
	RSH=(busybox sh)
else
	RSH=(sh)
	echo "note: no busybox, router scripts run under $(readlink -f "$(command -v sh)")"
fi

# The body of `define Package/<pkg>/<script>` in a package Makefile, as the package
# build writes it ($$ -> $); for `Package/<pkg>/<script>=$(Package/<pkg>/<other>)`,
# the other's.
maintainer_script() {
	local alias
	alias=$(sed -n "s|^Package/$2/$3=\$(Package/$2/\([a-z]*\))\$|\1|p" "$1")
	awk -v start="define Package/$2/${alias:-$3}" '$0 == start { on = 1; next }
		on && $0 == "endef" { exit } on { print }' "$1" | sed 's/\$\$/$/g'
}

# summary NAME: the failures again, then "NAME: N passed, M failed"; fails if any did.
summary() {
	echo
	local f
	for f in "${FAILURES[@]+"${FAILURES[@]}"}"; do echo "failed: $f"; done
	echo "$1: $PASSED passed, $FAILED failed"
	[ "$FAILED" = 0 ]
}

# not CMD...: succeeds when CMD fails (for checks that something is refused).
not() { ! "$@"; }
