# shellcheck shell=bash
# shellcheck disable=SC2016 # the patterns match the Makefiles' literal $(...)
# The package Makefiles against the repository, without an OpenWrt tree: every file they
# take from the feed exists, files/ is installed whole and where its layout says, the
# version is Cargo's, and the paths the router scripts name are the ones installed.

# Paths a Makefile takes from the feed: $(FILES_DIR)/x -> files/x, $(FEED_ROOT)/x -> x,
# the words of $(addprefix $(FEED_ROOT)/,a b c), and ./x -> the package's own x.
feed_paths() {
	{
		grep -o '\$(FILES_DIR)/[^ )]*' "$1" | sed 's|^\$(FILES_DIR)/|files/|'
		grep -o '\$(FEED_ROOT)/[^ ,)]*' "$1" | sed 's|^\$(FEED_ROOT)/||'
		grep -o '\$(addprefix \$(FEED_ROOT)/,[^)]*)' "$1" |
			sed 's|^\$(addprefix \$(FEED_ROOT)/,||; s|)$||' | tr ' ' '\n'
		grep -o ' \./[^ *]*' "$1" | sed "s| \./|$(dirname "$1")/|"
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
for mk in package/fw4-offload/Makefile package/luci-app-fw4-offload/Makefile \
	package/prometheus-node-exporter-lua-fw4-offload/Makefile; do
	pkg_version=$(sed -n 's/^PKG_VERSION:=//p' "$mk")
	check "$mk: PKG_VERSION ($pkg_version) is Cargo's version ($cargo_version)" \
		test -n "$cargo_version" -a "$pkg_version" = "$cargo_version"
done

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

# The LuCI app: installed as luci.mk installs an app (htdocs/ to /www, root/ to /); its
# ACL group; its menu entries lead to its view, behind that group; its translation
# template is what its sources give.
APP=package/luci-app-fw4-offload
check "$APP installs htdocs/ to /www and root/ to /" grep -qzP \
	'\t\$\(CP\) \./htdocs/\* \$\(1\)/www/\n(.*\n)*\t\$\(CP\) \./root/\* \$\(1\)/\n' "$APP/Makefile"
check "rpcd ACL of the LuCI app: read = offload status/flows/devices and uci firewall, write = reload and uci firewall" python3 -c '
import json, sys
acl = json.load(open(sys.argv[1]))
assert list(acl) == ["luci-app-fw4-offload"], list(acl)
g = acl["luci-app-fw4-offload"]
assert g["read"] == {"ubus": {"offload": ["status", "flows", "devices"]}, "uci": ["firewall"]}, g["read"]
assert g["write"] == {"ubus": {"offload": ["reload"]}, "uci": ["firewall"]}, g["write"]
' "$APP/root/usr/share/rpcd/acl.d/luci-app-fw4-offload.json"
check "menu.d: Status -> Flow Offloading and a Firewall tab, each the app's view behind its ACL group" python3 -c '
import json, os, sys
menu = json.load(open(sys.argv[1]))
assert sorted(menu) == ["admin/network/firewall/fw4-offload", "admin/status/fw4-offload"], list(menu)
for node in menu.values():
    assert node["action"]["type"] == "view", node
    view = os.path.join(sys.argv[2], "htdocs/luci-static/resources/view", node["action"]["path"] + ".js")
    assert os.path.isfile(view), view
    assert node["depends"]["acl"] == ["luci-app-fw4-offload"], node
' "$APP/root/usr/share/luci/menu.d/luci-app-fw4-offload.json" "$APP"
check "$APP/po/templates/fw4-offload.pot is what scripts/luci-pot gives" \
	cmp "$APP/po/templates/fw4-offload.pot" <(scripts/luci-pot)

# The collector: installed where the exporter looks for its collectors.
check "the collector is installed to /usr/lib/lua/prometheus-collectors/" grep -q \
	'INSTALL_DATA) ./files/usr/lib/lua/prometheus-collectors/fw4_offload.lua $(1)/usr/lib/lua/prometheus-collectors/' \
	package/prometheus-node-exporter-lua-fw4-offload/Makefile
