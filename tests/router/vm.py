"""The LuCI page and the collector on a router whose kernel has flowtables: the scratch
router root (router.py) booted in the VM (vm/run, tests/vm/router.sh) with a TCP and a
UDP flow through it, the browser and promtool on this machine, reaching the router's
uhttpd through QEMU's forwarded ports. Run by tests/vm-router.

What the host's kernel cannot show, shown for real: the apply succeeds, the kernel
refuses hardware offload on the router's devices (veth: EOPNOTSUPP) and the apply falls
back to software; the page shows the effective mode, the loaded flowtable and its
devices, the slow-path counter, the apply's changes and fallback reason, and the flows
conntrack offloads; Reload with nothing to change; a device excluded through the form
leaves the flowtable in place, the change shown; the collector's samples, fallback and
slow-path counters among them, are `ubus call offload status`'s and pass promtool. The
screenshot in docs/ is this page.
"""

import base64
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

sys.path.insert(0, str(Path(__file__).parent))
import luci  # noqa: E402
import prometheus  # noqa: E402
import router  # noqa: E402
from checks import Checks  # noqa: E402

REPO = router.REPO
OUT = Path(os.environ.get("OUT", REPO / "build/vm-router"))
c = luci.c = prometheus.c = Checks("vm-router")

FIREWALL = """config defaults
\toption input 'REJECT'
\toption output 'ACCEPT'
\toption forward 'REJECT'
\toption flow_offloading '1'
\toption flow_offloading_hw '1'

config zone
\toption name 'lan'
\tlist network 'lan'
\toption forward 'ACCEPT'

config zone
\toption name 'wan'
\tlist network 'wan'

config offload
\toption hw_exclude_shaped '1'
"""
NETWORK = """config interface 'lan'
\toption device 'lan1'
\toption proto 'static'

config interface 'wan'
\toption device 'wan'
\toption proto 'dhcp'
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GuestRouter(router.Router):
    """The services chrooted into /router in the VM, started over its control port: the
    daemon in the router's network namespace, where its devices and flows are, the others
    where QEMU's forwarded ports reach them."""

    ADDRESS = "0.0.0.0"
    ENV = " ".join(f"{k}={shlex.quote(v)}" for k, v in router.OPENWRT_LUA.items())

    def connect(self, path, timeout=300):
        router.wait_for("the VM's control port", lambda: os.path.exists(path), timeout)
        self.ctl = socket.socket(socket.AF_UNIX)
        self.ctl.connect(path)
        self.lines = self.ctl.makefile("rw", newline="\n")
        deadline = time.monotonic() + timeout
        self.ctl.settimeout(timeout)
        line = self.lines.readline().strip()
        if line != "READY" or time.monotonic() > deadline:
            raise RuntimeError(f"the VM did not get ready: {line!r}")
        self.ctl.settimeout(60)

    def shell(self, command):
        """COMMAND run by the VM's sh: (exit status, output)."""
        self.lines.write(base64.b64encode(command.encode()).decode() + "\n")
        self.lines.flush()
        rc, _, out = self.lines.readline().strip().partition(" ")
        return int(rc), base64.b64decode(out).decode()

    def chroot(self, argv, netns=None):
        ns = f"/sbin/ip netns exec {netns} " if netns else ""
        return f"{ns}env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin {self.ENV} chroot /router {shlex.join(argv)}"

    def run(self, argv):
        return self.shell(self.chroot(argv))

    def start(self, name, *argv, env=None):
        netns = "router" if name == "daemon" else None
        rc, pid = self.shell(f"{self.chroot(list(argv), netns)} >/tmp/{name}.log 2>&1 </dev/null & echo $!")
        self.procs[name] = pid.strip()

    def stop(self, name):
        pid = self.procs.pop(name)
        # reparented to the VM's init, which does not reap: gone or a zombie is stopped
        self.shell(f"kill {pid}; while [ -e /proc/{pid} ] && ! grep -q ') Z ' /proc/{pid}/stat; "
                   "do sleep 0.1; done")

    def exists(self, path):
        return self.shell(f"test -e /router{path}")[0] == 0

    def listening(self, port):
        return self.shell(f"netstat -ltn | grep -q ':{port} '")[0] == 0

    def save_logs(self):
        """The services' logs in the VM, into LOGS/."""
        self.logs.mkdir(parents=True, exist_ok=True)
        for name in self.shell("cd /tmp && ls *.log")[1].split():
            (self.logs / name).write_text(self.shell(f"cat /tmp/{name}")[1])

    def exit(self):
        self.lines.write("exit\n")
        self.lines.flush()


def build(r):
    scenario = OUT / "scenario"
    shutil.rmtree(scenario, ignore_errors=True)
    (scenario / "etc/config").mkdir(parents=True)
    (scenario / "etc/config/firewall").write_text(FIREWALL)
    (scenario / "etc/config/network").write_text(NETWORK)
    r.build(scenario)
    luci.install_luci(r)
    prometheus.install_exporter(r)
    subprocess.run(["tar", "-C", r.root, "-cf", OUT / "router.tar", "."], check=True)


def nic_modules(kver_dir):
    """The virtio NIC's modules, which the VM's initramfs leaves out, unpacked."""
    mods = OUT / "mods"
    mods.mkdir(exist_ok=True)
    for m in ("net/core/failover", "drivers/net/net_failover", "drivers/net/virtio_net"):
        with open(mods / (Path(m).name + ".ko"), "wb") as f:
            subprocess.run(["xz", "-dc", kver_dir / "kernel" / f"{m}.ko.xz"], stdout=f, check=True)
    return mods


def page(r, driver, sid):
    print("== the page")
    c.check("the page loads", luci.open_page(driver, sid))
    status = r.ubus("offload", "status")
    last, loaded = status["last_apply"], status["loaded"]
    c.check("the apply succeeded and fell back to software (veth refuses hardware)",
            last.get("error") is None and "Operation not supported" in (last.get("fallback") or ""), last)
    c.equal("device rows are the daemon's: the kernel's refusal as the reason",
            luci.rows(driver, "fw4o-device-table", "data-device"), luci.device_rows(status))
    c.equal("effective mode", luci.pair(driver, "fw4o-mode", "effective"), "Software")
    ft = loaded["flowtable"]
    c.equal("the loaded flowtable and its devices", luci.pair(driver, "fw4o-mode", "flowtable"),
            f"{ft['table']} {ft['name']} on {', '.join(ft['devices'])}")
    packets = r.ubus("offload", "status")["loaded"]["counter"]["packets"]
    c.check("the slow-path counter is the rule's", luci.wait(driver, "the slow-path counter",
            "document.querySelector('#fw4o-mode tr[data-key=counter]')?.cells[1].textContent"
            f".startsWith('{packets} packets,')"))
    c.equal("last apply: the changes", luci.pair(driver, "fw4o-apply", "changes"), "".join(last["changes"]))
    c.check("last apply: there were changes", bool(last["changes"]), last)
    c.equal("last apply: the fallback reason", luci.pair(driver, "fw4o-apply", "fallback"), last["fallback"])
    c.equal("last apply: applied", luci.pair(driver, "fw4o-apply", "result"), "applied")
    offloaded = luci.offloaded(status["flows"]["all"])
    c.equal("the TCP and the UDP flow are offloaded (software)", (offloaded, status["flows"]["all"]["software"]), (2, 2))
    c.check("the page lists them", luci.wait(driver, "the flows listed",
            "document.getElementById('fw4o-flow-range').textContent == '1–2 of 2'"))
    c.equal("both are offloaded in software", sorted(row[1] for row in luci.rows(driver, "fw4o-flow-table", "data-flag")),
            ["ipv4/tcp", "ipv4/udp"])
    c.check("no PPE, no WED in a VM: said so", "No PPE" in driver.find_element(By.ID, "fw4o-ppe").text
            and "No WED" in driver.find_element(By.ID, "fw4o-wed").text)
    c.equal("no JavaScript errors", luci.js_errors(driver), [])
    c.equal("no LuCI error notifications", luci.runtime_notifications(driver), [])


def reload_and_exclude(r, driver, sid):
    print("== Reload, and a device excluded")
    before = r.ubus("offload", "status")["last_apply"]["time"]
    time.sleep(max(0.0, before + 1.1 - time.time()))
    driver.find_element(By.ID, "fw4o-reload").click()
    result = luci.wait(driver, "Reload reports its apply", "!document.querySelector('#fw4o-reload-result .spinning')"
                       " && document.getElementById('fw4o-reload-result').textContent")
    c.equal("Reload: the kernel holds the plan, nothing to change", result,
            "Nothing to change: the kernel holds the plan.")
    field = driver.find_element(By.CSS_SELECTOR, "#cbi-firewall .cbi-dynlist input[type=text]")
    field.send_keys("lan1", Keys.ENTER)
    driver.find_element(By.CSS_SELECTOR, ".cbi-button-save").click()
    luci.wait(driver, "Save done", "!document.querySelector('.cbi-button-save').disabled"
              " && !document.querySelector('.spinning')")
    time.sleep(1)
    c.equal("rpcd applies the session's changes", luci.jsonrpc(sid, "uci", "apply", {"rollback": False})["result"], [0])
    c.equal("/etc/config/firewall has exclude_device lan1", r.uci_get("firewall.@offload[0].exclude_device"), ["lan1"])
    time.sleep(1.1)
    driver.find_element(By.ID, "fw4o-reload").click()
    result = luci.wait(driver, "Reload reports the change", "!document.querySelector('#fw4o-reload-result .spinning')"
                       " && document.getElementById('fw4o-reload-result').textContent")
    status = r.ubus("offload", "status")
    last = status["last_apply"]
    c.check("the apply changed the flowtable in place", last.get("error") is None and last["changes"], last)
    c.equal("Reload: the apply's changes on the page", result, f"Applied: {'; '.join(last['changes'])}")
    c.check("lan1 left the loaded flowtable", "lan1" not in status["loaded"]["flowtable"]["devices"], status["loaded"])
    c.check("the page shows lan1 excluded", luci.wait(driver, "lan1 excluded",
            "document.querySelector('#fw4o-device-table tr[data-device=lan1]')?.getAttribute('data-decision')"
            " == 'excluded'"))
    c.equal("device rows are the daemon's", luci.rows(driver, "fw4o-device-table", "data-device"),
            luci.device_rows(status))
    luci.open_page(driver, sid)
    luci.screenshot(driver)
    c.equal("no JavaScript errors", luci.js_errors(driver), [])


def metrics(r):
    print("== the collector")
    code, _, text = prometheus.scrape()
    status = r.ubus("offload", "status")
    got, want = prometheus.samples(text), prometheus.expected(status)
    (OUT / "metrics.txt").write_text(text)
    c.equal("every fw4_offload sample is `ubus call offload status`'s", got, want)
    c.equal("fw4_offload_hardware_fallback 1, effective software",
            (got[prometheus.key("fw4_offload_hardware_fallback")],
             got[prometheus.key("fw4_offload_mode", kind="effective", mode="software")]), (1, 1))
    c.equal("promtool check metrics: the fw4_offload families pass", prometheus.promtool(prometheus.ours(text)), (0, ""))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    r = GuestRouter(OUT / "root", os.environ["OPENWRT"], os.environ["BIN"], OUT / "logs")
    build(r)
    kver = next(Path(os.environ["VM_BUILD_DIR"]).glob("kernel-x86_64-6.12/root/lib/modules/*"))
    mods = nic_modules(kver)
    web, exporter = free_port(), free_port()
    luci.BASE = f"http://127.0.0.1:{web}"
    luci.OUT = OUT
    prometheus.PORT = exporter
    ctl = Path(tempfile.mkdtemp(prefix="vm-router-")) / "ctl"
    env = dict(os.environ, VM_KERNEL="6.12", VM_TIMEOUT="900", VM_QEMU_ARGS=" ".join([
        f"-netdev user,id=n0,hostfwd=tcp:127.0.0.1:{web}-10.0.2.15:80,"
        f"hostfwd=tcp:127.0.0.1:{exporter}-10.0.2.15:9100",
        "-device virtio-net-pci,netdev=n0", "-device virtio-serial",
        f"-chardev socket,id=ctl,path={ctl},server=on,wait=off", "-device virtserialport,chardev=ctl,name=ctl"]))
    console = open(OUT / "console.log", "w")
    vm = subprocess.Popen(["vm/run", "--file", f"{OUT / 'router.tar'}:/vm/router.tar", "--file", f"{mods}:/vm/mods",
                           "tests/vm/router.sh"], cwd=REPO, env=env, stdout=console, stderr=subprocess.STDOUT)
    driver = None
    profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=OUT))
    try:
        r.connect(str(ctl))
        r.start_ubus()
        r.start_rpcd()
        r.start_daemon()
        router.wait_for("both flows offloaded", lambda: r.ubus("offload", "status")["flows"]["all"]["software"] == 2, 30)
        r.start_uhttpd("uhttpd", 80, "-h", "/www", "-u", "/ubus", "-U", "/var/run/ubus/ubus.sock")
        r.start_uhttpd("exporter", 9100, "-c", "/dev/null", "-l", "/", "-L", "/usr/bin/prometheus-node-exporter-lua")
        driver = luci.browser(profile)
        writer = luci.login("writer", "writer-pw")
        page(r, driver, writer)
        metrics(r)
        reload_and_exclude(r, driver, writer)
        r.save_logs()
        r.exit()
        c.equal("the VM ends cleanly", vm.wait(120), 0)
    finally:
        if driver:
            driver.quit()
        if vm.poll() is None and hasattr(r, "ctl"):
            r.save_logs()
        if vm.poll() is None:
            vm.kill()
        shutil.rmtree(profile, ignore_errors=True)
        shutil.rmtree(ctl.parent, ignore_errors=True)
    c.summary()


if __name__ == "__main__":
    main()
