'use strict';
'require baseclass';

/*
 * The rules the helper applies to `config offload` in /etc/config/firewall
 * (src/config/section.rs), so the form refuses what the helper would refuse, with the
 * helper's words. tests/luci checks both against the same names and spellings.
 */

/* More entries than this in one list is a broken config, not a router. */
const MAX_LIST_ENTRIES = 1024;

/* Linux's IFNAMSIZ less the terminating NUL, in bytes. */
const MAX_IFNAME_LEN = 15;

const TRUE = [ '1', 'on', 'true', 'yes', 'enabled' ];
const FALSE = [ '0', 'off', 'false', 'no', 'disabled' ];

return baseclass.extend({
	MAX_LIST_ENTRIES,

	/*
	 * Why the helper refuses `name` as a device name, or null: as the kernel's
	 * dev_valid_name(), 1 to 15 bytes, not `.` or `..`, no `/`, `:` or whitespace
	 * (Rust's ASCII whitespace: no vertical tab).
	 */
	deviceNameProblem(name) {
		if (name === '')
			return _('empty');
		if (new TextEncoder().encode(name).length > MAX_IFNAME_LEN)
			return _('longer than 15 bytes');
		if (name === '.' || name === '..')
			return _('reserved name');
		if (/[/:\t\n\f\r ]/.test(name))
			return _('contains \'/\', \':\' or whitespace');
		return null;
	},

	/* The helper's message for an `exclude_device` entry it refuses, or null. */
	excludeDeviceError(name) {
		const problem = this.deviceNameProblem(name);
		return problem ? _('invalid device name \'%s\': %s').format(name, problem) : null;
	},

	/* The helper's message for a list it refuses as a whole, or null. */
	listError(items) {
		if (items.length > MAX_LIST_ENTRIES)
			return _('%d entries, more than the %d any router has').format(items.length, MAX_LIST_ENTRIES);
		return null;
	},

	/* libuci's boolean spellings: true, false, or null for anything else. */
	parseBool(value) {
		if (TRUE.includes(value))
			return true;
		if (FALSE.includes(value))
			return false;
		return null;
	},

	/* The helper's message for a boolean option it refuses, or null. An empty value is
	 * no value: libuci deletes an option set to ''. */
	booleanError(value) {
		if (value === '' || this.parseBool(value) !== null)
			return null;
		return _('\'%s\' is not a boolean (use 1/0, on/off, yes/no, true/false)').format(value);
	}
});
