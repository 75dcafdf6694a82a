//! nf_tables batches against this machine's kernel, each test in a network namespace of
//! its own thread (needs root): the kernel's answers matched to the batch by sequence
//! number, for a batch it takes, one whose message it refuses, one it refuses as a whole
//! (no CAP_NET_ADMIN, a stale generation), and the generation moving on with commits.
//! Tables, not flowtables: this host's kernel has none.

use std::io;

use fw4_offload::nftables::{Batch, BatchError, Nftables};

const INET: u8 = libc::NFPROTO_INET as u8;

/// Runs `test` in a thread moved into a new network namespace.
fn in_netns(test: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        // SAFETY: unshare(2) moves this thread alone into a new network namespace.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "unshare: {} (needs root)",
            io::Error::last_os_error()
        );
        test();
    })
    .join()
    .unwrap();
}

fn add_table(generation: Option<u32>, name: &str) -> Batch {
    let mut batch = Batch::new(generation);
    batch.add_table(INET, name);
    batch
}

#[test]
fn a_batch_taken_moves_the_generation_on() {
    in_netns(|| {
        let nft = Nftables::open().unwrap();
        let before = nft.generation().unwrap();
        nft.commit(add_table(Some(before), "t")).unwrap();
        let after = nft.generation().unwrap();
        assert_ne!(before, after);
        assert_eq!(nft.tables(INET).unwrap(), ["t"]);
        // A check-only batch commits nothing, and leaves the generation as it was.
        nft.check(add_table(Some(after), "u")).unwrap();
        assert_eq!(nft.generation().unwrap(), after);
        assert_eq!(nft.tables(INET).unwrap(), ["t"]);
    });
}

#[test]
fn the_refused_message_is_named() {
    in_netns(|| {
        let nft = Nftables::open().unwrap();
        let mut batch = add_table(None, "t");
        batch.del_table(INET, "nosuch");
        batch.add_table(INET, "u");
        match nft.commit(batch) {
            Err(BatchError::Refused { object, error, .. }) => {
                assert_eq!(object, "delete table nosuch");
                assert_eq!(error.raw_os_error(), Some(libc::ENOENT));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            nft.tables(INET).unwrap().is_empty(),
            "nothing was committed"
        );
    });
}

#[test]
fn a_stale_generation_is_refused_as_such() {
    in_netns(|| {
        let nft = Nftables::open().unwrap();
        let read = nft.generation().unwrap();
        // Someone else commits after our read (as fw4 reloading would).
        Nftables::open()
            .unwrap()
            .commit(add_table(None, "fw4"))
            .unwrap();
        let e = nft.commit(add_table(Some(read), "t")).unwrap_err();
        assert!(e.is_stale(), "{e}");
        assert_eq!(nft.tables(INET).unwrap(), ["fw4"]);
    });
}

/// Drops CAP_NET_ADMIN from this thread's effective set (capabilities are per thread).
fn drop_net_admin() {
    const CAP_NET_ADMIN: u32 = 12;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget/capset read and write one header and two data structs.
    unsafe {
        assert_eq!(
            libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()),
            0
        );
        data[0].effective &= !(1 << CAP_NET_ADMIN);
        assert_eq!(
            libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()),
            0
        );
    }
}

/// The socket was opened with CAP_NET_ADMIN, the batch is sent without it: the kernel
/// answers BATCH_BEGIN alone, with EPERM. That answer ends the wait with its errno (not
/// the socket's receive timeout, EAGAIN, for answers that never come).
#[test]
fn a_batch_refused_as_a_whole_gives_the_errno_at_once() {
    in_netns(|| {
        let nft = Nftables::open().unwrap();
        let generation = nft.generation().unwrap();
        drop_net_admin();
        // More than one message, as every apply has: the one answer must end the wait.
        let mut batch = add_table(Some(generation), "t");
        batch.add_table(INET, "u");
        match nft.commit(batch) {
            Err(BatchError::Refused { object, error, .. }) => {
                assert_eq!(error.raw_os_error(), Some(libc::EPERM), "{error}");
                assert_eq!(object, "the nf_tables batch");
            }
            other => panic!("not refused as a whole: {other:?}"),
        }
    });
}
