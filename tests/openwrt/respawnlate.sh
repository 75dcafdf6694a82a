#!/bin/sh
# The guest's test, as procd's `respawnlate` inittab entry: procd is PID 1 and the boot's
# rc.d scripts have run. Runs vm/run's script with its arguments, prints vm/run's exit
# marker and ends the VM (vm/run runs qemu with -no-reboot).
cd /vm || exit 1
. /vm/args.sh
export VM_KERNEL VM_KVER
sh /vm/script.sh "$@"
printf '\nVMRUN-EXIT=%d\n' "$?"
reboot -f
