"""The LuCI page in Debian's chromium, headless, driven by selenium, against OpenWrt's
ubusd, rpcd (sessions, ACLs) and uhttpd (its ubus handler) and the fw4-offload daemon,
all in a scratch root (router.py) in this network namespace; sessions from real rpcd
logins. Run by tests/luci, which makes the namespace.

- reader (ACL group read only): every device row is the daemon's `status` (decision,
  reason, zones, path), the flow counts and pages are its numbers, PPE, WED and the last
  apply are shown, there is no Reload and the settings are read-only;
- the settings form checks names and booleans exactly as the helper does: the same
  verdict and message for each case, the helper asked through `fw4-offload check`;
- writer (read and write): a device excluded through the form reaches
  /etc/config/firewall through rpcd's uci, Reload applies and the page shows the new apply
  and the excluded device;
- errors: the daemon stopped gives a message saying so; a peer answering in its place
  with values of the wrong types gives a message naming the field and no broken page; the
  daemon back, the page shows its state again;
- a screenshot in build/luci/.
"""

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

sys.path.insert(0, str(Path(__file__).parent))
import router  # noqa: E402
import scenario  # noqa: E402
from checks import Checks  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = router.REPO
APP = REPO / "package/luci-app-fw4-offload"
OUT = Path(os.environ.get("OUT", REPO / "build/luci"))
PORT = 8080
BASE = f"http://127.0.0.1:{PORT}"
# How long the page may take to show a change: two poll intervals of the test page (2 s)
# and the answer, on a loaded 2-core machine.
SHOW = 20

DECISIONS = {"hardware": "Hardware", "software": "Software", "excluded": "Excluded",
             "skipped": "Skipped"}
c = Checks("luci")


# ---------------------------------------------------------------- the router
def build_router():
    snap = scenario.build(OUT / "scenario")
    r = router.HostRouter(OUT / "root", os.environ["OPENWRT"], os.environ["BIN"], OUT / "logs")
    r.build(snap)
    install_luci(r)
    return r


def install_luci(r):
    """The packages where their Makefiles install them, LuCI's client runtime, the page
    that boots it, stand-ins for luci-base's parts that are not pinned (its ACL groups,
    its rpcd ucode plugin, its config), and the logins."""
    r.install(REPO / "files")
    (r.root / "README.md").unlink()
    r.install(APP / "htdocs", "/www")
    r.install(APP / "root")
    r.install(router.LUCI_RUNTIME / "luci/modules/luci-base/htdocs", "/www")
    shutil.copy(HERE / "luci.html", r.root / "www/luci.html")
    shutil.copy(HERE / "page.css", r.root / "www/page.css")
    shutil.copy(HERE / "luci-base/acl.json", r.root / "usr/share/rpcd/acl.d/luci-base.json")
    (r.root / "usr/share/rpcd/ucode").mkdir(parents=True)
    shutil.copy(HERE / "luci-base/luci.uc", r.root / "usr/share/rpcd/ucode/luci")
    shutil.copy(HERE / "luci-base/luci.config", r.root / "etc/config/luci")
    # "unauthenticated" too: a login gets only the groups it lists (rpcd's session.c), and
    # LuCI's runtime calls session.access and luci.getFeatures with the session
    groups = ["unauthenticated", "luci-access", "luci-app-fw4-offload"]
    r.add_login("reader", "reader-pw", read=groups, write=[])
    r.add_login("writer", "writer-pw", read=groups, write=groups)


def start(r):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    r.start_ubus()
    r.start_rpcd()
    r.start_daemon()
    r.start_uhttpd("uhttpd", PORT, "-h", "/www", "-u", "/ubus", "-U", "/var/run/ubus/ubus.sock")


def jsonrpc(sid, obj, method, args=None):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "call",
                       "params": [sid, obj, method, args or {}]}).encode()
    req = urllib.request.Request(f"{BASE}/ubus", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as f:
        return json.load(f)


def login(user, password):
    """A session from rpcd's session.login, asked through uhttpd as LuCI's login does."""
    reply = jsonrpc("0" * 32, "session", "login", {"username": user, "password": password})
    return reply["result"][1]["ubus_rpc_session"]


# ---------------------------------------------------------------- the browser
def browser(profile):
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", "--window-size=1200,900"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # chromedriver exits with status 1, naming nothing, when it cannot open its log
    (OUT / "logs").mkdir(parents=True, exist_ok=True)
    service = Service("/usr/bin/chromedriver", log_path=str(OUT / "logs/chromedriver.log"))
    return webdriver.Chrome(service=service, options=opts)


def wait(driver, what, script, timeout=SHOW):
    """Runs the JS expression `script` until it is truthy; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(f"return ({script});")
        if value or time.monotonic() > deadline:
            if not value:
                c.check(f"{what} (within {timeout} s)", False, f"{script} stayed {value!r}")
            return value
        time.sleep(0.2)


def rows(driver, table, attr):
    """Each row of TABLE with attribute ATTR: [attr value, cell texts...]."""
    return driver.execute_script(
        f"return [...document.querySelectorAll('#{table} tr[{attr}]')]"
        f".map(tr => [tr.getAttribute('{attr}'), ...[...tr.cells].map(td => td.textContent)]);")


def pair(driver, section, key):
    return driver.execute_script(
        f"const tr = document.querySelector('#{section} tr[data-key=\"{key}\"]');"
        "return tr ? tr.cells[1].textContent : null;")


def js_errors(driver):
    """The browser's errors: exceptions and failed loads (a favicon aside)."""
    return [e["message"] for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]]


def runtime_notifications(driver):
    """LuCI's own error notifications (L.error), outside the page's message areas."""
    return driver.execute_script(
        "return [...document.querySelectorAll('.alert-message')]"
        ".filter(e => !e.closest('#fw4o-message, #fw4o-flows, #fw4o-flow-counts'))"
        ".map(e => e.textContent);")


def open_page(driver, sid):
    driver.get(f"{BASE}/luci.html?sid={sid}&view=fw4-offload/status")
    return wait(driver, "the page shows the devices", "document.querySelector('#fw4o-device-table tr[data-device]')")


# ---------------------------------------------------------------- expectations
def device_rows(status):
    return [[d["name"], d["name"], DECISIONS[d["decision"]], d["reason"], ", ".join(d["zones"]),
             " → ".join(d["via"])] for d in status["devices"]]


def flow_path(t):
    """A flow's direction as the page writes it: IPv6 addresses compressed."""
    def endpoint(addr, port):
        ip = ipaddress.ip_address(addr)
        return f"[{ip.compressed}]:{port}" if ip.version == 6 else f"{ip}:{port}"
    return f"{endpoint(t['src'], t['sport'])} → {endpoint(t['dst'], t['dport'])}"


def offloaded(counts):
    return counts["hardware"] + counts["software"]


def range_text(first, shown, matched):
    return f"{first + 1}–{first + shown} of {matched}"


# ---------------------------------------------------------------- sessions
def reader_session(r, driver, sid):
    print("== reader")
    c.check("the page loads for the reader", open_page(driver, sid))
    status = r.ubus("offload", "status")
    c.equal("device rows are `ubus call offload status`'s devices", rows(driver, "fw4o-device-table", "data-device"),
            device_rows(status))
    page_text = driver.find_element(By.ID, "view").text
    for d in status["devices"]:
        c.check(f"{d['name']}: its reason is on the page", d["reason"] in page_text, d["reason"])
    c.equal("requested mode", pair(driver, "fw4o-mode", "requested"), "Hardware")
    c.equal("effective mode (this host's kernel has no flowtables)", pair(driver, "fw4o-mode", "effective"), "Off")
    c.equal("notes", pair(driver, "fw4o-mode", "notes"), "".join(status["notes"]))
    last = status["last_apply"]
    c.equal("last apply: trigger", pair(driver, "fw4o-apply", "trigger"), last["trigger"])
    c.equal("last apply: the daemon's error", pair(driver, "fw4o-apply", "result"),
            f"failed, the loaded ruleset stays as it was: {last['error']}")

    flows = status["flows"]
    counts = rows(driver, "fw4o-count-table", "data-proto")
    rest = {"tcp": "—", "udp": "—", "all": str(flows["total"] - offloaded(flows["all"]))}
    c.equal("flow counts: hardware and software per protocol, the rest of the table in all", counts,
            [[k, label, str(flows[k]["hardware"]), str(flows[k]["software"]), rest[k]]
             for k, label in (("tcp", "TCP"), ("udp", "UDP"), ("all", "All"))])
    total = offloaded(flows["all"])
    c.check("the scenario has more than two pages of offloaded flows", total > 50, total)
    c.equal("flows: the count matches status", driver.find_element(By.ID, "fw4o-flow-range").text,
            range_text(0, 25, total))
    c.equal("flows: a page of 25 rows", len(rows(driver, "fw4o-flow-table", "data-flag")), 25)
    prev = driver.find_element(By.ID, "fw4o-flow-prev")
    c.check("flows: no previous page on the first", not prev.is_enabled())
    driver.find_element(By.ID, "fw4o-flow-next").click()
    c.check("flows: the second page", wait(driver, "flows: the second page",
            f"document.getElementById('fw4o-flow-range').textContent == '{range_text(25, 25, total)}'"))
    page2 = r.ubus("offload", "flows", {"limit": 25, "offset": 25})
    c.equal("flows: the second page's rows are the daemon's",
            [row[2:4] for row in rows(driver, "fw4o-flow-table", "data-flag")],
            [[flow_path(f["original"]), flow_path(f["reply"])] for f in page2["flows"]])
    for proto in ("udp", "tcp"):
        Select(driver.find_element(By.ID, "fw4o-flow-proto")).select_by_value(proto)
        want = offloaded(flows[proto])
        c.check(f"flows: {proto} only, {want} of them, from the first page",
                wait(driver, f"flows: {proto} filter", f"document.getElementById('fw4o-flow-range').textContent"
                     f" == '{range_text(0, min(25, want), want)}'"))
        c.check(f"flows: every row is {proto}", all(row[1].endswith("/" + proto)
                for row in rows(driver, "fw4o-flow-table", "data-flag")))
    Select(driver.find_element(By.ID, "fw4o-flow-proto")).select_by_value("")
    for path, flag, key in (("hw", "hw_offload", "hardware"), ("sw", "offload", "software")):
        Select(driver.find_element(By.ID, "fw4o-flow-path")).select_by_value(path)
        want = flows["all"][key]
        c.check(f"flows: {key} only, {want} of them",
                wait(driver, f"flows: {key} filter", f"document.getElementById('fw4o-flow-range')"
                     f".getAttribute('data-matched') == '{want}'"))
        c.check(f"flows: every row is {flag}", {row[0] for row in rows(driver, "fw4o-flow-table", "data-flag")} == {flag})

    # The table shrinks under the third page: the poll shows what is left, the last page.
    Select(driver.find_element(By.ID, "fw4o-flow-path")).select_by_value("")
    wait(driver, "flows: all again", f"document.getElementById('fw4o-flow-range').getAttribute('data-matched') == '{total}'")
    for _ in range(2):
        driver.find_element(By.ID, "fw4o-flow-next").click()
        time.sleep(0.5)
    c.check("flows: the third page", wait(driver, "flows: the third page",
            f"document.getElementById('fw4o-flow-range').textContent == '{range_text(50, total - 50, total)}'"))
    table = r.root / "snapshot/proc/net/nf_conntrack"
    full = table.read_text()
    table.write_text("".join(full.splitlines(keepends=True)[:40]))
    left = offloaded(r.ubus("offload", "status")["flows"]["all"])
    c.check(f"flows: conntrack shrank to {left} offloaded flows: the page follows to its last page by itself",
            left < 50 and wait(driver, "flows: the last page after the shrink",
                               f"document.getElementById('fw4o-flow-range').textContent == "
                               f"'{range_text(25, left - 25, left)}'"))
    table.write_text(full)

    ppe = status["ppe"][0]
    e, st = ppe["entries"], ppe["stats"]
    c.equal("PPE: entries by state, table size, bind misses, full buckets", rows(driver, "fw4o-ppe-table", "data-ppe"),
            [["ppe0", "ppe0", *map(str, (e["bound"], e["unbound"], e["fin"], e["total"], st["entries"],
                                         st["bind_no_free_way"], st["buckets_full"]))]])
    c.equal("WED: instances", pair(driver, "fw4o-wed", "instances"), ", ".join(status["wed"]["instances"]))
    c.check("WED: mt7915e enabled", "WED enabled (wed_enable=Y)" in driver.find_element(By.ID, "fw4o-wed").text)
    c.check("no Reload button for the reader", not driver.find_elements(By.ID, "fw4o-reload"))
    c.equal("rpcd refuses the reader offload.reload", jsonrpc(sid, "offload", "reload").get("error"),
            {"code": -32002, "message": "Access denied"})
    c.equal("rpcd refuses the reader a change to /etc/config/firewall",
            jsonrpc(sid, "uci", "set", {"config": "firewall", "section": "@offload[0]",
                                        "values": {"hw_exclude_shaped": "0"}}).get("error"),
            {"code": -32002, "message": "Access denied"})
    dynlist_input = driver.find_element(By.CSS_SELECTOR, "#cbi-firewall .cbi-dynlist input[type=text]")
    c.check("settings are read-only for the reader", not dynlist_input.is_enabled()
            and not driver.find_element(By.CSS_SELECTOR, ".cbi-button-save").is_enabled())
    c.equal("no JavaScript errors", js_errors(driver), [])
    c.equal("no LuCI error notifications", runtime_notifications(driver), [])


def helper_verdict(r, offload):
    """What `fw4-offload check` says of the root's config with OFFLOAD as its offload
    section: None when it accepts it, else its message after the location."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(r.root / "etc/config", tmp, dirs_exist_ok=True)
        firewall = Path(tmp) / "firewall"
        others = re.sub(r"\nconfig offload\n(\t.*\n)*", "\n", firewall.read_text())
        firewall.write_text(others + "\nconfig offload\n" + offload)
        out = subprocess.run([os.environ["BIN"], "--root", r.root / "snapshot", "--config", tmp, "check"],
                             capture_output=True, text=True)
    if out.returncode == 0:
        return None
    return re.sub(r"^fw4-offload: .*?, option [a-z_]+: ", "", out.stderr.strip())


NAMES = ["lan3", "phy1-ap0", "eth0.100", "wg0", "", ".", "..", "a/b", "a:b", "a b", "a\tb", "a\x0bb",
         "0123456789abcde", "0123456789abcdef", "\u00e9" * 7, "\u00e9" * 8, "-", "@x"]
BOOLEANS = ["1", "0", "on", "off", "true", "false", "yes", "no", "enabled", "disabled", "True", "2", "", "y"]


def validation_parity(r, driver):
    print("== the form's rules against the helper's")
    r.ubus("offload", "status")  # the scenario's config is valid
    js = driver.execute_async_script(
        "const [names, bools, done] = arguments;"
        "L.require('fw4-offload.config').then(rules => done({"
        " names: names.map(n => rules.excludeDeviceError(n)),"
        " bools: bools.map(b => rules.booleanError(b)),"
        " lists: [1024, 1025].map(n => rules.listError(new Array(n).fill('x')))}));",
        NAMES, BOOLEANS)
    for name, got in zip(NAMES, js["names"]):
        want = helper_verdict(r, f"\tlist exclude_device '{name}'\n")
        c.equal(f"exclude_device {name!r}: {'refused' if want else 'accepted'} as the helper does", got, want)
    for value, got in zip(BOOLEANS, js["bools"]):
        want = helper_verdict(r, f"\toption hw_exclude_shaped '{value}'\n")
        c.equal(f"hw_exclude_shaped {value!r}: {'refused' if want else 'accepted'} as the helper does", got, want)
    for n, got in zip((1024, 1025), js["lists"]):
        entries = "".join(f"\tlist exclude_device 'x{i}'\n" for i in range(n))
        want = helper_verdict(r, entries)
        c.equal(f"a list of {n} devices: {'refused' if want else 'accepted'} as the helper does", got, want)


def writer_session(r, driver, sid):
    print("== writer")
    c.check("the page loads for the writer", open_page(driver, sid))
    c.check("the writer has Reload", bool(driver.find_elements(By.ID, "fw4o-reload")))
    before = r.ubus("offload", "status")["last_apply"]["time"]

    field = driver.find_element(By.CSS_SELECTOR, "#cbi-firewall .cbi-dynlist input[type=text]")
    field.send_keys("bad/name")
    message = wait(driver, "the form refuses a device name with '/'",
                   "document.querySelector('#cbi-firewall .cbi-dynlist input.cbi-input-invalid')"
                   "?.getAttribute('data-tooltip')")
    c.equal("the form's message for 'bad/name' is the helper's", message,
            helper_verdict(r, "\tlist exclude_device 'bad/name'\n"))
    field.send_keys(Keys.ENTER)
    c.check("a refused name is not added", not driver.find_elements(By.CSS_SELECTOR, "#cbi-firewall .cbi-dynlist .item"))
    field.clear()
    field.send_keys("lan3", Keys.ENTER)
    c.check("lan3 is added to the list", wait(driver, "lan3 added", "[...document.querySelectorAll("
            "'#cbi-firewall .cbi-dynlist .item')].some(i => i.textContent.includes('lan3'))"))
    driver.find_element(By.CSS_SELECTOR, ".cbi-button-save").click()
    staged = wait(driver, "Save stages the change in rpcd",
                  "document.querySelector('.cbi-button-save') && !document.querySelector('.cbi-button-save').disabled"
                  " && !document.querySelector('.spinning')")
    time.sleep(1)
    changes = jsonrpc(sid, "uci", "changes", {"config": "firewall"})["result"]
    c.check("Save staged exclude_device lan3 in the writer's rpcd session", staged and
            ["list-add", changes[1]["changes"][0][1], "exclude_device", "lan3"] in changes[1]["changes"],
            changes)
    # What LuCI's dispatcher does for "Save & Apply" (admin/uci/apply_unchecked), not pinned
    # here: rpcd's uci apply with the session.
    c.equal("rpcd applies the session's changes", jsonrpc(sid, "uci", "apply", {"rollback": False})["result"], [0])
    c.equal("/etc/config/firewall has exclude_device lan3", r.uci_get("firewall.@offload[0].exclude_device"), ["lan3"])

    time.sleep(max(0.0, before + 1.1 - time.time()))  # the apply's time is in seconds
    driver.find_element(By.ID, "fw4o-reload").click()
    result = wait(driver, "Reload reports its apply",
                  "!document.querySelector('#fw4o-reload-result .spinning')"
                  " && document.getElementById('fw4o-reload-result').textContent")
    last = r.ubus("offload", "status")["last_apply"]
    c.check("Reload made a new apply", last["time"] > before and last["trigger"] == "ubus reload", last)
    c.equal("Reload's result on the page is that apply's", result,
            f"Apply failed, the loaded ruleset stays as it was: {last['error']}")
    c.check("the page shows the new apply", wait(driver, "the new apply shown",
            f"document.querySelector('#fw4o-apply tr[data-key=time]')?.getAttribute('data-time') == '{last['time']}'"))
    c.equal("its trigger", pair(driver, "fw4o-apply", "trigger"), "ubus reload")
    status = r.ubus("offload", "status")
    lan3 = next(d for d in status["devices"] if d["name"] == "lan3")
    c.check("the daemon excludes lan3 now", lan3["decision"] == "excluded", lan3)
    c.check("the page shows lan3 excluded, with the daemon's reason", wait(driver, "lan3 excluded",
            "document.querySelector('#fw4o-device-table tr[data-device=lan3]')?.getAttribute('data-decision')"
            " == 'excluded'"))
    c.equal("device rows are the daemon's after the reload", rows(driver, "fw4o-device-table", "data-device"),
            device_rows(status))
    open_page(driver, sid)  # loaded again: LuCI's change indicator is stale after rpcd's apply
    screenshot(driver)
    c.equal("no JavaScript errors", js_errors(driver), [])
    c.equal("no LuCI error notifications", runtime_notifications(driver), [])


def screenshot(driver):
    """The whole page, and its first screen (docs/luci-fw4-offload.png is one)."""
    driver.execute_script("window.scrollTo(0, 0); document.activeElement.blur();")
    driver.set_window_size(1200, 1400)
    driver.save_screenshot(str(OUT / "fw4-offload-top.png"))
    driver.set_window_size(1200, driver.execute_script("return document.body.scrollHeight") + 40)
    driver.execute_script("window.scrollTo(0, 0);")
    driver.save_screenshot(str(OUT / "fw4-offload.png"))
    c.check(f"screenshot in {OUT / 'fw4-offload.png'}", (OUT / "fw4-offload.png").stat().st_size > 10000)
    driver.set_window_size(1200, 900)


def error_session(r, driver, sid):
    print("== errors")
    open_page(driver, sid)
    r.stop("daemon")
    message = wait(driver, "the daemon stopped: a message",
                   "document.getElementById('fw4o-message').textContent.includes('not running')"
                   " && document.getElementById('fw4o-message').textContent")
    c.check("the daemon stopped: the page says it is not running and how to start it",
            message and "/etc/init.d/fw4-offload start" in message, message)
    c.check("the daemon stopped: no device rows left",
            not rows(driver, "fw4o-device-table", "data-device"))
    c.equal("the daemon stopped: no JavaScript errors", js_errors(driver), [])

    r.start_malformed_peer()
    message = wait(driver, "a malformed answer: a message",
                   "document.getElementById('fw4o-message').textContent.includes('cannot be read')"
                   " && document.getElementById('fw4o-message').textContent")
    c.check("a malformed status: the message names the field", message and "devices: expected a list" in message,
            message)
    flows = wait(driver, "a malformed flows answer: a message",
                 "document.getElementById('fw4o-flows').textContent.includes('cannot be read')"
                 " && document.getElementById('fw4o-flows').textContent")
    c.check("a malformed flows page: the message names the field", flows and "flows[0].l4: expected a string" in flows,
            flows)
    c.check("a malformed answer: the page still stands (title, settings, no stale rows)",
            driver.find_element(By.TAG_NAME, "h2").text == "Flow Offloading"
            and driver.find_elements(By.ID, "cbi-firewall") and not rows(driver, "fw4o-device-table", "data-device"))
    c.equal("a malformed answer: no JavaScript errors", js_errors(driver), [])
    c.equal("a malformed answer: no LuCI error notifications", runtime_notifications(driver), [])
    r.stop("malformed")
    r.start_daemon()
    c.check("the daemon back: the page shows its devices again", wait(driver, "the daemon back",
            "document.querySelectorAll('#fw4o-device-table tr[data-device]').length == 7"
            " && document.getElementById('fw4o-message').textContent == ''"))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    r = build_router()
    start(r)
    profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=OUT))
    driver = None
    try:
        driver = browser(profile)
        reader = login("reader", "reader-pw")
        writer = login("writer", "writer-pw")
        c.equal("rpcd refuses a wrong password (ubus status 6, permission denied)",
                jsonrpc("0" * 32, "session", "login", {"username": "reader", "password": "wrong"}).get("result"), [6])
        reader_session(r, driver, reader)
        validation_parity(r, driver)
        writer_session(r, driver, writer)
        error_session(r, driver, writer)
    finally:
        if driver:
            driver.quit()
        r.stop_all()
        shutil.rmtree(profile, ignore_errors=True)
    c.summary()


if __name__ == "__main__":
    main()
