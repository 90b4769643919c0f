#!/usr/bin/env python3
"""Benchmark `threer check-dns` against a loopback DNS server that delays every answer.

    python bench/check_dns.py [--delay 0.05] [--domains 1000] [--smtp-timeout 2]

It starts the test suite's DNS server (tests/support_dnsserver.py) in a child process, serving
bench/zones/ (a realistic Microsoft 365 domain: MX, SPF with nested provider includes, DMARC with an
external report address, two DKIM selectors, autodiscover, MTA-STS, TLS-RPT), every answer delayed by
`--delay` seconds (concurrently), and reports in one run:

- threer's wall time for one domain, in process (the network part) and through the CLI end to end
  (`check-dns DOMAIN --dns-only --json`, with process start), and the CLI's CPU time (user + system);
- the critical-path lower bound: the longest chain of dependent look-ups in the zone × the delay;
- checkdmarc on the same server, end to end (a process that imports it and checks the domain once)
  and as a library (pip-installed into this environment when missing; skipped with a note when that
  is not possible);
- which heavy libraries the `--dns-only --json` run imports (`python -X importtime`): httpx and
  cryptography must not load with --dns-only, rich not with --json, and typer, pydantic and dnspython
  not on that path at all (the entry point reads the command line, dnswire the answers);
- the wall time and peak memory of `threer check-dns --from FILE` with `--domains` copies of the domain;
- with the SMTP probe on: a domain with two MX hosts that accept and never greet, probed with
  `--smtp-timeout`: the run must last about one timeout (the hosts are probed at once), not two.

Every ratio is against a baseline measured in the same run. threer's own modules are byte-compiled
first (`compileall`), as an installed copy is: where PYTHONDONTWRITEBYTECODE is set, every run would
otherwise compile them from source again. Everything threer contacts is on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZONES = Path(__file__).resolve().parent / "zones"
DOMAIN = "contoso-bench.example"
TEMPLATE = ZONES / "contoso-bench.zone"
PROFILE = "m365"


# -- the server (a child process, so its work does not share threer's interpreter) ----------------


def serve(delay: float, zone_dir: str) -> None:
    """Child mode: serve every *.zone in bench/zones and zone_dir, print the port, run until stdin closes."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support_dnsserver import DnsTestServer  # the test suite's server, reused by path

    files = sorted(ZONES.glob("*.zone")) + sorted(Path(zone_dir).glob("*.zone"))
    server = DnsTestServer(zone_files=files, delay=delay)
    with server:
        print(server.port, flush=True)
        sys.stdin.read()


def start_server(delay: float, zone_dir: Path) -> tuple[subprocess.Popen, int]:
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(delay), str(zone_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(child.stdout.readline())
    return child, port


def copies(count: int, into: Path) -> list[str]:
    """`count` copies of the benchmark domain as bench-NNN.example zones; returns their names."""
    text = TEMPLATE.read_text(encoding="utf-8")
    names = []
    for i in range(count):
        label = f"bench-{i:03d}"
        (into / f"{label}.zone").write_text(text.replace("contoso-bench", label), encoding="utf-8")
        names.append(f"{label}.example")
    return names


# -- the lower bound, from the zone data ----------------------------------------------------------


def load_records() -> dict[tuple[str, str], list[str]]:
    """(name, type) -> record texts, from bench/zones (TXT strings joined)."""
    import dns.rdatatype
    import dns.zone

    records: dict[tuple[str, str], list[str]] = {}
    for path in ZONES.glob("*.zone"):
        zone = dns.zone.from_file(str(path), relativize=False)
        for name, node in zone.nodes.items():
            for rdataset in node.rdatasets:
                rtype = dns.rdatatype.to_text(rdataset.rdtype)
                for rd in rdataset:
                    text = b"".join(rd.strings).decode() if rtype == "TXT" else rd.to_text()
                    records.setdefault((name.to_text().rstrip(".").lower(), rtype), []).append(text)
    return records


def lookup_txt(records, name: str) -> list[str]:
    found = records.get((name, "TXT"))
    if found is None:  # a wildcard at the closest level, as the server answers
        parts = name.split(".")
        for i in range(1, len(parts)):
            found = records.get(("*." + ".".join(parts[i:]), "TXT"))
            if found is not None:
                break
    return found or []


def spf_chain(records, name: str, seen: frozenset = frozenset()) -> int:
    """Dependent look-ups to evaluate the SPF record at `name`: 1 for it, plus its deepest include/redirect."""
    if name in seen:
        return 1
    spf = [t for t in lookup_txt(records, name) if t.lower().startswith("v=spf1")]
    deepest = 0
    for term in spf[0].split()[1:] if spf else ():
        term = term.lstrip("+-~?")
        target = None
        if term.startswith("include:"):
            target = term.split(":", 1)[1]
        elif term.startswith("redirect="):
            target = term.split("=", 1)[1]
        if target:
            deepest = max(deepest, spf_chain(records, target.lower(), seen | {name}))
        elif term in ("a", "mx") or term.startswith(("a:", "a/", "mx:", "mx/")):
            deepest = max(deepest, 1 if term.startswith("a") else 2)
    return 1 + deepest


def dmarc_chain(records, domain: str) -> int:
    """_dmarc, then (for each external report address) the receiver's authorisation record."""
    record = next((t for t in lookup_txt(records, f"_dmarc.{domain}") if t.startswith("v=DMARC1")), "")
    external = [
        addr.split("@", 1)[1].split("!")[0].lower()
        for addr in re.findall(r"mailto:([^,;\s]+)", record)
        if not addr.split("@", 1)[1].lower().endswith(domain)
    ]
    return 1 + (1 if external else 0)


def critical_path(domain: str) -> dict[str, int]:
    """The longest chain of dependent look-ups of each check (each step waits for the one before)."""
    records = load_records()
    return {
        "ns (NS, the name server's address, its SOA)": 3,
        "mx (MX, then each host's A/AAAA)": 2,
        "spf (the record and its nested includes)": spf_chain(records, domain),
        "dmarc (record, external report authorisation)": dmarc_chain(records, domain),
        "dkim (selector TXT; the CNAME comes in the same answer)": 1,
        "autodiscover, mta-sts, tls-rpt, dnssec (DNS only)": 1,
        "dane (MX, then each host's _25._tcp TLSA)": 2,
        "rdns (MX, host A, PTR, the PTR name's A)": 4,
    }


# -- the runs ---------------------------------------------------------------------------------------


def run_measured(argv: list[str]) -> tuple[float, int, int, str, str, float]:
    """Wall seconds, peak RSS (KiB), exit code, stdout, stderr, CPU seconds: os.wait4 gives this child's own rusage."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return elapsed, usage.ru_maxrss, child.returncode, out.read(), err.read(), usage.ru_utime + usage.ru_stime


def threer_in_process(port: int, runs: int = 5) -> tuple[float, dict, list]:
    sys.path.insert(0, str(ROOT / "src"))
    from threer.checks import CheckOptions, available_checks, make_resolver, run_domain

    available_checks()  # import every check module before timing
    options = CheckOptions(profile=PROFILE, nameservers=[("127.0.0.1", port)], timeout=10.0, dns_only=True)
    times, stats, findings = [], {}, []
    for _ in range(runs):
        resolver = make_resolver(options)
        started = time.perf_counter()
        outcome = asyncio.run(run_domain(DOMAIN, options, resolver=resolver))
        times.append(time.perf_counter() - started)
        stats, findings = resolver.stats, outcome.report.findings
    return statistics.median(times), stats, findings


CHECKDMARC_ONCE = """
import sys, dns.nameserver, checkdmarc
checkdmarc.check_domains([sys.argv[2]], nameservers=[dns.nameserver.Do53Nameserver("127.0.0.1", int(sys.argv[1]))], timeout=10.0)
"""

CHECKDMARC_CHILD = """
import json, sys, time
import dns.nameserver
import checkdmarc
port, domain = int(sys.argv[1]), sys.argv[2]
servers = [dns.nameserver.Do53Nameserver("127.0.0.1", port)]
times = []
for _ in range(3):
    started = time.perf_counter()
    result = checkdmarc.check_domains([domain], nameservers=servers, timeout=10.0)
    times.append(time.perf_counter() - started)
print(json.dumps({"times": times, "spf_valid": result.get("spf", {}).get("valid")}))
"""


def ensure_checkdmarc() -> str | None:
    """None when checkdmarc can be imported (installing it if needed); else why not."""
    probe = [sys.executable, "-c", "import checkdmarc"]
    if subprocess.run(probe, capture_output=True).returncode == 0:
        return None
    print("Installing checkdmarc into this environment for the comparison ...", file=sys.stderr, flush=True)
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "checkdmarc"],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0 or subprocess.run(probe, capture_output=True).returncode != 0:
        return "checkdmarc could not be installed (" + (install.stderr.strip().splitlines() or ["no network?"])[-1] + ")"
    return None


def silent_smtp_server() -> tuple[object, int]:
    """A TCP server on 127.0.0.1 that accepts connections and never greets (in a thread); its port."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)  # kept open, never written to

    threading.Thread(target=accept, daemon=True).start()
    return listener, listener.getsockname()[1]


HEAVY = ("httpx", "cryptography", "rich", "typer", "pydantic", "dns")


def heavy_imports(argv: list[str]) -> list[str]:
    """Which of the heavy libraries (HEAVY) the command imports, from the modules loaded when it ends."""
    script = ("import atexit, runpy, sys\n"
              "atexit.register(lambda: sys.stderr.write('\\nLOADED ' + ' '.join(sorted({m.split('.')[0] for m in sys.modules})) + '\\n'))\n"
              "sys.argv = ['threer', *sys.argv[1:]]\n"
              "runpy.run_module('threer', run_name='__main__', alter_sys=True)\n")
    _, _, _, _, err, _ = run_measured([sys.executable, "-c", script, *argv[3:]])
    line = next((line for line in err.splitlines() if line.startswith("LOADED ")), "LOADED ")
    return sorted(set(line.split()[1:]) & set(HEAVY))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=0.05, help="seconds added to every DNS answer (default 0.05)")
    parser.add_argument("--domains", type=int, default=1000, help="domains for the --from run (default 1000)")
    parser.add_argument("--smtp-timeout", type=float, default=2.0, help="--timeout of the SMTP run (default 2)")
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(float(args.serve[0]), args.serve[1])
        return 0

    threer = [sys.executable, "-m", "threer"]
    import compileall

    compileall.compile_dir(str(ROOT / "src" / "threer"), quiet=1)
    env_note = f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, delay {args.delay * 1000:.0f} ms"
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        # a fresh THREER_HOME: every run keeps its check history, and a database grown by earlier bench
        # runs (thousands of rows) would be checked (quick_check) and written in every timed run
        os.environ["THREER_HOME"] = str(tmp_path / "home")
        os.environ.pop("THREER_DATABASE_URL", None)
        names = copies(args.domains, tmp_path)
        server, port = start_server(args.delay, tmp_path)
        try:
            chains = critical_path(DOMAIN)
            longest = max(chains.values())
            bound = longest * args.delay

            in_process, stats, findings = threer_in_process(port)
            problems = [f"{f.id}: {f.message}" for f in findings if f.severity.value in ("error", "fail")]

            startup = statistics.median(
                run_measured([*threer[:1], "-c", "import threer.cli.entry, threer.cli.check_dns, threer.config_plain, "
                              "threer.checks as c; c.available_checks()"])[0]
                for _ in range(3)
            )
            ns = ["--nameserver", f"127.0.0.1:{port}"]
            cli_runs = [
                run_measured([*threer, "check-dns", DOMAIN, *ns, "--profile", PROFILE, "--dns-only", "--json", "--timeout", "10"])
                for _ in range(3)
            ]
            cli_wall = statistics.median(r[0] for r in cli_runs)
            cli_rss = max(r[1] for r in cli_runs)
            cli_cpu = statistics.median(r[5] for r in cli_runs)
            one_json = [*threer, "check-dns", DOMAIN, *ns, "--profile", PROFILE, "--dns-only", "--json", "--timeout", "10"]
            heavy = heavy_imports(one_json)

            silent, smtp_port = silent_smtp_server()
            try:
                def smtp_run(seconds: float):
                    return run_measured(
                        [*threer, "check-dns", "smtp-bench.example", *ns, "--profile", "none", "--json",
                         "--smtp-port", str(smtp_port), "--timeout", f"{seconds:g}"]
                    )

                smtp_wall, _, _, smtp_out, _, _ = smtp_run(args.smtp_timeout)
                # the same run with twice the timeout: it lasts one timeout longer when the hosts are
                # probed at once, two timeouts longer when they are probed in turn
                smtp_wall_double = smtp_run(2 * args.smtp_timeout)[0]
            finally:
                silent.close()
            smtp_ids = []
            if smtp_out.strip():
                smtp_ids = [f["id"] for f in json.loads(smtp_out)["domains"][0]["findings"] if f["check"] == "smtp"]

            listing = tmp_path / "domains.txt"
            listing.write_text("\n".join(names) + "\n", encoding="utf-8")
            many_wall, many_rss, many_code, many_out, many_err, many_cpu = run_measured(
                [*threer, "check-dns", "--from", str(listing), *ns, "--profile", PROFILE, "--dns-only", "--json", "--timeout", "10"]
            )
            many_errors = 0
            if many_out.strip():
                document = json.loads(many_out)
                many_errors = sum(d["summary"]["error"] for d in document["domains"])

            note = ensure_checkdmarc()
            checkdmarc_times = None
            checkdmarc_e2e = None
            if note is None:
                e2e = [run_measured([sys.executable, "-c", CHECKDMARC_ONCE, str(port), DOMAIN]) for _ in range(3)]
                if all(r[2] == 0 for r in e2e):
                    checkdmarc_e2e = statistics.median(r[0] for r in e2e)
                wall, _, code, out, err, _ = run_measured([sys.executable, "-c", CHECKDMARC_CHILD, str(port), DOMAIN])
                if code == 0:
                    checkdmarc_times = json.loads(out.strip().splitlines()[-1])["times"]
                else:
                    note = "checkdmarc failed: " + (err.strip().splitlines() or ["?"])[-1]
        finally:
            server.stdin.close()
            server.wait(10)

    load_after = os.getloadavg()
    print(f"threer check-dns benchmark ({env_note})")
    # other work on the machine slows every figure: quote them with the load they were taken under
    print(f"load average (1, 5, 15 min): before {' '.join(f'{x:.2f}' for x in load_before)}, "
          f"after {' '.join(f'{x:.2f}' for x in load_after)}")
    print()
    print("Critical path (dependent look-ups, from bench/zones):")
    for label, steps in chains.items():
        print(f"  {steps}  {label}")
    print(f"  lower bound: {longest} x {args.delay * 1000:.0f} ms = {bound * 1000:.0f} ms")
    print()
    print(f"threer, one domain, in process:   {in_process * 1000:7.0f} ms   "
          f"({stats.get('queries', '?')} questions, {stats.get('tcp', 0)} over TCP)")
    print(f"threer, one domain, CLI:          {cli_wall * 1000:7.0f} ms   (process start and imports: {startup * 1000:.0f} ms), "
          f"CPU {cli_cpu:.3f} s")
    print(f"  heavy libraries imported by check-dns --dns-only --json: {', '.join(heavy) or 'none'}")
    if problems:
        print(f"  note: the benchmark domain gave {len(problems)} fail/error findings: " + "; ".join(problems[:3]))
    if checkdmarc_times is not None:
        cd = statistics.median(checkdmarc_times)
        print(f"checkdmarc, one domain, library:  {cd * 1000:7.0f} ms")
        if checkdmarc_e2e is not None:
            print(f"checkdmarc, one domain, process:  {checkdmarc_e2e * 1000:7.0f} ms   (import and one check)")
    else:
        print(f"checkdmarc: skipped ({note})")
    print(f"threer, {len(names)} domains via --from:  {many_wall:7.2f} s    "
          f"(exit {many_code}, {many_errors} error findings, {many_cpu:.1f} s CPU in threer)")
    print(f"peak memory (max RSS): one domain {cli_rss / 1024:.1f} MiB, {len(names)} domains {many_rss / 1024:.1f} MiB")
    print(f"SMTP probe on, two MX hosts that never greet, --timeout {args.smtp_timeout:g}: {smtp_wall:.2f} s "
          f"(smtp findings: {', '.join(smtp_ids) or 'none'}); --timeout {2 * args.smtp_timeout:g}: {smtp_wall_double:.2f} s")
    print()
    print("Ratios (each against its baseline from this run):")
    print(f"  threer in process / lower bound:              {in_process / bound:5.2f}x   (target <= 1.2)")
    print(f"  threer CLI / (lower bound + process start):   {cli_wall / (bound + startup):5.2f}x")
    if checkdmarc_times is not None:
        print(f"  checkdmarc / threer (both in process):        {cd / in_process:5.1f}x")
        if checkdmarc_e2e is not None:
            print(f"  checkdmarc / threer (end to end, processes):  {checkdmarc_e2e / cli_wall:5.1f}x   (target >= 7)")
    print(f"  threer CLI CPU: {cli_cpu:.3f} s = {cli_cpu / 0.20:4.2f}x the 0.20 s budget; "
          f"{cli_cpu / cli_wall:4.2f} of its own wall time")
    print(f"  {len(names)} domains: {many_wall:.2f} s = {many_wall / 15:4.2f}x the 15 s budget, "
          f"{many_wall / cli_wall:5.1f}x one domain's CLI run; peak memory {many_rss / 1024:.0f} MiB "
          f"(target <= 100 MiB)")
    print(f"  SMTP run at 2x the timeout minus the run at 1x, over the timeout: "
          f"{(smtp_wall_double - smtp_wall) / args.smtp_timeout:4.2f}x (1: the hosts are probed at once, "
          f"bounded by one timeout; 2: in turn)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
