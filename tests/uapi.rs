//! Every number the helper writes into nfnetlink and ubus messages on its own, checked
//! against the C headers it comes from: a generated C program prints each one, compiled
//! by gcc against
//! - Debian's linux-libc-dev (`/usr/include`) and linux-source-6.12's `include/uapi`
//!   (prepared by the kernel's own `scripts/headers_install.sh`, as `make headers_install`
//!   does), for nf_tables and nfnetlink: `nftables::sys` whole, and the netfilter numbers
//!   and header sizes the code takes from libc or writes itself;
//! - libubox's `blob.h` and `blobmsg.h` and ubus's `ubusmsg.h` at the commits pinned in
//!   `../shared/third_party/openwrt-src` (downloaded from GitHub at the same commits when
//!   that folder is absent), for the ubus codec.
//!
//! gcc's dependency output proves which header files each program was compiled from.
//! Unpacked and prepared headers are kept under Cargo's target tmp folder (build/cargo/tmp).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use fw4_offload::netlink::{NFGENMSG_LEN, NLMSG_HDRLEN};
use fw4_offload::nftables::sys;
use fw4_offload::ubus::blob;
use fw4_offload::ubus::blobmsg::Type;
use fw4_offload::ubus::client::EVENT_OBJECT;
use fw4_offload::ubus::message::{self as msg, Kind, Status};

const KERNEL_TARBALL: &str = "/usr/src/linux-source-6.12.tar.xz";
const KERNEL_DIR: &str = "linux-source-6.12";
const NETFILTER_HEADERS: &[&str] = &[
    "linux/netlink.h",
    "linux/netfilter.h",
    "linux/netfilter/nfnetlink.h",
    "linux/netfilter/nf_tables.h",
];
/// (repository, commit) of the pinned libubox and ubus, as ../shared names their archives.
const LIBUBOX: (&str, &str) = ("libubox", "1aa36ee774c8db4d7a396903e0d2e1fb79ee8bf1");
const UBUS: (&str, &str) = ("ubus", "3cc98db1a422dcf560f2d6347fd410f17565a89d");

/// C expression and our value for every nf_tables and nfnetlink number.
fn netfilter_numbers() -> Vec<(&'static str, i64)> {
    let mut numbers = sys::ALL.to_vec();
    numbers.extend([
        ("NETLINK_NETFILTER", i64::from(libc::NETLINK_NETFILTER)),
        ("NFPROTO_INET", i64::from(libc::NFPROTO_INET)),
        ("NF_INET_FORWARD", i64::from(libc::NF_INET_FORWARD)),
        ("NF_NETDEV_INGRESS", i64::from(libc::NF_NETDEV_INGRESS)),
        ("NF_ACCEPT", i64::from(libc::NF_ACCEPT)),
        ("sizeof(struct nlmsghdr)", NLMSG_HDRLEN as i64),
        ("sizeof(struct nfgenmsg)", NFGENMSG_LEN as i64),
    ]);
    numbers
}

/// C expression and our value for every libubox and ubus number.
fn ubus_numbers() -> Vec<(&'static str, i64)> {
    let mut numbers: Vec<(&str, i64)> = vec![
        ("BLOB_ATTR_ID_MASK", blob::ID_MASK.into()),
        ("BLOB_ATTR_ID_SHIFT", blob::ID_SHIFT.into()),
        ("BLOB_ATTR_LEN_MASK", blob::LEN_MASK.into()),
        ("BLOB_ATTR_EXTENDED", blob::EXTENDED.into()),
        ("BLOB_ATTR_ALIGN", blob::ALIGN as i64),
        ("sizeof(struct blob_attr)", blob::HEADER_LEN as i64),
        ("sizeof(struct ubus_msghdr)", msg::HEADER_LEN as i64),
        ("UBUS_SYSTEM_OBJECT_EVENT", EVENT_OBJECT.into()),
        ("UBUS_ATTR_STATUS", msg::UBUS_ATTR_STATUS.into()),
        ("UBUS_ATTR_OBJPATH", msg::UBUS_ATTR_OBJPATH.into()),
        ("UBUS_ATTR_OBJID", msg::UBUS_ATTR_OBJID.into()),
        ("UBUS_ATTR_METHOD", msg::UBUS_ATTR_METHOD.into()),
        ("UBUS_ATTR_OBJTYPE", msg::UBUS_ATTR_OBJTYPE.into()),
        ("UBUS_ATTR_SIGNATURE", msg::UBUS_ATTR_SIGNATURE.into()),
        ("UBUS_ATTR_DATA", msg::UBUS_ATTR_DATA.into()),
        ("UBUS_ATTR_TARGET", msg::UBUS_ATTR_TARGET.into()),
        ("UBUS_ATTR_ACTIVE", msg::UBUS_ATTR_ACTIVE.into()),
        ("UBUS_ATTR_NO_REPLY", msg::UBUS_ATTR_NO_REPLY.into()),
        ("UBUS_ATTR_USER", msg::UBUS_ATTR_USER.into()),
        ("UBUS_ATTR_GROUP", msg::UBUS_ATTR_GROUP.into()),
    ];
    let types = [
        ("BLOBMSG_TYPE_UNSPEC", Type::Unspec),
        ("BLOBMSG_TYPE_ARRAY", Type::Array),
        ("BLOBMSG_TYPE_TABLE", Type::Table),
        ("BLOBMSG_TYPE_STRING", Type::String),
        ("BLOBMSG_TYPE_INT64", Type::Int64),
        ("BLOBMSG_TYPE_INT32", Type::Int32),
        ("BLOBMSG_TYPE_INT16", Type::Int16),
        ("BLOBMSG_TYPE_INT8", Type::Bool),
        ("BLOBMSG_TYPE_BOOL", Type::Bool),
        ("BLOBMSG_TYPE_DOUBLE", Type::Double),
    ];
    let kinds = [
        ("UBUS_MSG_HELLO", Kind::Hello),
        ("UBUS_MSG_STATUS", Kind::Status),
        ("UBUS_MSG_DATA", Kind::Data),
        ("UBUS_MSG_PING", Kind::Ping),
        ("UBUS_MSG_LOOKUP", Kind::Lookup),
        ("UBUS_MSG_INVOKE", Kind::Invoke),
        ("UBUS_MSG_ADD_OBJECT", Kind::AddObject),
        ("UBUS_MSG_REMOVE_OBJECT", Kind::RemoveObject),
        ("UBUS_MSG_SUBSCRIBE", Kind::Subscribe),
        ("UBUS_MSG_UNSUBSCRIBE", Kind::Unsubscribe),
        ("UBUS_MSG_NOTIFY", Kind::Notify),
        ("UBUS_MSG_MONITOR", Kind::Monitor),
    ];
    let statuses = [
        ("UBUS_STATUS_OK", Status::Ok),
        ("UBUS_STATUS_INVALID_COMMAND", Status::InvalidCommand),
        ("UBUS_STATUS_INVALID_ARGUMENT", Status::InvalidArgument),
        ("UBUS_STATUS_METHOD_NOT_FOUND", Status::MethodNotFound),
        ("UBUS_STATUS_NOT_FOUND", Status::NotFound),
        ("UBUS_STATUS_NO_DATA", Status::NoData),
        ("UBUS_STATUS_PERMISSION_DENIED", Status::PermissionDenied),
        ("UBUS_STATUS_TIMEOUT", Status::Timeout),
        ("UBUS_STATUS_NOT_SUPPORTED", Status::NotSupported),
        ("UBUS_STATUS_UNKNOWN_ERROR", Status::UnknownError),
        ("UBUS_STATUS_CONNECTION_FAILED", Status::ConnectionFailed),
    ];
    numbers.extend(types.map(|(c, t)| (c, t as i64)));
    numbers.extend(kinds.map(|(c, k)| (c, k as i64)));
    numbers.extend(statuses.map(|(c, s)| (c, s as i64)));
    numbers
}

#[test]
fn netfilter_numbers_match_debian_linux_libc_dev() {
    let deps = check(
        "linux-libc-dev",
        &[],
        NETFILTER_HEADERS,
        &netfilter_numbers(),
    );
    assert_read(&deps, "/usr/include/linux/netfilter/nf_tables.h");
    assert_read(&deps, "/usr/include/linux/netfilter/nfnetlink.h");
}

#[test]
fn netfilter_numbers_match_linux_source_6_12() {
    let include = kernel_headers();
    let deps = check(
        "linux-6.12",
        &[&include],
        NETFILTER_HEADERS,
        &netfilter_numbers(),
    );
    let include = include.display();
    assert_read(&deps, &format!("{include}/linux/netfilter/nf_tables.h"));
    assert_read(&deps, &format!("{include}/linux/netfilter/nfnetlink.h"));
}

#[test]
fn ubus_numbers_match_libubox_and_ubus() {
    let include = ubus_headers();
    let headers = ["libubox/blobmsg.h", "ubusmsg.h"];
    let deps = check("ubus", &[&include], &headers, &ubus_numbers());
    let include = include.display();
    for header in ["libubox/blob.h", "libubox/blobmsg.h", "ubusmsg.h"] {
        assert_read(&deps, &format!("{include}/{header}"));
    }
}

fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("uapi");
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Compiles a program printing every expression of `numbers` with `headers` included
/// (from `includes` before the system's), compares its output with our values and
/// returns gcc's list of the files it read.
fn check(name: &str, includes: &[&Path], headers: &[&str], numbers: &[(&str, i64)]) -> String {
    let dir = work_dir();
    let program = dir.join(format!("numbers-{name}"));
    let source = dir.join(format!("numbers-{name}.c"));
    let deps = dir.join(format!("numbers-{name}.d"));
    let mut c = String::from("#include <stdio.h>\n");
    for header in headers {
        c += &format!("#include <{header}>\n");
    }
    c += "int main(void)\n{\n";
    for (expr, _) in numbers {
        c += &format!("\tprintf(\"%lld\\n\", (long long)({expr}));\n");
    }
    c += "\treturn 0;\n}\n";
    fs::write(&source, c).unwrap();

    let mut gcc = Command::new("gcc");
    gcc.args(["-Wall", "-Werror", "-MD", "-MF"]).arg(&deps);
    for include in includes {
        gcc.arg("-I").arg(include);
    }
    run(gcc.arg("-o").arg(&program).arg(&source));

    let printed = run(&mut Command::new(&program));
    let theirs: Vec<i64> = printed.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(theirs.len(), numbers.len());
    let wrong: Vec<String> = numbers
        .iter()
        .zip(&theirs)
        .filter(|((_, ours), theirs)| ours != *theirs)
        .map(|((expr, ours), theirs)| format!("{expr}: ours {ours}, headers {theirs}"))
        .collect();
    assert!(wrong.is_empty(), "{name}: {}", wrong.join("; "));
    fs::read_to_string(deps).unwrap()
}

fn assert_read(deps: &str, header: &str) {
    assert!(
        deps.split_whitespace().any(|file| file == header),
        "{header} was not read; gcc read: {deps}"
    );
}

/// linux-source-6.12's `include/uapi`, each header the programs reach put through
/// `scripts/headers_install.sh` (which strips what only the kernel sees). Asm headers
/// come from the system (x86_64); no number checked here depends on them.
fn kernel_headers() -> PathBuf {
    let out = work_dir().join("linux-6.12-headers");
    let include = out.join("include");
    if out.join("done").exists() {
        return include;
    }
    assert!(
        Path::new(KERNEL_TARBALL).exists(),
        "{KERNEL_TARBALL} is missing: apt-get install linux-source-6.12 (.ci/run does)"
    );
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&include).unwrap();
    let members = ["Makefile", "include/uapi", "scripts/headers_install.sh"];
    run(Command::new("tar")
        .args(["-xJf", KERNEL_TARBALL, "-C"])
        .arg(&out)
        .args(members.map(|m| format!("{KERNEL_DIR}/{m}")))
        .arg(format!("{KERNEL_DIR}/scripts/unifdef.c")));
    let src = out.join(KERNEL_DIR);
    let makefile = fs::read_to_string(src.join("Makefile")).unwrap();
    assert!(
        makefile.contains("\nVERSION = 6\nPATCHLEVEL = 12\n"),
        "{KERNEL_TARBALL} is not Linux 6.12"
    );
    run(Command::new("gcc")
        .args(["-O2", "-o", "scripts/unifdef", "scripts/unifdef.c"])
        .current_dir(&src));

    let mut todo: Vec<String> = NETFILTER_HEADERS.iter().map(|h| h.to_string()).collect();
    while let Some(header) = todo.pop() {
        let (raw, done) = (
            src.join("include/uapi").join(&header),
            include.join(&header),
        );
        if done.exists() || !raw.exists() {
            continue; // seen, or not in include/uapi (asm/ comes from the system)
        }
        fs::create_dir_all(done.parent().unwrap()).unwrap();
        run(Command::new("sh")
            .arg("scripts/headers_install.sh")
            .args([&raw, &done])
            .current_dir(&src));
        let text = fs::read_to_string(&done).unwrap();
        todo.extend(text.lines().filter_map(|line| {
            let rest = line.trim_start().strip_prefix("#include")?.trim();
            Some(rest.strip_prefix('<')?.strip_suffix('>')?.to_owned())
        }));
    }
    fs::write(out.join("done"), "").unwrap();
    include
}

/// libubox's headers as `libubox/*.h` and ubus's `ubusmsg.h`, from the pinned archives.
fn ubus_headers() -> PathBuf {
    let include = work_dir().join("ubus-headers");
    if include.join("done").exists() {
        return include;
    }
    let _ = fs::remove_dir_all(&include);
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/third_party/openwrt-src");
    for ((repo, commit), files, to) in [
        (LIBUBOX, &["blob.h", "blobmsg.h", "utils.h"][..], "libubox"),
        (UBUS, &["ubusmsg.h"][..], ""),
    ] {
        let archive = shared.join(format!("{repo}-{}.tar.gz", &commit[..12]));
        let archive = if archive.exists() {
            archive
        } else {
            let url = format!("https://github.com/openwrt/{repo}/archive/{commit}.tar.gz");
            let fetched = work_dir().join(format!("{repo}-{commit}.tar.gz"));
            let mut curl = Command::new("curl");
            run(curl.args(["-fsSL", "-o"]).arg(&fetched).arg(&url));
            fetched
        };
        let to = include.join(to);
        fs::create_dir_all(&to).unwrap();
        run(Command::new("tar")
            .arg("-xzf")
            .arg(&archive)
            .arg("-C")
            .arg(&to)
            .args([
                "--strip-components=1",
                "--wildcards",
                "--no-wildcards-match-slash",
            ])
            .args(files.iter().map(|f| format!("*/{f}"))));
    }
    fs::write(include.join("done"), "").unwrap();
    include
}
