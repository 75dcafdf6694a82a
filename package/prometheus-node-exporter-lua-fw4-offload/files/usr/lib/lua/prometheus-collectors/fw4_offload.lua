-- fw4-offload: what the daemon reports over ubus (`ubus call offload status`), for
-- prometheus-node-exporter-lua. fw4_offload_up is 0 when the daemon does not answer;
-- an answer that cannot be read also fails the scrape of this collector
-- (node_scrape_collector_success), naming what is wrong on the exporter's stderr.
local ubus = require "ubus"

local MODES = { "off", "software", "hardware" }
local DECISIONS = { "hardware", "software", "excluded", "skipped" }
local PATHS = { "hardware", "software" }
local PPE_STATES = { "bound", "unbound", "fin" }

-- A metric family with its help text; the exporter's metric() writes the TYPE line.
local function family(name, mtype, help)
	out:write("# HELP ", name, " ", help, "\n")
	return metric(name, mtype)
end

local KINDS = { string = "a string", number = "a number", table = "an object" }

-- value[key] if it is of type kind, else an error naming where it was expected.
local function field(value, key, kind, where)
	local v = value[key]
	if type(v) ~= kind then
		error(("fw4_offload: status: %s%s: expected %s"):format(where, key, KINDS[kind]), 0)
	end
	return v
end

-- The same for a key that may be absent (JSON null arrives as nothing).
local function optional(value, key, kind, where)
	if value[key] == nil then
		return nil
	end
	return field(value, key, kind, where)
end

-- value[key] as a list (ubus gives JSON lists and objects both as Lua tables).
local function list(value, key, where)
	local v = field(value, key, "table", where)
	if next(v) ~= nil and v[1] == nil then
		error(("fw4_offload: status: %s%s: expected a list"):format(where, key), 0)
	end
	return v
end

-- A reading that failed on the router is {error = "..."} in its place.
local function failed(reading)
	return type(reading.error) == "string"
end

local function scrape()
	local conn = ubus.connect()
	local status = conn and conn:call("offload", "status", {})
	if conn then
		conn:close()
	end
	local up = family("fw4_offload_up", "gauge", "1 when the fw4-offload daemon answered on ubus")
	if type(status) ~= "table" then
		up(nil, 0)
		return
	end
	-- read everything first: an answer that cannot be read gives no partial families
	local ok, values = pcall(function()
		local v = { devices = {}, ppe = {} }
		v.requested = field(status, "requested", "string", "")
		v.effective = optional(status, "effective", "string", "") -- null: the kernel was not read
		for i, d in ipairs(list(status, "devices", "")) do
			local decision = field(d, "decision", "string", ("devices[%d]."):format(i - 1))
			v.devices[decision] = (v.devices[decision] or 0) + 1
		end
		local flows = field(status, "flows", "table", "")
		if not failed(flows) then
			v.flows = {}
			for _, proto in ipairs({ "tcp", "udp" }) do
				local counts = field(flows, proto, "table", "flows.")
				v.flows[proto] = {}
				for _, path in ipairs(PATHS) do
					v.flows[proto][path] = field(counts, path, "number", ("flows.%s."):format(proto))
				end
			end
		end
		for i, p in ipairs(list(status, "ppe", "")) do
			local where = ("ppe[%d]."):format(i - 1)
			local entry = { name = field(p, "name", "string", where) }
			local entries = field(p, "entries", "table", where)
			if not failed(entries) then
				for _, state in ipairs(PPE_STATES) do
					entry[state] = field(entries, state, "number", where .. "entries.")
				end
			end
			local stats = optional(p, "stats", "table", where) -- stock kernels have none
			if stats and not failed(stats) then
				entry.table_entries = field(stats, "entries", "number", where .. "stats.")
				entry.committed = field(stats, "committed", "number", where .. "stats.")
				entry.bind_misses = field(stats, "bind_no_free_way", "number", where .. "stats.")
			end
			v.ppe[#v.ppe + 1] = entry
		end
		local last = optional(status, "last_apply", "table", "") -- none before the first apply
		if last then
			v.last_time = field(last, "time", "number", "last_apply.")
			v.fallback = optional(last, "fallback", "string", "last_apply.") and 1 or 0
		end
		local applies = optional(status, "applies", "table", "") -- the daemon's only
		if applies then
			v.applies = field(applies, "total", "number", "applies.")
			v.apply_errors = field(applies, "errors", "number", "applies.")
		end
		local loaded = field(status, "loaded", "table", "")
		local counter = not failed(loaded) and optional(loaded, "counter", "table", "loaded.")
		if counter then
			v.slow_packets = field(counter, "packets", "number", "loaded.counter.")
			v.slow_bytes = field(counter, "bytes", "number", "loaded.counter.")
		end
		return v
	end)
	if not ok then
		up(nil, 0)
		error(values, 0)
	end
	up(nil, 1)

	local mode = family("fw4_offload_mode", "gauge", "1 for the offload mode asked for in /etc/config/firewall"
		.. " (kind=requested) and the one the kernel runs (kind=effective)")
	for _, kind in ipairs({ "requested", "effective" }) do
		for _, m in ipairs(MODES) do
			mode({ kind = kind, mode = m }, values[kind] == m and 1 or 0)
		end
	end

	local devices = family("fw4_offload_devices", "gauge", "Devices by offload decision")
	for _, decision in ipairs(DECISIONS) do
		devices({ decision = decision }, values.devices[decision] or 0)
	end

	if values.flows then
		local flows = family("fw4_offload_flows", "gauge", "Offloaded conntrack flows by protocol and path")
		for _, proto in ipairs({ "tcp", "udp" }) do
			for _, path in ipairs(PATHS) do
				flows({ proto = proto, path = path }, values.flows[proto][path])
			end
		end
	end

	if #values.ppe > 0 then
		local entries = family("fw4_offload_ppe_entries", "gauge", "PPE flow entries by state")
		local size = family("fw4_offload_ppe_table_entries", "gauge",
			"Entries the PPE flow table holds (kernel series' stats)")
		local committed = family("fw4_offload_ppe_committed_total", "counter",
			"Flows handed to the PPE (kernel series' stats)")
		local misses = family("fw4_offload_ppe_bind_misses_total", "counter",
			"Flows committed to the PPE that found no free way in their bucket (kernel series' stats)")
		for _, p in ipairs(values.ppe) do
			for _, state in ipairs(PPE_STATES) do
				entries({ ppe = p.name, state = state }, p[state])
			end
			size({ ppe = p.name }, p.table_entries)
			committed({ ppe = p.name }, p.committed)
			misses({ ppe = p.name }, p.bind_misses)
		end
	end

	if values.applies then
		family("fw4_offload_applies_total", "counter", "Applies since the daemon started")(nil, values.applies)
		family("fw4_offload_apply_errors_total", "counter",
			"Applies the kernel or the config refused since the daemon started")(nil, values.apply_errors)
	end
	if values.last_time then
		family("fw4_offload_last_apply_timestamp_seconds", "gauge", "When the daemon last applied")(nil, values.last_time)
		family("fw4_offload_hardware_fallback", "gauge",
			"1 when the last apply fell back to software because the kernel refused hardware offload")(nil, values.fallback)
	end
	if values.slow_packets then
		family("fw4_offload_slow_path_packets_total", "counter",
			"TCP and UDP packets the offload rule counted on the slow path")(nil, values.slow_packets)
		family("fw4_offload_slow_path_bytes_total", "counter",
			"Bytes of those packets")(nil, values.slow_bytes)
	end
end

return { scrape = scrape }
