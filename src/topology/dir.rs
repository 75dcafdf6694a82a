//! Small files and directory listings read with as few system calls as there can be, and
//! relative to a directory opened once. A router reads thousands of sysfs attributes for a
//! large topology (and again on every hotplug): each is an open, a read and a close, and
//! an open by absolute path walks every component of `/sys/class/net/<dev>/...` again.

use std::ffi::CStr;
use std::io::{self, ErrorKind};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A sysfs attribute is at most a page; most files here are far smaller.
const READ_SIZE: usize = 4096;
/// Room for the entries of a device directory (about 40) in one `getdents64`.
const LIST_SIZE: usize = 8192;

/// A directory opened once; files below it are opened by paths relative to it.
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

/// Buffers reused from one file to the next: the path being opened, NUL-terminated for
/// the kernel, and the content read.
#[derive(Default)]
pub struct Scratch {
    path: Vec<u8>,
    data: Vec<u8>,
}

impl Scratch {
    /// `parts` joined as a C string, and the buffer to read into; `None` if a part holds
    /// a NUL (no file has such a name).
    fn split(&mut self, parts: &[impl AsRef<[u8]>]) -> Option<(&CStr, &mut Vec<u8>)> {
        self.path.clear();
        for part in parts.iter().map(AsRef::as_ref) {
            if part.contains(&0) {
                return None;
            }
            self.path.extend_from_slice(part);
        }
        self.path.push(0);
        let path = CStr::from_bytes_with_nul(&self.path).ok()?;
        Some((path, &mut self.data))
    }
}

impl Dir {
    /// The directory at `path`; `None` where there is none.
    pub fn open(path: &Path) -> Result<Option<Dir>> {
        let fd = match Scratch::default().split(&[path.as_os_str().as_bytes()]) {
            Some((c_path, _)) => open_optional(libc::AT_FDCWD, c_path, libc::O_DIRECTORY),
            None => Ok(None),
        };
        Ok(fd.map_err(|e| Error::io(path, e))?.map(|fd| Dir {
            fd,
            path: path.to_path_buf(),
        }))
    }

    /// The path of `parts` below this directory, for messages.
    pub fn path(&self, parts: &[&str]) -> PathBuf {
        self.path.join(parts.concat())
    }

    /// The content of the file `parts` (joined) name below this directory, in `scratch`;
    /// `None` where there is none (see [`read_optional`]).
    pub fn read<'s>(&self, parts: &[&str], scratch: &'s mut Scratch) -> Result<Option<&'s str>> {
        let Some((path, data)) = scratch.split(parts) else {
            return Ok(None);
        };
        read_at(self.fd.as_raw_fd(), path, data).map_err(|e| Error::io(self.path(parts), e))
    }

    /// Whether there is an entry `parts` (joined) below this directory, of any type (a
    /// symbolic link is not followed): one system call, where a listing takes four.
    pub fn has(&self, parts: &[&str], scratch: &mut Scratch) -> Result<bool> {
        let Some((path, _)) = scratch.split(parts) else {
            return Ok(false);
        };
        let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: `path` is NUL-terminated and `stat` is writable; it is not read.
        let done = unsafe {
            libc::fstatat(
                self.fd.as_raw_fd(),
                path.as_ptr(),
                stat.as_mut_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        match done {
            0 => Ok(true),
            _ => match io::Error::last_os_error() {
                e if gone(&e) => Ok(false),
                e => Err(Error::io(self.path(parts), e)),
            },
        }
    }

    /// Calls `visit` with each entry name of the directory `parts` name below this one;
    /// false where there is no such directory.
    pub fn each_entry(
        &self,
        parts: &[&str],
        scratch: &mut Scratch,
        visit: impl FnMut(&str),
    ) -> Result<bool> {
        let Some((path, data)) = scratch.split(parts) else {
            return Ok(false);
        };
        list_at(self.fd.as_raw_fd(), path, data, visit).map_err(|e| Error::io(self.path(parts), e))
    }
}

/// File content, or `None` where there is none: an absent device or attribute, or a
/// sysfs attribute this device does not support (it reads as EINVAL or EOPNOTSUPP).
pub fn read_optional(path: &Path) -> Result<Option<String>> {
    let mut scratch = Scratch::default();
    let Some((c_path, data)) = scratch.split(&[path.as_os_str().as_bytes()]) else {
        return Ok(None);
    };
    read_at(libc::AT_FDCWD, c_path, data)
        .map(|text| text.map(str::to_string))
        .map_err(|e| Error::io(path, e))
}

/// Sorted directory entry names that `select` maps; an absent directory has none.
pub fn entries(dir: &Path, select: impl Fn(&str) -> Option<&str>) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut scratch = Scratch::default();
    if let Some((c_path, data)) = scratch.split(&[dir.as_os_str().as_bytes()]) {
        list_at(libc::AT_FDCWD, c_path, data, |entry| {
            names.extend(select(entry).map(str::to_string))
        })
        .map_err(|e| Error::io(dir, e))?;
    }
    names.sort();
    Ok(names)
}

/// Opens `path` relative to `at`; `None` where it does not exist.
fn open_optional(at: RawFd, path: &CStr, flags: libc::c_int) -> io::Result<Option<OwnedFd>> {
    // SAFETY: `path` is NUL-terminated; the descriptor returned is owned from here on.
    let fd = unsafe { libc::openat(at, path.as_ptr(), flags | libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd >= 0 {
        // SAFETY: a fresh descriptor nobody else owns.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }));
    }
    match io::Error::last_os_error() {
        e if gone(&e) => Ok(None),
        e => Err(e),
    }
}

/// Whether an open or read failed because there is no such file: never was, or its
/// device is going away (sysfs answers ENODEV between a device's unregistering and the
/// removal of its directory).
fn gone(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
        || e.raw_os_error() == Some(libc::ENODEV)
}

/// The whole small file `path` (relative to `at`) in `scratch`. A read that returns less
/// than it was offered is the end (a regular file gives less only at its end, a sysfs
/// attribute gives its whole page in one read), so there is no size query and usually no
/// second read.
fn read_at<'d>(at: RawFd, path: &CStr, data: &'d mut Vec<u8>) -> io::Result<Option<&'d str>> {
    // A sysfs attribute this device does not support fails its open or its read.
    let unsupported =
        |e: &io::Error| matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EOPNOTSUPP));
    let fd = match open_optional(at, path, 0) {
        Ok(Some(fd)) => fd,
        Ok(None) => return Ok(None),
        Err(e) if unsupported(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut len = 0;
    loop {
        if data.len() < len + READ_SIZE {
            data.resize(len + READ_SIZE, 0);
        }
        let room = &mut data[len..];
        // SAFETY: `room` is writable for its whole length.
        let n = unsafe { libc::read(fd.as_raw_fd(), room.as_mut_ptr().cast(), room.len()) };
        if n < 0 {
            match io::Error::last_os_error() {
                e if e.kind() == ErrorKind::Interrupted => continue,
                e if unsupported(&e) || gone(&e) => return Ok(None),
                e => return Err(e),
            }
        }
        let n = n as usize;
        len += n;
        if n < room.len() {
            break;
        }
    }
    std::str::from_utf8(&data[..len])
        .map(Some)
        .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))
}

/// Calls `visit` with each entry of the directory `path` (relative to `at`) but `.` and
/// `..`, in the directory's order; false where there is no such directory. Names that
/// are not UTF-8 are skipped: no device or attribute has one.
fn list_at(
    at: RawFd,
    path: &CStr,
    data: &mut Vec<u8>,
    mut visit: impl FnMut(&str),
) -> io::Result<bool> {
    let Some(fd) = open_optional(at, path, libc::O_DIRECTORY)? else {
        return Ok(false);
    };
    if data.len() < LIST_SIZE {
        data.resize(LIST_SIZE, 0);
    }
    loop {
        // getdents64 rather than opendir: that also asks fstat, one more system call for
        // each directory. SAFETY: `data` is writable for its whole length.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                fd.as_raw_fd(),
                data.as_mut_ptr(),
                data.len(),
            )
        };
        match n {
            0 => return Ok(true),
            n if n < 0 => match io::Error::last_os_error() {
                e if e.kind() == ErrorKind::Interrupted => continue,
                e => return Err(e),
            },
            n => each_dirent(&data[..n as usize], &mut visit)?,
        }
    }
}

/// The names in a `getdents64` answer: `struct linux_dirent64 { u64 d_ino; s64 d_off;
/// u16 d_reclen; u8 d_type; char d_name[]; }`, each record `d_reclen` long.
fn each_dirent(mut records: &[u8], visit: &mut impl FnMut(&str)) -> io::Result<()> {
    const NAME: usize = 19;
    let broken = || io::Error::new(ErrorKind::InvalidData, "malformed getdents64 record");
    while !records.is_empty() {
        let reclen = match records.get(16..18) {
            Some(&[a, b]) => u16::from_ne_bytes([a, b]) as usize,
            _ => return Err(broken()),
        };
        let record = records.get(NAME..reclen).ok_or_else(broken)?;
        let name = CStr::from_bytes_until_nul(record).map_err(|_| broken())?;
        match name.to_str() {
            Ok("." | "..") | Err(_) => {}
            Ok(name) => visit(name),
        }
        records = &records[reclen..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn reads_and_lists_relative_to_the_directory() {
        let root = std::env::temp_dir().join(format!("fw4-offload-dir-{}", std::process::id()));
        let dev = root.join("eth0");
        fs::create_dir_all(dev.join("brif")).unwrap();
        // Longer than one read, so the file takes several.
        let big = "x".repeat(3 * READ_SIZE + 1);
        fs::write(dev.join("uevent"), &big).unwrap();
        for port in ["lan2", "lan1", "lan3"] {
            fs::write(dev.join("brif").join(port), "").unwrap();
        }

        let dir = Dir::open(&root).unwrap().expect("exists");
        let mut scratch = Scratch::default();
        let text = dir.read(&["eth0", "/uevent"], &mut scratch).unwrap();
        assert_eq!(text, Some(big.as_str()));
        assert_eq!(dir.read(&["eth0", "/ifindex"], &mut scratch).unwrap(), None);
        assert_eq!(
            dir.read(&["eth0", "/uevent/x"], &mut scratch).unwrap(),
            None
        );
        assert_eq!(dir.read(&["a\0b"], &mut scratch).unwrap(), None);
        let mut ports = Vec::new();
        let listed = dir.each_entry(&["eth0", "/brif"], &mut scratch, |e| {
            ports.push(e.to_string())
        });
        assert!(listed.unwrap());
        ports.sort();
        assert_eq!(ports, ["lan1", "lan2", "lan3"]);
        assert!(!dir.each_entry(&["eth1"], &mut scratch, |_| {}).unwrap());
        assert!(dir.has(&["eth0", "/brif/", "lan2"], &mut scratch).unwrap());
        assert!(!dir.has(&["eth0", "/brif/", "lan4"], &mut scratch).unwrap());
        assert!(!dir.has(&["eth1", "/uevent"], &mut scratch).unwrap());

        assert_eq!(
            entries(&dev.join("brif"), |e| e.strip_suffix('2')).unwrap(),
            ["lan"]
        );
        assert_eq!(read_optional(&dev.join("uevent")).unwrap(), Some(big));
        assert!(Dir::open(&root.join("none")).unwrap().is_none());
        assert!(gone(&io::Error::from_raw_os_error(libc::ENODEV)));
        assert!(!gone(&io::Error::from_raw_os_error(libc::EACCES)));
        fs::remove_dir_all(&root).unwrap();
    }
}
