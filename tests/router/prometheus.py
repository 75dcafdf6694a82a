"""The fw4_offload collector in the real prometheus-node-exporter-lua (openwrt/packages,
../shared/third_party/luci/prometheus), served by OpenWrt's uhttpd and its Lua handler as
the exporter's init script runs it, reading the fw4-offload daemon through the real
ubusd, all in a scratch root (router.py) in this network namespace. Run by
tests/prometheus, which makes the namespace.

- every fw4_offload sample scraped over HTTP is what `ubus call offload status` says at
  that moment: mode, devices by decision, offloaded flows by protocol and path, PPE
  entries by state, table size, committed flows and bind misses, applies and apply errors
  (which two reloads move on by two), the last apply's time and its fallback state;
- the exposition passes promtool's checks (the exporter's own families aside, which carry
  no help text upstream);
- the daemon stopped: fw4_offload_up 0 and nothing else of it; a peer answering in its
  place with values of the wrong types: fw4_offload_up 0 and the collector's scrape
  failed, the exposition still valid.
"""

import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import router  # noqa: E402
import scenario  # noqa: E402
from checks import Checks  # noqa: E402

REPO = router.REPO
EXPORTER = router.LUCI_RUNTIME / "prometheus/utils/prometheus-node-exporter-lua/files"
COLLECTOR = REPO / "package/prometheus-node-exporter-lua-fw4-offload/files"
OUT = Path(os.environ.get("OUT", REPO / "build/prometheus"))
PORT = 9100
c = Checks("prometheus")

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')


def scrape(query=""):
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics{query}", timeout=30) as f:
        return f.status, f.headers.get("Content-Type"), f.read().decode()


def samples(text, prefix="fw4_offload_"):
    """{(name, frozenset of label pairs): value} of the families starting with prefix."""
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if not m or not m.group(1).startswith(prefix):
            continue
        labels = frozenset(re.findall(r'([a-z_]+)="([^"]*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def key(name, **labels):
    return (name, frozenset(labels.items()))


def expected(status):
    """The samples the collector should give for `status`."""
    want = {key("fw4_offload_up"): 1}
    for kind in ("requested", "effective"):
        for mode in ("off", "software", "hardware"):
            want[key("fw4_offload_mode", kind=kind, mode=mode)] = int(status.get(kind) == mode)
    for decision in ("hardware", "software", "excluded", "skipped"):
        want[key("fw4_offload_devices", decision=decision)] = sum(
            d["decision"] == decision for d in status["devices"])
    for proto in ("tcp", "udp"):
        for path in ("hardware", "software"):
            want[key("fw4_offload_flows", proto=proto, path=path)] = status["flows"][proto][path]
    for p in status["ppe"]:
        for state in ("bound", "unbound", "fin"):
            want[key("fw4_offload_ppe_entries", ppe=p["name"], state=state)] = p["entries"][state]
        want[key("fw4_offload_ppe_table_entries", ppe=p["name"])] = p["stats"]["entries"]
        want[key("fw4_offload_ppe_committed_total", ppe=p["name"])] = p["stats"]["committed"]
        want[key("fw4_offload_ppe_bind_misses_total", ppe=p["name"])] = p["stats"]["bind_no_free_way"]
    want[key("fw4_offload_applies_total")] = status["applies"]["total"]
    want[key("fw4_offload_apply_errors_total")] = status["applies"]["errors"]
    want[key("fw4_offload_last_apply_timestamp_seconds")] = status["last_apply"]["time"]
    want[key("fw4_offload_hardware_fallback")] = int(status["last_apply"].get("fallback") is not None)
    counter = status["loaded"].get("counter")
    if counter:
        want[key("fw4_offload_slow_path_packets_total")] = counter["packets"]
        want[key("fw4_offload_slow_path_bytes_total")] = counter["bytes"]
    return want


def promtool(text):
    """promtool check metrics on text: (exit status, its findings)."""
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    return p.returncode, (p.stdout + p.stderr).strip()


def ours(text):
    """The lines of the fw4_offload families alone (HELP, TYPE and samples)."""
    return "".join(line + "\n" for line in text.splitlines()
                   if re.match(r"^(# (HELP|TYPE) )?fw4_offload_", line))


def check_scrape(r, label):
    code, ctype, text = scrape()
    status = r.ubus("offload", "status")
    c.equal(f"{label}: HTTP 200, Prometheus text format", (code, ctype), (200, "text/plain; version=0.0.4"))
    got, want = samples(text), expected(status)
    c.equal(f"{label}: every fw4_offload sample is `ubus call offload status`'s", got, want)
    c.check(f"{label}: the collector's scrape succeeded",
            'node_scrape_collector_success{collector="fw4_offload"} 1' in text, text)
    rc, findings = promtool(ours(text))
    c.equal(f"{label}: promtool check metrics: the fw4_offload families pass", (rc, findings), (0, ""))
    rc, findings = promtool(text)
    others = [f for f in findings.splitlines() if not f.startswith("fw4_offload_")]
    c.check(f"{label}: promtool check metrics: the whole exposition parses; only the exporter's own "
            "families lack help", rc in (0, 3) and all(f.endswith("no help text") for f in others)
            and not any(f.startswith("fw4_offload_") for f in findings.splitlines()), findings)
    return got


def install_exporter(r):
    """The exporter as its package installs it, and the collector as ours does."""
    shutil.copy(EXPORTER / "usr/bin/prometheus-node-exporter-lua", r.root / "usr/bin/")
    r.install(COLLECTOR)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    snap = scenario.build(OUT / "scenario")
    r = router.HostRouter(OUT / "root", os.environ["OPENWRT"], os.environ["BIN"], OUT / "logs")
    r.build(snap)
    install_exporter(r)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    r.mount_proc()
    try:
        r.start_ubus()
        r.start_daemon()
        # the exporter's init script: uhttpd with the exporter as its Lua handler
        r.start_uhttpd("exporter", PORT, "-c", "/dev/null", "-l", "/", "-L", "/usr/bin/prometheus-node-exporter-lua")
        print("== the daemon running")
        first = check_scrape(r, "first scrape")
        (OUT / "metrics.txt").write_text(scrape()[2])
        for _ in range(2):
            r.ubus_rc("offload", "reload")
        second = check_scrape(r, "after two reloads")
        for name in ("fw4_offload_applies_total", "fw4_offload_apply_errors_total"):
            c.equal(f"two reloads: {name} moved on by 2 (each refused by this host's kernel)",
                    second[key(name)] - first[key(name)], 2)
        _, _, only = scrape("?collect[]=fw4_offload")
        c.check("?collect[]=fw4_offload: the collector alone", samples(only) == second
                and 'node_scrape_collector_success{collector="fw4_offload"} 1' in only, only)

        print("== the daemon stopped")
        r.stop("daemon")
        _, _, text = scrape()
        c.equal("fw4_offload_up 0 and no other fw4_offload sample", samples(text), {key("fw4_offload_up"): 0})
        c.check("the collector's scrape still succeeded", 'node_scrape_collector_success{collector="fw4_offload"} 1'
                in text, text)
        c.equal("promtool: the fw4_offload families pass", promtool(ours(text)), (0, ""))

        print("== a malformed answer")
        r.start_malformed_peer()
        code, _, text = scrape()
        c.equal("HTTP 200", code, 200)
        c.equal("fw4_offload_up 0 and no other fw4_offload sample", samples(text), {key("fw4_offload_up"): 0})
        c.check("the collector's scrape failed", 'node_scrape_collector_success{collector="fw4_offload"} 0' in text,
                text)
        log = (OUT / "logs/exporter.log").read_text()
        c.check("the exporter's log names what is wrong", "fw4_offload: status: devices: expected a list" in log, log)
        c.equal("promtool: the fw4_offload families pass", promtool(ours(text)), (0, ""))
        r.stop("malformed")
    finally:
        r.stop_all()
    c.summary()


if __name__ == "__main__":
    main()
