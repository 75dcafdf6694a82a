-- A ubus peer that registers the object "offload" in the daemon's place and answers
-- each method the way a broken daemon could: the values the page and the collector
-- read have the wrong types. It goes through the real ubusd, uhttpd and rpcd.
local ubus = require "ubus"
local uloop = require "uloop"

uloop.init()
local conn = assert(ubus.connect())

local function answer(data)
	return { function(req) conn:reply(req, data) end, {} }
end

conn:add({
	offload = {
		status = answer({ requested = "hardware", devices = { name = "lan1" }, flows = "many" }),
		flows = answer({ flows = { { l3 = "ipv4" } }, matched = "57" }),
		devices = answer({ devices = 7 }),
		reload = answer({ trigger = 1 }),
	},
})
print("registered")
io.stdout:flush()
uloop.run()
