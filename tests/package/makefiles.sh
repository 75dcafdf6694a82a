# shellcheck shell=bash
# shellcheck disable=SC2016 # the patterns match the Makefiles' literal $(...)
# The package Makefiles against the repository, without an OpenWrt tree: every file they
# take from the feed exists, files/ is installed whole and where its layout says, the
# version is Cargo's, and the paths the router scripts name are the ones installed.

# Paths a Makefile takes from the feed: $(FILES_DIR)/x -> files/x, $(FEED_ROOT)/x -> x,
# and the words of $(addprefix $(FEED_ROOT)/,a b c).
feed_paths() {
	{
		grep -o '\$(FILES_DIR)/[^ )]*' "$1" | sed 's|^\$(FILES_DIR)/|files/|'
		grep -o '\$(FEED_ROOT)/[^ ,)]*' "$1" | sed 's|^\$(FEED_ROOT)/||'
		grep -o '\$(addprefix \$(FEED_ROOT)/,[^)]*)' "$1" |
			sed 's|^\$(addprefix \$(FEED_ROOT)/,||; s|)$||' | tr ' ' '\n'
	} | sed '/^$/d' | sort -u || true # (a Makefile without one of the forms)
}

for mk in package/*/Makefile; do
	paths=$(feed_paths "$mk")
	check "$mk takes files from the feed" test -n "$paths"
	while IFS= read -r p; do
		check "$mk: $p exists" test -e "$p"
	done <<<"$paths"
	read -ra lics <<<"$(sed -n 's/^PKG_LICENSE_FILES:=//p' "$mk")"
	for lic in "${lics[@]}"; do
		check "$mk: license file $lic exists" test -f "$lic"
	done
done

# Every file of files/ (but its README) installed, into the directory it sits in there:
# "$(INSTALL_X) $(FILES_DIR)/d/f $(1)/d/".
installs=$(grep -ho '\$(FILES_DIR)/[^ ]* \$(1)/[^ ]*' package/*/Makefile |
	sed 's|^\$(FILES_DIR)/\([^ ]*\) \$(1)/\(.*\)|\1 \2|')
while IFS= read -r f; do
	rel=${f#files/}
	dest=$(awk -v f="$rel" '$1 == f { print $2 }' <<<"$installs")
	check "files/$rel installed to /$(dirname "$rel")/" test "$dest" = "$(dirname "$rel")/"
done < <(find files -type f ! -name README.md | sort)

# Executables keep their mode: INSTALL_BIN for the scripts run directly, INSTALL_DATA for
# the sourced include and the ACL.
for f in etc/init.d/fw4-offload etc/uci-defaults/90-fw4-offload usr/libexec/fw4-offload/include-section; do
	check "$f installed with INSTALL_BIN" grep -q "INSTALL_BIN) \$(FILES_DIR)/$f " package/fw4-offload/Makefile
done

cargo_version=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
pkg_version=$(sed -n 's/^PKG_VERSION:=//p' package/fw4-offload/Makefile)
check "PKG_VERSION ($pkg_version) is Cargo's version ($cargo_version)" \
	test -n "$cargo_version" -a "$pkg_version" = "$cargo_version"

# The paths the scripts name are the ones the package installs.
check "the binary is installed to /usr/sbin, where the init script runs it" \
	grep -q 'INSTALL_BIN) $(PKG_INSTALL_DIR)/bin/fw4-offload $(1)/usr/sbin/' package/fw4-offload/Makefile
check "the include path in include-section is installed" \
	test -f "files$(sed -n 's/^script=//p' files/usr/libexec/fw4-offload/include-section)"

# The rpcd ACL: one group; read: offload status/flows/devices; write: reload only.
check "rpcd ACL: offload read = status/flows/devices, write = reload" python3 -c '
import json, sys
acl = json.load(open(sys.argv[1]))
assert list(acl) == ["fw4-offload"], list(acl)
g = acl["fw4-offload"]
assert g["read"] == {"ubus": {"offload": ["status", "flows", "devices"]}}, g["read"]
assert g["write"] == {"ubus": {"offload": ["reload"]}}, g["write"]
' files/usr/share/rpcd/acl.d/fw4-offload.json
