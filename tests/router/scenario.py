"""The router the LuCI and Prometheus tests show: an mt7986 with Wi-Fi bridged over WED
(tests/golden/mt7986-wifi-wed), its wan shaped by SQM, a `config offload` section, and
the live statistics such a router has, laid out as `--root` reads them:

- proc/net/nf_conntrack: tests/fixtures/stats/conntrack-offload.txt (the real table of
  that fixture's README) and, to fill more than one page of flows, its offloaded lines
  again with other source ports: HW_OFFLOAD and OFFLOAD TCP and UDP flows;
- sys/kernel/debug/ppe0/{entries,stats}: the kernel series' vectors
  (tests/fixtures/stats), the entries line again in each state;
- sys/kernel/debug/wed0: the WED instance mtk_eth_soc sets up.
"""

import re
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests/fixtures/stats"

SQM = """config queue 'wan'
\toption enabled '1'
\toption interface 'eth1'
\toption download '85000'
\toption upload '10000'
\toption qdisc 'cake'
\toption script 'piece_of_cake.qos'
"""

# Copies of each offloaded fixture line, with source ports counting up from 20000.
COPIES = 19


def offloaded_copies(lines):
    out = []
    port = 20000
    for line in lines:
        if "OFFLOAD]" not in line:
            continue
        sport = re.search(r" sport=(\d+) ", line).group(1)
        for _ in range(COPIES):
            port += 1
            # the original tuple's sport is the reply tuple's dport
            out.append(line.replace(f" sport={sport} ", f" sport={port} ", 1)
                       .replace(f" dport={sport} ", f" dport={port} "))
    return out


def build(dest):
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(REPO / "tests/golden/mt7986-wifi-wed", dest, symlinks=True,
                    ignore=shutil.ignore_patterns("check.txt", "ruleset.nft", "outcome.json"))
    config = dest / "etc/config"
    with (config / "firewall").open("a") as f:
        f.write("\nconfig offload\n\toption hw_exclude_shaped '1'\n")
    (config / "sqm").write_text(SQM)

    table = (FIXTURES / "conntrack-offload.txt").read_text().splitlines()
    (dest / "proc/net").mkdir(parents=True)
    (dest / "proc/net/nf_conntrack").write_text("\n".join(table + offloaded_copies(table)) + "\n")

    ppe = dest / "sys/kernel/debug/ppe0"
    ppe.mkdir(parents=True)
    shutil.copy(FIXTURES / "ppe-stats.txt", ppe / "stats")
    entry = next(l for l in (FIXTURES / "ppe-entries.txt").read_text().splitlines()
                 if not l.startswith("#"))
    entries = [entry]
    for i, state in enumerate(["BND", "BND", "UNB", "UNB", "UNB", "FIN"], start=1):
        entries.append(re.sub(r"^[0-9a-f]{5} BND ", "%05x %s " % (0x100 + i, state), entry))
    (ppe / "entries").write_text("\n".join(entries) + "\n")
    (dest / "sys/kernel/debug/wed0").mkdir(parents=True)
    return dest
