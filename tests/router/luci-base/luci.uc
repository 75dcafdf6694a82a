'use strict';

// Stand-in for luci-base's rpcd ucode plugin (/usr/share/rpcd/ucode/luci, not pinned
// here): luci.js asks getFeatures at start; a router without optional features answers
// an empty table.
return {
	luci: {
		getFeatures: {
			call: function() {
				return {};
			}
		}
	}
};
