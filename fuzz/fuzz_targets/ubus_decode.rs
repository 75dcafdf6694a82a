//! Any bytes as a ubus message. `Message::decode` must never panic and never allocate; a
//! message it accepts must re-encode to at most as many bytes, decode again to the same
//! message, and re-encode to the same bytes after that; `frame_len` must agree on its
//! length; what the daemon reads of it (request, payload as JSON, `flows` arguments) must
//! not panic either.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use fw4_offload::report::query;
use fw4_offload::stats::conntrack::MAX_LIMIT;
use fw4_offload::ubus::message::{frame_len, Message};
use fw4_offload::ubus::server::Request;
use libfuzzer_sys::fuzz_target;

/// Counts the bytes the Rust code allocates (libFuzzer runs one input at a time).
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(new_size.saturating_sub(layout.size()), Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fuzz_target!(|data: &[u8]| {
    let before = ALLOCATED.load(Relaxed);
    let decoded = Message::decode(data);
    let len = frame_len(data);
    assert_eq!(ALLOCATED.load(Relaxed), before, "decoding allocated");

    let msg = match decoded {
        Ok(msg) => msg,
        Err(e) => {
            let text = e.to_string();
            assert!(!text.is_empty() && !text.contains('\n'));
            return;
        }
    };
    assert_eq!(len.unwrap(), Some(data.len()));

    let bytes = msg.encode().expect("a decoded message re-encodes");
    assert!(bytes.len() <= data.len());
    let again = Message::decode(&bytes).expect("a re-encoded message decodes");
    assert_eq!(again, msg);
    assert_eq!(again.encode().unwrap(), bytes);

    if let Ok(Some(request)) = Request::from_message(&msg) {
        assert_eq!(
            (request.peer, request.seq),
            (msg.header.peer, msg.header.seq)
        );
        // The daemon's `flows` reads any payload as its arguments.
        if let Ok(query) = query::from_ubus(request.args) {
            assert!(query.limit <= MAX_LIMIT);
        }
    }
    for list in [msg.data(), msg.signature()].into_iter().flatten() {
        let json = list.to_json();
        assert!(json.len() <= list.entries().count());
    }
});
