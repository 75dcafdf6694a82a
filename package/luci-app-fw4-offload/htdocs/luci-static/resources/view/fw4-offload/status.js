'use strict';
'require view';
'require dom';
'require poll';
'require rpc';
'require ui';
'require form';
'require fw4-offload.config as rules';

/*
 * Status → Flow Offloading: what the fw4-offload daemon reports over ubus (object
 * `offload`), refreshed by L.Poll, and the `config offload` settings of
 * /etc/config/firewall. Reload appears only for sessions that may call it.
 */

const callStatus = rpc.declare({ object: 'offload', method: 'status' });
const callFlows = rpc.declare({
	object: 'offload',
	method: 'flows',
	params: [ 'limit', 'offset', 'proto', 'hw' ]
});
const callReload = rpc.declare({ object: 'offload', method: 'reload' });
const callAccess = rpc.declare({
	object: 'session',
	method: 'access',
	params: [ 'scope', 'object', 'function' ],
	expect: { access: false }
});

const FLOWS_PER_PAGE = 25;

/*
 * What this page reads of the daemon's answers (src/report): a string names a JSON
 * type, [x] a list of x, {k: x} an object; a key ending in '?' may be absent or null.
 * A reading that failed on the router is {"error": "..."} in its place (reading()).
 */
function reading(shape) {
	return (value, path) => (L.isObject(value) && typeof(value.error) == 'string')
		? null : mismatch(value, shape, path);
}

const COUNTS = { software: 'number', hardware: 'number' };
const LAST_APPLY = { trigger: 'string', time: 'number', changes: [ 'string' ], 'fallback?': 'string', 'error?': 'string' };
const STATUS = {
	requested: 'string',
	'effective?': 'string',
	devices: [ { name: 'string', decision: 'string', reason: 'string', zones: [ 'string' ], via: [ 'string' ] } ],
	notes: [ 'string' ],
	loaded: reading({
		'flowtable?': { table: 'string', name: 'string', devices: [ 'string' ] },
		'counter?': { packets: 'number', bytes: 'number' },
		fw4_flowtable: 'boolean',
		pending: [ 'string' ]
	}),
	flows: reading({ total: 'number', all: COUNTS, tcp: COUNTS, udp: COUNTS, source: 'string' }),
	ppe: [ {
		name: 'string',
		entries: reading({ total: 'number', bound: 'number', unbound: 'number', fin: 'number' }),
		'stats?': reading({ entries: 'number', bind_no_free_way: 'number', buckets_full: 'number' })
	} ],
	wed: { instances: [ 'string' ], modules: [ { module: 'string', wed_enable: 'boolean' } ] },
	'last_apply?': LAST_APPLY,
	'applies?': { total: 'number', errors: 'number' }
};
const TUPLE = { src: 'string', dst: 'string', 'sport?': 'number', 'dport?': 'number', 'packets?': 'number', 'bytes?': 'number' };
const FLOWS = {
	flows: [ { l3: 'string', l4: 'string', 'state?': 'string', original: TUPLE, reply: TUPLE, flag: 'string' } ],
	matched: 'number'
};

/* Where `value` is not `shape`, as "path: expected ...", or null. */
function mismatch(value, shape, path) {
	const expected = what => _('%s: expected %s').format(path || _('the answer'), what);

	if (typeof(shape) == 'function')
		return shape(value, path);

	if (typeof(shape) == 'string') {
		if (typeof(value) == shape && (shape !== 'number' || isFinite(value)))
			return null;
		return expected({ string: _('a string'), number: _('a number'), boolean: _('true or false') }[shape]);
	}

	if (Array.isArray(shape)) {
		if (!Array.isArray(value))
			return expected(_('a list'));
		for (let i = 0; i < value.length; i++) {
			const problem = mismatch(value[i], shape[0], '%s[%d]'.format(path, i));
			if (problem)
				return problem;
		}
		return null;
	}

	if (!L.isObject(value))
		return expected(_('an object'));
	for (const key in shape) {
		const optional = key.endsWith('?');
		const name = optional ? key.slice(0, -1) : key;
		if (optional && value[name] == null)
			continue;
		const problem = mismatch(value[name], shape[key], path ? '%s.%s'.format(path, name) : name);
		if (problem)
			return problem;
	}
	return null;
}

/* A call's outcome, never a rejection: {value} or {error: a sentence for people}. */
function settle(call, shape) {
	return call.then(value => {
		if (typeof(value) == 'number')
			return { error: _('The daemon answered with ubus status %d (%s).').format(value, rpc.getStatusText(value)) };
		const problem = mismatch(value, shape, '');
		if (problem)
			return { error: _('The daemon\'s answer cannot be read (%s); nothing of it is shown.').format(problem) };
		return { value };
	}, err => {
		const message = String(err?.message ?? err);
		if (/error -32000\b/.test(message))
			return { error: _('The fw4-offload daemon is not running: ubus has no object "offload". Start it with "/etc/init.d/fw4-offload start"; this page retries every few seconds.') };
		if (/error -32002\b/.test(message))
			return { error: _('This login may not read the offload state (rpcd ACL group "luci-app-fw4-offload").') };
		return { error: _('The fw4-offload daemon did not answer: %s').format(message) };
	});
}

const failed = value => L.isObject(value) && typeof(value.error) == 'string';

const MODES = { off: _('Off'), software: _('Software'), hardware: _('Hardware') };
const DECISIONS = { hardware: _('Hardware'), software: _('Software'), excluded: _('Excluded'), skipped: _('Skipped') };
const FLAGS = { hw_offload: _('Hardware'), offload: _('Software') };

function table(id, titles, rows, placeholder) {
	return E('table', { 'class': 'table', 'id': id }, [
		E('tr', { 'class': 'tr table-titles' }, titles.map(t => E('th', { 'class': 'th' }, t))),
		...(rows.length ? rows : [ E('tr', { 'class': 'tr placeholder' },
			E('td', { 'class': 'td', 'colspan': titles.length }, E('em', {}, placeholder))) ])
	]);
}

/* A row: `attrs` on the <tr>, one cell each, titled for LuCI's narrow layout. */
function row(attrs, titles, cells) {
	return E('tr', Object.assign({ 'class': 'tr' }, attrs),
		cells.map((c, i) => E('td', { 'class': 'td', 'data-title': titles[i] }, c)));
}

/* A two-column table of [label, value, attributes of its row]. */
function pairs(entries) {
	return E('table', { 'class': 'table' }, entries.map(([ key, value, attrs ]) =>
		E('tr', Object.assign({ 'class': 'tr' }, attrs), [
			E('td', { 'class': 'td left', 'width': '33%' }, key),
			E('td', { 'class': 'td left' }, value)
		])));
}

/* conntrack prints IPv6 addresses in full: shown compressed, as `ip` shows them. */
function address(a) {
	if (!/^[0-9a-f]{4}(:[0-9a-f]{4}){7}$/.test(a))
		return a;
	const groups = a.split(':').map(g => parseInt(g, 16).toString(16));
	let run = { at: -1, len: 1 };
	for (let i = 0; i < 8; i++) {
		let len = 0;
		while (i + len < 8 && groups[i + len] === '0')
			len++;
		if (len > run.len)
			run = { at: i, len };
	}
	if (run.at < 0)
		return groups.join(':');
	return '%s::%s'.format(groups.slice(0, run.at).join(':'), groups.slice(run.at + run.len).join(':'));
}

function endpoint(addr, port) {
	if (port == null)
		return address(addr);
	return addr.includes(':') ? '[%s]:%d'.format(address(addr), port) : '%s:%d'.format(addr, port);
}

function flowPath(t) {
	return '%s → %s'.format(endpoint(t.src, t.sport), endpoint(t.dst, t.dport));
}

function list(items) {
	return items.length ? E('ul', {}, items.map(i => E('li', {}, i))) : E('em', {}, _('none'));
}

return view.extend({
	load() {
		return Promise.all([
			L.resolveDefault(callAccess('ubus', 'offload', 'reload'), false),
			settle(callStatus(), STATUS),
			settle(callFlows(FLOWS_PER_PAGE, 0), FLOWS)
		]);
	},

	render([ mayReload, status, flows ]) {
		this.query = { proto: '', path: '', offset: 0 };
		this.nodes = {
			message: E('div', { 'id': 'fw4o-message' }),
			mode: E('div', { 'id': 'fw4o-mode' }),
			apply: E('div', { 'id': 'fw4o-apply' }),
			devices: E('div', { 'id': 'fw4o-devices' }),
			counts: E('div', { 'id': 'fw4o-flow-counts' }),
			flows: E('div', { 'id': 'fw4o-flows' }),
			range: E('span', { 'id': 'fw4o-flow-range' }),
			ppe: E('div', { 'id': 'fw4o-ppe' }),
			wed: E('div', { 'id': 'fw4o-wed' }),
			prev: E('button', { 'id': 'fw4o-flow-prev', 'class': 'cbi-button', 'click': () => this.handlePage(-1) }, '‹ ' + _('Previous')),
			next: E('button', { 'id': 'fw4o-flow-next', 'class': 'cbi-button', 'click': () => this.handlePage(1) }, _('Next') + ' ›'),
			reloadResult: E('span', { 'id': 'fw4o-reload-result' })
		};
		this.flowsAsked = 0;
		this.showStatus(status);
		this.showFlows(flows, 0);
		poll.add(L.bind(this.refresh, this));

		const n = this.nodes;
		const section = (title, ...body) => E('div', { 'class': 'cbi-section' }, [ E('h3', {}, title), ...body ]);
		const select = (id, key, choices) => E('select', { 'id': id, 'class': 'cbi-input-select', 'change': ev => {
			this.query[key] = ev.target.value;
			this.query.offset = 0;
			return this.refreshFlows();
		} }, Object.entries(choices).map(([ value, label ]) => E('option', { 'value': value }, label)));

		return this.renderSettings().then(settings => E([], [
			E('h2', {}, _('Flow Offloading')),
			E('div', { 'class': 'cbi-map-descr' },
				_('What fw4-offload offloads, in hardware (MediaTek PPE and WED) or in software, and why; refreshed every few seconds.')),
			n.message,
			mayReload ? E('div', { 'class': 'cbi-section' }, [
				E('button', {
					'id': 'fw4o-reload',
					'class': 'cbi-button cbi-button-action',
					'click': ui.createHandlerFn(this, 'handleReload')
				}, _('Reload')), ' ',
				n.reloadResult
			]) : E([]),
			section(_('Mode'), n.mode),
			section(_('Last apply'), n.apply),
			section(_('Devices'), n.devices),
			section(_('Offloaded flows'), n.counts,
				E('div', { 'class': 'cbi-section-node', 'style': 'margin: 1em 0' }, [
					E('label', {}, [ _('Protocol'), ' ', select('fw4o-flow-proto', 'proto', { '': _('all'), tcp: 'TCP', udp: 'UDP' }) ]), ' ',
					E('label', {}, [ _('Offloaded in'), ' ', select('fw4o-flow-path', 'path', { '': _('hardware and software'), hw: _('hardware'), sw: _('software') }) ]), ' ',
					n.prev, ' ', n.range, ' ', n.next
				]),
				n.flows),
			section(_('PPE (Packet Processing Engine)'), n.ppe),
			section(_('WED (Wireless Ethernet Dispatch)'), n.wed),
			settings
		]));
	},

	refresh() {
		return Promise.all([ settle(callStatus(), STATUS), this.refreshFlows() ])
			.then(([ status ]) => this.showStatus(status));
	},

	/* The page the controls ask for; an answer to an older question (the poll's, say,
	 * after a filter changed) is dropped. */
	refreshFlows() {
		const q = this.query;
		const asked = ++this.flowsAsked;
		const hw = { hw: true, sw: false }[q.path];
		return settle(callFlows(FLOWS_PER_PAGE, q.offset, q.proto || undefined, hw), FLOWS)
			.then(flows => asked === this.flowsAsked && this.showFlows(flows, q.offset));
	},

	handlePage(step) {
		this.query.offset = Math.max(0, this.query.offset + step * FLOWS_PER_PAGE);
		return this.refreshFlows();
	},

	handleReload() {
		dom.content(this.nodes.reloadResult, E('em', { 'class': 'spinning' }, _('Applying…')));
		return settle(callReload(), LAST_APPLY).then(result => {
			const last = result.value;
			dom.content(this.nodes.reloadResult, result.error ?? (last.error
				? _('Apply failed, the loaded ruleset stays as it was: %s').format(last.error)
				: last.changes.length ? _('Applied: %s').format(last.changes.join('; '))
				: _('Nothing to change: the kernel holds the plan.')));
			return this.refresh();
		});
	},

	showStatus(result) {
		const n = this.nodes;
		const s = result.value;
		dom.content(n.message, result.error
			? E('div', { 'class': 'alert-message warning' }, result.error) : '');
		if (!s) {
			for (const node of [ n.mode, n.apply, n.devices, n.counts, n.ppe, n.wed ])
				dom.content(node, E('em', {}, _('No data: see the message above.')));
			return;
		}
		dom.content(n.mode, this.renderMode(s));
		dom.content(n.apply, this.renderApply(s.last_apply, s.applies));
		dom.content(n.devices, this.renderDevices(s.devices));
		dom.content(n.counts, this.renderCounts(s.flows));
		dom.content(n.ppe, this.renderPpe(s.ppe));
		dom.content(n.wed, this.renderWed(s.wed));
	},

	showFlows(result, first) {
		const n = this.nodes;
		const page = result.value;
		if (!page) {
			dom.content(n.flows, E('div', { 'class': 'alert-message warning' }, result.error));
			dom.content(n.range, '');
			return;
		}
		if (!page.flows.length && first > 0 && page.matched > 0) {
			/* fewer flows than before: to the last page there is */
			this.query.offset = Math.floor((page.matched - 1) / FLOWS_PER_PAGE) * FLOWS_PER_PAGE;
			return this.refreshFlows();
		}
		dom.content(n.range, page.matched
			? _('%d–%d of %d').format(first + 1, first + page.flows.length, page.matched)
			: _('0 of 0'));
		n.range.setAttribute('data-matched', page.matched);
		n.prev.disabled = first === 0;
		n.next.disabled = first + FLOWS_PER_PAGE >= page.matched;
		const titles = [ _('Protocol'), _('Original'), _('Reply'), _('State'), _('Offloaded in'), _('Packets'), _('Bytes') ];
		dom.content(n.flows, table('fw4o-flow-table', titles, page.flows.map(f => row({ 'data-flag': f.flag }, titles, [
			'%s/%s'.format(f.l3, f.l4),
			flowPath(f.original),
			flowPath(f.reply),
			f.state ?? '–',
			FLAGS[f.flag] ?? f.flag,
			f.original.packets != null ? '%d / %d'.format(f.original.packets, f.reply.packets ?? 0) : '–',
			f.original.bytes != null ? '%1024.2mB / %1024.2mB'.format(f.original.bytes, f.reply.bytes ?? 0) : '–'
		])), _('No offloaded flow matches.')));
	},

	renderMode(s) {
		const loaded = s.loaded;
		const ft = failed(loaded) ? null : loaded.flowtable;
		return pairs([
			[ _('Requested'), MODES[s.requested] ?? s.requested, { 'data-key': 'requested' } ],
			[ _('Effective'), s.effective != null ? (MODES[s.effective] ?? s.effective)
				: _('unknown: %s').format(failed(loaded) ? loaded.error : _('not read')), { 'data-key': 'effective' } ],
			[ _('Flowtable'), failed(loaded) ? loaded.error
				: ft ? _('%s %s on %s').format(ft.table, ft.name, ft.devices.join(', ') || _('no device'))
				: _('none loaded'), { 'data-key': 'flowtable' } ],
			...(failed(loaded) || !loaded.counter ? [] : [
				[ _('Slow path (offload rule counter)'),
					_('%d packets, %1024.2mB').format(loaded.counter.packets, loaded.counter.bytes), { 'data-key': 'counter' } ]
			]),
			...(failed(loaded) || !loaded.fw4_flowtable ? [] : [
				[ _('Stock fw4 flowtable'), _('loaded: fw4 rendered its own "ft" and no apply has run since'), { 'data-key': 'fw4' } ]
			]),
			...(failed(loaded) || !loaded.pending.length ? [] : [
				[ _('Pending'), list(loaded.pending), { 'data-key': 'pending' } ]
			]),
			...(s.notes.length ? [ [ _('Notes'), list(s.notes), { 'data-key': 'notes' } ] ] : [])
		]);
	},

	renderApply(last, applies) {
		const counted = applies ? [
			[ _('Since the daemon started'), _('%d applies, %d failed').format(applies.total, applies.errors), { 'data-key': 'applies' } ]
		] : [];
		if (!last)
			return pairs([ [ _('Last apply'), _('none yet'), { 'data-key': 'result' } ], ...counted ]);
		return pairs([
			[ _('Trigger'), last.trigger, { 'data-key': 'trigger' } ],
			[ _('Time'), new Date(last.time * 1000).toLocaleString(), { 'data-key': 'time', 'data-time': last.time } ],
			[ _('Result'), last.error
				? E('span', { 'class': 'label warning' }, _('failed, the loaded ruleset stays as it was: %s').format(last.error))
				: last.changes.length ? _('applied') : _('nothing to change: the kernel held the plan'), { 'data-key': 'result' } ],
			[ _('Changes'), list(last.changes), { 'data-key': 'changes' } ],
			[ _('Hardware fallback'), last.fallback ?? E('em', {}, _('none')), { 'data-key': 'fallback' } ],
			...counted
		]);
	},

	renderDevices(devices) {
		const titles = [ _('Device'), _('Offload'), _('Reason'), _('Zones'), _('Path') ];
		return table('fw4o-device-table', titles, devices.map(d => row({ 'data-device': d.name, 'data-decision': d.decision }, titles, [
			E('strong', { 'style': 'white-space: nowrap' }, d.name),
			DECISIONS[d.decision] ?? d.decision,
			d.reason,
			d.zones.join(', '),
			d.via.join(' → ')
		])), _('No device: offloading is off, or no zone reaches a device.'));
	},

	renderCounts(flows) {
		if (failed(flows))
			return E('div', { 'class': 'alert-message warning' }, _('Conntrack could not be read: %s').format(flows.error));
		/* The daemon counts the offloaded flows by protocol (ctnetlink sends only those)
		 * and the table's entries as a whole: the rest is known for all protocols only. */
		const titles = [ _('Protocol'), _('Hardware'), _('Software'), _('Not offloaded') ];
		const rest = key => key === 'all' ? flows.total - flows.all.hardware - flows.all.software : '—';
		return table('fw4o-count-table', titles, [ [ 'tcp', 'TCP' ], [ 'udp', 'UDP' ], [ 'all', _('All') ] ].map(([ key, label ]) =>
			row({ 'data-proto': key }, titles, [ label, flows[key].hardware, flows[key].software, rest(key) ])), '');
	},

	renderPpe(ppes) {
		const titles = [ _('PPE'), _('Bound'), _('Unbound'), _('FIN'), _('Entries read'), _('Table size'), _('Bind misses'), _('Buckets full') ];
		return table('fw4o-ppe-table', titles, ppes.map(p => {
			const e = p.entries;
			const st = p.stats;
			const statCells = !st ? [ E('em', {}, _('no stats file (kernel without the kmod-nft-offload series)')), '', '' ]
				: failed(st) ? [ st.error, '', '' ]
				: [ st.entries, st.bind_no_free_way, st.buckets_full ];
			const entryCells = failed(e) ? [ e.error, '', '', '' ] : [ e.bound, e.unbound, e.fin, e.total ];
			return row({ 'data-ppe': p.name }, titles, [ p.name, ...entryCells, ...statCells ]);
		}), _('No PPE: this router has no MediaTek packet processing engine, or debugfs is not mounted.'));
	},

	renderWed(wed) {
		if (!wed.instances.length && !wed.modules.length)
			return E('em', {}, _('No WED on this router.'));
		return pairs([
			[ _('Instances'), wed.instances.join(', ') || E('em', {}, _('none')), { 'data-key': 'instances' } ],
			...wed.modules.map(m => [ m.module, m.wed_enable ? _('WED enabled (wed_enable=Y)') : _('WED disabled (wed_enable=N)'), { 'data-module': m.module } ])
		]);
	},

	/* The `config offload` section (the helper reads the first one) as a form. */
	renderSettings() {
		const m = new form.Map('firewall', _('Settings'),
			_('The "offload" section of /etc/config/firewall. Saved settings take effect at the next reload.'));
		const s = m.section(form.TypedSection, 'offload');
		s.anonymous = true;
		s.addremove = true;
		s.addbtntitle = _('Add settings');
		s.cfgsections = function() {
			return form.TypedSection.prototype.cfgsections.call(this).slice(0, 1);
		};
		s.renderSectionAdd = function(...args) {
			return this.cfgsections().length ? E([]) : form.TypedSection.prototype.renderSectionAdd.apply(this, args);
		};

		const o = s.option(form.DynamicList, 'exclude_device', _('Never offload'),
			_('Devices whose flows stay on the slow path, offloaded neither in hardware nor in software.'));
		o.validate = (section_id, value) => value === '' || (rules.excludeDeviceError(value) ?? true);
		o.write = function(section_id, value) {
			const items = L.toArray(value);
			const problem = rules.listError(items) ?? items.map(v => rules.excludeDeviceError(v)).find(e => e);
			if (problem)
				return Promise.reject(new TypeError(problem));
			return form.DynamicList.prototype.write.call(this, section_id, items);
		};

		const f = s.option(form.Flag, 'hw_exclude_shaped', _('Keep shaped devices in software'),
			_('Hardware flows bypass every qdisc: devices SQM shapes are offloaded in software only.'));
		f.default = f.enabled;
		f.load = function(section_id) {
			const value = this.map.data.get('firewall', section_id, this.option);
			const problem = value == null ? null : rules.booleanError(value);
			if (problem)
				this.description = E('span', { 'class': 'label warning' }, problem);
			const on = value == null ? null : rules.parseBool(value);
			return on === null ? null : (on ? this.enabled : this.disabled);
		};

		return m.render();
	}
});
