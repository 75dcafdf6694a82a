//! `ethtool -k` output: the format a snapshot stores features in.

use super::Feature;

/// The feature whose state says a driver accepts flowtable offload requests.
pub const HW_TC_OFFLOAD: &str = "hw-tc-offload";

/// Looks `feature` up in `ethtool -k` output (`name: on`, `name: off [fixed]`).
pub fn parse_feature(text: &str, feature: &str) -> Feature {
    text.lines()
        .filter_map(|line| line.trim().split_once(':'))
        .find(|(name, _)| *name == feature)
        .map_or(Feature::Unknown, |(_, state)| {
            let mut words = state.split_whitespace();
            match (words.next(), words.next()) {
                (Some("on"), _) => Feature::On,
                (Some("off"), Some("[fixed]")) => Feature::Fixed,
                (Some("off"), _) => Feature::Off,
                _ => Feature::Unknown,
            }
        })
}

/// A feature's state from the kernel's bits: what [`parse_feature`] reads in the line
/// [`format_feature`] writes for them.
pub fn feature_state(active: bool, fixed: bool) -> Feature {
    match (active, fixed) {
        (true, _) => Feature::On,
        (false, true) => Feature::Fixed,
        (false, false) => Feature::Off,
    }
}

/// One `ethtool -k` line for a feature, as ethtool prints it.
pub fn format_feature(name: &str, active: bool, fixed: bool) -> String {
    let state = if active { "on" } else { "off" };
    let fixed = if fixed { " [fixed]" } else { "" };
    format!("{name}: {state}{fixed}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const VETH: &str = "Features for veth0:\nrx-checksumming: on\n\
        tx-checksumming: on\n\ttx-checksum-ipv4: off [fixed]\n\
        hw-tc-offload: off [fixed]\nrx-udp_tunnel-port-offload: off [fixed]\n";

    #[test]
    fn reads_feature_states() {
        assert_eq!(parse_feature(VETH, HW_TC_OFFLOAD), Feature::Fixed);
        assert_eq!(parse_feature(VETH, "rx-checksumming"), Feature::On);
        assert_eq!(parse_feature(VETH, "tx-checksum-ipv4"), Feature::Fixed);
        assert_eq!(
            parse_feature("hw-tc-offload: off\n", HW_TC_OFFLOAD),
            Feature::Off
        );
        assert_eq!(
            parse_feature("hw-tc-offload: on [requested off]\n", HW_TC_OFFLOAD),
            Feature::On
        );
        assert_eq!(parse_feature("", HW_TC_OFFLOAD), Feature::Unknown);
        assert_eq!(
            parse_feature("hw-tc-offload-x: on\n", HW_TC_OFFLOAD),
            Feature::Unknown
        );
    }

    #[test]
    fn formats_like_ethtool() {
        for (active, fixed) in [(true, false), (true, true), (false, false), (false, true)] {
            let line = format_feature(HW_TC_OFFLOAD, active, fixed);
            let state = feature_state(active, fixed);
            assert_eq!(parse_feature(&line, HW_TC_OFFLOAD), state, "{line}");
        }
    }
}

/// Feature states of a live device, as `ethtool -k` shows them.
pub mod kernel {
    use std::ffi::c_void;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    const SIOCETHTOOL: libc::c_ulong = 0x8946;
    const ETHTOOL_GSTRINGS: u32 = 0x1b;
    const ETHTOOL_GSSET_INFO: u32 = 0x37;
    const ETHTOOL_GFEATURES: u32 = 0x3a;
    const ETH_SS_FEATURES: u32 = 4;
    const ETH_GSTRING_LEN: usize = 32;
    /// No kernel has this many feature bits (6.12 has 68); more is a broken answer.
    const MAX_FEATURES: u32 = 1024;

    /// One feature: its ethtool name, whether it is on, whether it can ever change.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct FeatureState {
        pub name: String,
        pub active: bool,
        pub fixed: bool,
    }

    /// `struct ifreq` with `ifr_data`; padded to at least the kernel's size on 32 and 64 bit.
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        data: *mut c_void,
        _pad: [u8; 16],
    }

    fn ethtool(sock: &OwnedFd, ifname: &str, buf: &mut [u64]) -> io::Result<()> {
        let mut req = IfReq {
            name: [0; 16],
            data: buf.as_mut_ptr().cast(),
            _pad: [0; 16],
        };
        let bytes = ifname.as_bytes();
        if bytes.len() >= req.name.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "device name too long",
            ));
        }
        req.name[..bytes.len()].copy_from_slice(bytes);
        // SAFETY: `req` points at `buf`, which is large enough for the command it holds
        // (the callers size it from the kernel's own counts) and outlives the call.
        let rc = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCETHTOOL as _, &mut req) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// 32-bit words of a u64 buffer, in memory order (the ethtool structs are u32 arrays).
    fn words(buf: &[u64]) -> Vec<u32> {
        buf.iter()
            .flat_map(|w| {
                let b = w.to_ne_bytes();
                [
                    u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
                    u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
                ]
            })
            .collect()
    }

    fn set_words(buf: &mut [u64], values: &[u32]) {
        let mut bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_ne_bytes()).collect();
        for (i, v) in values.iter().enumerate() {
            bytes[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
        }
        for (w, chunk) in buf.iter_mut().zip(bytes.chunks(8)) {
            *w = u64::from_ne_bytes(chunk.try_into().expect("8-byte chunk"));
        }
    }

    /// Every feature of `ifname`, as `ethtool -k` shows them.
    pub fn features(ifname: &str) -> io::Result<Vec<FeatureState>> {
        Features::open()?.all(ifname)
    }

    /// Features asked of one device after another: one socket for all, and the feature
    /// names, which are the kernel's and the same for every device, asked once. That
    /// leaves one ioctl a device where there were three, and a socket.
    pub struct Features {
        sock: OwnedFd,
        names: Option<Vec<String>>,
    }

    impl Features {
        pub fn open() -> io::Result<Features> {
            // SAFETY: plain socket(2); the descriptor is owned by the OwnedFd from here on.
            let fd =
                unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Features {
                // SAFETY: `fd` is a fresh descriptor nobody else owns.
                sock: unsafe { OwnedFd::from_raw_fd(fd) },
                names: None,
            })
        }

        /// Every feature of `ifname`.
        pub fn all(&mut self, ifname: &str) -> io::Result<Vec<FeatureState>> {
            let states = self.states(ifname)?;
            let names = self.names.as_deref().unwrap_or_default();
            Ok(names
                .iter()
                .enumerate()
                .filter(|(_, name)| !name.is_empty())
                .map(|(i, name)| {
                    let (active, fixed) = states.bit(i);
                    FeatureState {
                        name: name.clone(),
                        active,
                        fixed,
                    }
                })
                .collect())
        }

        /// Whether `feature` is active and whether it is fixed, on `ifname`; `None` if
        /// this kernel has no such feature.
        pub fn one(&mut self, ifname: &str, feature: &str) -> io::Result<Option<(bool, bool)>> {
            let states = self.states(ifname)?;
            let names = self.names.as_deref().unwrap_or_default();
            Ok(names
                .iter()
                .position(|n| n == feature)
                .map(|i| states.bit(i)))
        }

        /// The feature words of `ifname`, the names first if they are not known yet.
        fn states(&mut self, ifname: &str) -> io::Result<States> {
            let names = match self.names.take() {
                Some(names) => names,
                None => feature_names(&self.sock, ifname)?,
            };
            let n = names.len();
            self.names = Some(names);
            // struct ethtool_gfeatures { u32 cmd, size; { u32 available, requested,
            // active, never_changed; } features[size]; }
            let blocks = n.div_ceil(32);
            let mut feats = vec![0u64; (8 + blocks * 16).div_ceil(8)];
            set_words(&mut feats, &[ETHTOOL_GFEATURES, blocks as u32]);
            ethtool(&self.sock, ifname, &mut feats)?;
            Ok(States(words(&feats)))
        }
    }

    /// `ethtool_gfeatures` as 32-bit words.
    struct States(Vec<u32>);

    impl States {
        /// Feature `i`: whether it is active, and whether it is what ethtool prints as
        /// `[fixed]`.
        fn bit(&self, i: usize) -> (bool, bool) {
            let (block, bit) = (2 + (i / 32) * 4, 1u32 << (i % 32));
            let (available, active, never_changed) =
                (self.0[block], self.0[block + 2], self.0[block + 3]);
            (
                active & bit != 0,
                available & bit == 0 || never_changed & bit != 0,
            )
        }
    }

    /// The kernel's feature names, in bit order (asked through `ifname`).
    fn feature_names(sock: &OwnedFd, ifname: &str) -> io::Result<Vec<String>> {
        // struct ethtool_sset_info { u32 cmd, reserved; u64 sset_mask; u32 data[1]; }
        let mut info = [0u64; 3];
        set_words(&mut info, &[ETHTOOL_GSSET_INFO, 0]);
        info[1] = 1 << ETH_SS_FEATURES;
        ethtool(sock, ifname, &mut info)?;
        let count = words(&info)[4];
        if info[1] == 0 || count > MAX_FEATURES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "no feature names",
            ));
        }

        // struct ethtool_gstrings { u32 cmd, string_set, len; u8 data[len * 32]; }
        let n = count as usize;
        let mut strings = vec![0u64; (12 + n * ETH_GSTRING_LEN).div_ceil(8)];
        set_words(&mut strings, &[ETHTOOL_GSTRINGS, ETH_SS_FEATURES, count]);
        ethtool(sock, ifname, &mut strings)?;
        let bytes: Vec<u8> = strings.iter().flat_map(|w| w.to_ne_bytes()).collect();
        Ok(bytes[12..12 + n * ETH_GSTRING_LEN]
            .chunks(ETH_GSTRING_LEN)
            .map(|raw| {
                let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
                String::from_utf8_lossy(&raw[..end]).into_owned()
            })
            .collect())
    }
}
