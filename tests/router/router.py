"""A router's ubus services in a scratch root, for the LuCI and Prometheus tests.

OpenWrt's ubusd, rpcd and uhttpd as tests/openwrt/build builds them, and the fw4-offload
daemon, each chrooted into one scratch root laid out as on a router: their own files
under /usr, this machine's C library and the few libraries they link beside it, the
feed's packages installed where their Makefiles put them, /etc/config with the
scenario's configs, and the scenario's snapshot (sysfs, ethtool, conntrack, PPE
debugfs) under /snapshot, which the daemon reads with --root.

HostRouter runs them on this machine; run it in network and mount namespaces of its own
(unshare -n -m): uhttpd listens on loopback, the daemon's applies go to that namespace's
nf_tables, and the root's /proc is mounted there alone. vm.py's GuestRouter runs the
same root in the VM.
"""

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LUCI_RUNTIME = REPO.parent / "shared/third_party/luci"


# The module paths OpenWrt's Lua has built in (package/utils/lua, 200-lua-path.patch);
# Debian's liblua5.1, which uhttpd's Lua handler and lua link here, has others.
OPENWRT_LUA = {
    "LUA_PATH": "./?.lua;/usr/share/lua/?.lua;/usr/share/lua/?/init.lua;/usr/lib/lua/?.lua;"
                "/usr/lib/lua/?/init.lua",
    "LUA_CPATH": "./?.so;/usr/lib/lua/?.so;/usr/lib/lua/loadall.so",
}


def wait_for(what, ready, timeout=10.0):
    """Polls ready() until it is true; fails naming what did not happen."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.05)


def port_open(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Router:
    """The scratch root ROOT and the services running in it."""

    def __init__(self, root, openwrt, binary, logs):
        """openwrt: what tests/openwrt/build printed (OUT/stage, OUT/src)."""
        self.root = Path(root).resolve()
        self.stage = Path(openwrt) / "stage"
        self.src = Path(openwrt) / "src"
        self.binary = Path(binary)
        self.logs = Path(logs)
        self.procs = {}

    # ------------------------------------------------------------------ the root
    def build(self, scenario):
        """Lays out the root: OpenWrt's userspace, the helper, the libraries they link,
        the scenario's configs and snapshot (a directory laid out like --root)."""
        r = self.root
        if r.exists():
            shutil.rmtree(r)
        for d in ("bin", "lib64", "lib/x86_64-linux-gnu", "etc/config", "proc", "sys", "tmp",
                  "var/run/ubus", "var/run/rpcd", "www", "usr"):
            (r / d).mkdir(parents=True, exist_ok=True)
        for d in ("bin", "sbin", "lib"):
            shutil.copytree(self.stage / "usr" / d, r / "usr" / d, symlinks=True)
        shutil.copy2(self.binary, r / "usr/sbin/fw4-offload")
        (r / "dev").mkdir()
        for name, minor in (("null", 3), ("zero", 5), ("random", 8), ("urandom", 9)):
            os.mknod(r / "dev" / name, 0o20666, os.makedev(1, minor))
        # busybox's sh and ls: what the exporter and the package scripts call, as on OpenWrt
        shutil.copy2(shutil.which("busybox"), r / "bin/busybox")
        for applet in ("sh", "ls", "cat", "kill"):
            (r / "bin" / applet).symlink_to("busybox")
        shutil.copy2("/usr/bin/lua5.1", r / "usr/bin/lua")
        shutil.copy2(HERE / "malformed-offload.lua", r / "usr/bin/malformed-offload")
        # luasocket (the exporter's clock) where OpenWrt's luasocket package puts it
        lua = r / "usr/lib/lua"
        (lua / "socket").mkdir(parents=True, exist_ok=True)
        shutil.copy2("/usr/share/lua/5.1/socket.lua", lua / "socket.lua")
        shutil.copy2("/usr/lib/x86_64-linux-gnu/lua/5.1/socket/core.so", lua / "socket/core.so")
        self._copy_libraries()
        # rpcd's own files, as OpenWrt's package/system/rpcd installs them
        acl = r / "usr/share/rpcd/acl.d"
        acl.mkdir(parents=True)
        shutil.copy(self.src / "rpcd/unauthenticated.json", acl)
        shutil.copy(self.src / "openwrt/package/system/rpcd/files/rpcd.config", r / "etc/config/rpcd")
        (r / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (r / "etc/group").write_text("root:x:0:\n")
        shutil.copytree(scenario / "etc/config", r / "etc/config", dirs_exist_ok=True)
        shutil.copytree(scenario, r / "snapshot", symlinks=True, ignore=shutil.ignore_patterns("etc"))

    def _copy_libraries(self):
        """Every library an ELF file of the root links from this machine, at its path."""
        wanted = set()
        for f in self.root.rglob("*"):
            if not f.is_file() or f.is_symlink() or f.read_bytes()[:4] != b"\x7fELF":
                continue
            out = subprocess.run(["ldd", f], capture_output=True, text=True).stdout
            for line in out.splitlines():
                words = line.split()
                path = words[2] if len(words) > 2 and words[1] == "=>" else words[0]
                if path.startswith("/") and not path.startswith(str(self.root)):
                    wanted.add(path)
        for lib in wanted:
            where = "lib64" if Path(lib).parent.name == "lib64" else "lib/x86_64-linux-gnu"
            shutil.copy2(os.path.realpath(lib), self.root / where / Path(lib).name)

    def install(self, src, dest="/"):
        """Copies the tree src into the root at dest, as a package install does."""
        shutil.copytree(src, self.root / dest.lstrip("/"), dirs_exist_ok=True)

    def add_login(self, user, password, read, write):
        """A system user in /etc/shadow and an rpcd login for it ($p$: rpcd checks the
        shadow entry) with the ACL groups it may read and write."""
        hashed = subprocess.run(["openssl", "passwd", "-6", password], capture_output=True,
                                text=True, check=True).stdout.strip()
        shadow = self.root / "etc/shadow"
        with shadow.open("a") as f:
            f.write(f"{user}:{hashed}:19000:0:99999:7:::\n")
        shadow.chmod(0o600)
        with (self.root / "etc/passwd").open("a") as f:
            f.write(f"{user}:x:1000:1000:{user}:/tmp:/bin/false\n")
        lines = [f"config login\n\toption username '{user}'\n\toption password '$p${user}'\n"]
        lines += [f"\tlist read '{g}'\n" for g in read]
        lines += [f"\tlist write '{g}'\n" for g in write]
        with (self.root / "etc/config/rpcd").open("a") as f:
            f.write("\n" + "".join(lines))

    # ------------------------------------------------------------------ services
    # Where they run (this machine, or a VM) is up to a subclass: run, start, stop,
    # exists and listening; the rest is the same everywhere.
    ADDRESS = "127.0.0.1"  # where uhttpd listens

    def stop_all(self):
        for name in reversed(list(self.procs)):
            self.stop(name)

    def start_ubus(self):
        self.start("ubusd", "/usr/sbin/ubusd", "-s", "/var/run/ubus/ubus.sock")
        wait_for("ubusd's socket", lambda: self.exists("/var/run/ubus/ubus.sock"))

    def start_rpcd(self):
        self.start("rpcd", "/usr/sbin/rpcd", "-s", "/var/run/ubus/ubus.sock", "-t", "300")
        wait_for("rpcd's session object", lambda: "session" in self.objects())

    def start_daemon(self):
        self.start("daemon", "/usr/sbin/fw4-offload", "--root", "/snapshot", "--config",
                   "/etc/config", "-s", "/var/run/ubus/ubus.sock", "daemon")
        wait_for("the daemon's offload object", lambda: "offload" in self.objects())
        wait_for("the daemon's first apply", lambda: "last_apply" in self.ubus("offload", "status"))

    def start_malformed_peer(self):
        """malformed-offload.lua: the object `offload` answering with the wrong types."""
        self.start("malformed", "/usr/bin/lua", "/usr/bin/malformed-offload")
        wait_for("the malformed peer's offload object", lambda: "offload" in self.objects())

    def start_uhttpd(self, name, port, *args):
        self.start(name, "/usr/bin/uhttpd", "-f", "-p", f"{self.ADDRESS}:{port}", *args)
        wait_for(f"{name} on port {port}", lambda: self.listening(port))

    # ------------------------------------------------------------------ ubus
    def objects(self):
        return self.run(["/usr/bin/ubus", "list"])[1].split()

    def ubus_rc(self, obj, method, args=None):
        """`ubus call OBJ METHOD`'s exit status (the ubus status of the answer)."""
        return self.run(["/usr/bin/ubus", "call", obj, method, json.dumps(args or {})])[0]

    def ubus(self, obj, method, args=None):
        """`ubus call OBJ METHOD`, in the root, as JSON."""
        rc, out = self.run(["/usr/bin/ubus", "call", obj, method, json.dumps(args or {})])
        if rc:
            raise RuntimeError(f"ubus call {obj} {method}: status {rc}: {out}")
        return json.loads(out)

    def uci_get(self, key):
        return self.run(["/usr/bin/uci", "get", key])[1].split()


class HostRouter(Router):
    """The services chrooted into the root on this machine (in the caller's namespaces)."""

    def run(self, argv):
        """ARGV in the root: (exit status, stdout)."""
        p = subprocess.run(["chroot", self.root, *argv], capture_output=True, text=True,
                           env=self.environ())
        return p.returncode, p.stdout

    def environ(self, env=None):
        return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **OPENWRT_LUA, **(env or {})}

    def start(self, name, *argv, env=None):
        self.logs.mkdir(parents=True, exist_ok=True)
        out = open(self.logs / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(["chroot", self.root, *argv], stdout=out,
                                            stderr=subprocess.STDOUT, env=self.environ(env))

    def stop(self, name):
        p = self.procs.pop(name)
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def exists(self, path):
        return (self.root / path.lstrip("/")).exists()

    def listening(self, port):
        return port_open(port)

    def mount_proc(self):
        """/proc, which the exporter writes its answer through (/proc/self/fd/1)."""
        subprocess.run(["mount", "-t", "proc", "proc", self.root / "proc"], check=True)
