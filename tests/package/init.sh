# shellcheck shell=bash
# The init script, sourced the way /etc/rc.common sources it, under the router's shell.
# Only procd's helpers are stubs (they would talk to procd over ubus): each prints its
# name and its arguments in brackets, so the exact instance description, argument
# boundaries included, can be compared. ubus is a logging stub on PATH (from
# install-remove.sh), start a stub for rc.common's.

INIT=files/etc/init.d/fw4-offload
cat >"$SCRATCH/procd-stubs.sh" <<'STUBS'
say() { printf '%s' "$1"; shift; for a; do printf ' [%s]' "$a"; done; echo; }
procd_open_instance() { say procd_open_instance "$@"; }
procd_set_param() { say procd_set_param "$@"; }
procd_append_param() { say procd_append_param "$@"; }
procd_close_instance() { say procd_close_instance "$@"; }
procd_add_reload_trigger() { say procd_add_reload_trigger "$@"; }
procd_open_trigger() { say procd_open_trigger "$@"; }
procd_close_trigger() { say procd_close_trigger "$@"; }
start() { say start "$@"; }
STUBS

# run_init FUNCTION [ENV...]: FUNCTION's output, with stubs and the init script sourced.
run_init() {
	local fn=$1
	shift
	env PATH="$STUBS:$PATH" "$@" "${RSH[@]}" -c \
		". '$SCRATCH/procd-stubs.sh'; . './$INIT'; $fn"
}

check "init: #!/bin/sh /etc/rc.common" test "$(head -n 1 "$INIT")" = "#!/bin/sh /etc/rc.common"
check "init: USE_PROCD=1" grep -qx 'USE_PROCD=1' "$INIT"
start=$(sed -n 's/^START=//p' "$INIT")
check "init: starts after the firewall (START=19): START=$start" test "${start:-0}" -gt 19

run_init start_service >"$SCRATCH/start_service" 2>&1 || true
cat >"$SCRATCH/start_service.expected" <<'EOF2'
procd_open_instance
procd_set_param [command] [/usr/sbin/fw4-offload] [daemon]
procd_set_param [file] [/usr/sbin/fw4-offload]
procd_set_param [respawn]
procd_set_param [stderr] [1]
procd_close_instance
EOF2
same "init: start_service describes one respawning fw4-offload daemon instance, the binary's checksum in it" \
	"$SCRATCH/start_service.expected" "$SCRATCH/start_service"

run_init service_triggers >"$SCRATCH/service_triggers" 2>&1 || true
echo "procd_add_reload_trigger [network] [sqm]" >"$SCRATCH/service_triggers.expected"
same "init: reload on changes to the network and sqm configs (the firewall's reach it through fw4)" \
	"$SCRATCH/service_triggers.expected" "$SCRATCH/service_triggers"

: >"$CALLS"
rc=0
run_init reload_service >"$SCRATCH/reload" 2>&1 || rc=$?
check "init: reload asks the running daemon" grep -qx "ubus -S -t 25 call offload reload" "$CALLS"
check "init: ... starts nothing when it answers, and succeeds" test ! -s "$SCRATCH/reload" -a "$rc" = 0
rc=0
run_init reload_service STUB_ubus_RC=9 >"$SCRATCH/reload" 2>&1 || rc=$?
check "init: reload fails (9) when the daemon's apply failed, and starts nothing" \
	test "$rc" = 9 -a ! -s "$SCRATCH/reload"
run_init reload_service STUB_ubus_RC=4 >"$SCRATCH/reload" 2>&1 || true
check "init: reload starts the service when no daemon is on ubus (4)" grep -qx start "$SCRATCH/reload"
