// tests/vm/soak-client.uc - one ubus client of the soak (tests/vm/soak.sh), in ucode
// with OpenWrt's ubus module, as LuCI's and rpcd's callers are.
//
// usage: ucode soak-client.uc SOCKET CALLS MIN_FLOWS OUT
//
// Calls offload's status, flows and devices in turn, CALLS in all, each until it is
// answered: a call that fails (ubusd restarting, the daemon not registered again yet)
// is tried again on a new connection after 50 ms, for at most 60 s. Each answer is
// checked for the shape its report has (and status for at least MIN_FLOWS flows in
// conntrack, read over ctnetlink). Writes OUT: the microseconds of each answered status call, one a line;
// prints "answers=N valid=N retries=N unanswered=N" and the first invalid answers.
import * as ubus from 'ubus';
import { writefile } from 'fs';

const sock = ARGV[0], calls = +ARGV[1], min_flows = +ARGV[2], out = ARGV[3];
const methods = [ 'status', 'flows', 'devices' ];

function has_devices(r) {
	let names = map(r.devices ?? [], d => d.name);
	return type(r.devices) == 'array' && ('eth0' in names) && ('eth1' in names);
}

function valid(method, r) {
	if (type(r) != 'object')
		return false;
	switch (method) {
	case 'status':
		return r.source == 'daemon' && type(r.requested) == 'string' && has_devices(r) &&
			type(r.loaded) == 'object' && r.loaded.error == null &&
			r.flows?.source == 'ctnetlink' && type(r.flows.all?.software) == 'int' &&
			type(r.flows.total) == 'int' && r.flows.total >= min_flows;
	case 'flows':
		return type(r.matched) == 'int' && type(r.flows) == 'array';
	case 'devices':
		return has_devices(r);
	}
	return false;
}

function usec() {
	let t = clock(true);
	return t[0] * 1000000 + t[1] / 1000;
}

let conn = null, answers = 0, good = 0, retries = 0, unanswered = 0;
let latencies = [], invalid = [];

for (let i = 0; i < calls; i++) {
	let method = methods[i % length(methods)], reply = null, since = usec();
	for (;;) {
		conn ??= ubus.connect(sock, 30);
		if (conn) {
			let start = usec();
			reply = conn.call('offload', method, {});
			if (reply != null) {
				if (method == 'status')
					push(latencies, int(usec() - start));
				break;
			}
			conn.disconnect();
			conn = null;
		}
		if (usec() - since > 60000000)
			break;
		retries++;
		sleep(50);
	}
	if (reply == null) {
		unanswered++;
		continue;
	}
	answers++;
	if (valid(method, reply))
		good++;
	else if (length(invalid) < 3)
		push(invalid, `${method}: ${substr(sprintf('%J', reply), 0, 300)}`);
}

writefile(out, join('\n', latencies) + '\n');
print(`answers=${answers} valid=${good} retries=${retries} unanswered=${unanswered}\n`);
for (let line in invalid)
	print(`invalid ${line}\n`);
