"""A school's network for the benchmark: the app's server in a network namespace, behind a shaped link.

    students (this namespace) --- veth pair --- namespace mnist-class-<pid>: nginx, Voila, kernels

Each end of the veth pair sends through tc: the class's bandwidth in one queue for the whole class
(as on a school's Wi-Fi or uplink) and half the round trip's delay, both with netem. A kernel
without netem (some virtual machines' kernels lack sch_netem) shapes the bandwidth with tbf, and
the delay is then left to the caller (``SchoolLink.delay_in_kernel`` is False; tools.classroom
adds it with its delaying proxy). Everything the students do crosses the link: the page, its
files, the websockets; what stays inside the server (nginx to Voila, Voila to its kernels) does
not. Needs root and iproute2 (``ip``, ``tc``).

The namespace is removed on exit; one left by a killed run is removed by the next run (its
name carries the pid of a process that no longer exists).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PREFIX = "mnist-class-"
SUBNETS = ipaddress.ip_network("10.213.0.0/16")  # a /30 in here for each run's link
MTU = 1500
# netem queues packets, not bytes: with segmentation offload a "packet" can be 64 kB. Frames of one
# MTU, as on a real link, and a queue of about 100 ms at the class's rate (a Wi-Fi access point's).
QUEUE_S = 0.1


@dataclass(frozen=True)
class SchoolLink:
    """A shaped link to a namespace: where the server listens, and how to start a command inside it."""

    namespace: str
    server_ip: str
    rate_mbit: float
    rtt_ms: float
    delay_in_kernel: bool  # netem delays the packets; else the caller must add the round trip

    @property
    def prefix(self) -> list[str]:
        """Return what to put before a command to run it in the server's namespace."""
        return ["ip", "netns", "exec", self.namespace]

    def describe(self) -> str:
        how = (
            "tc netem"
            if self.delay_in_kernel
            else "tc tbf for the rate, the delaying proxy for the round trip"
        )
        return (
            f"{self.rate_mbit:g} Mbit/s shared by the class each way, {self.rtt_ms:g} ms round trip ({how})"
        )


def _run(*args: str) -> str:
    done = subprocess.run(args, check=False, capture_output=True, text=True, timeout=30)
    if done.returncode:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def remove_stale() -> None:
    """Remove namespaces of this benchmark whose run is gone (killed before it could clean up)."""
    for line in _run("ip", "netns", "list").splitlines():
        name = line.split()[0] if line.strip() else ""
        match = re.fullmatch(rf"{PREFIX}(\d+)", name)
        if match and not Path(f"/proc/{match[1]}").exists():
            _run("ip", "netns", "delete", name)


def free_subnet() -> ipaddress.IPv4Network:
    """Return a /30 in SUBNETS that no address of this machine is in."""
    used = [ipaddress.ip_interface(w) for w in re.findall(r"inet (\S+)", _run("ip", "-4", "-o", "addr"))]
    subnets = list(SUBNETS.subnets(new_prefix=30))
    start = os.getpid() % len(subnets)
    for i in range(len(subnets)):
        subnet = subnets[(start + i) % len(subnets)]
        if not any(u.network.overlaps(subnet) for u in used):
            return subnet
    raise RuntimeError(f"no free /30 in {SUBNETS}")


def netem(rate_mbit: float, rtt_ms: float) -> list[str]:
    """Return the netem arguments for one direction: half the round trip, the rate, a ~100 ms queue."""
    limit = max(10, int(rate_mbit * 1e6 / 8 * QUEUE_S / MTU))
    return ["netem", "delay", f"{rtt_ms / 2:g}ms", "rate", f"{rate_mbit:g}mbit", "limit", str(limit)]


def tbf(rate_mbit: float) -> list[str]:
    """Return the tbf arguments for one direction: the rate, a bucket of a few frames, a ~100 ms queue."""
    return ["tbf", "rate", f"{rate_mbit:g}mbit", "burst", str(4 * MTU), "latency", f"{QUEUE_S * 1000:g}ms"]


def shape(where: list[str], dev: str, rate_mbit: float, rtt_ms: float) -> bool:
    """Shape what ``dev`` sends: with netem if the kernel has it (return True), else with tbf (False)."""
    try:
        _run("tc", *where, "qdisc", "add", "dev", dev, "root", *netem(rate_mbit, rtt_ms))
        return True
    except RuntimeError as exc:
        if "unknown" not in str(exc):
            raise
    _run("tc", *where, "qdisc", "add", "dev", dev, "root", *tbf(rate_mbit))
    return False


@contextlib.contextmanager
def school_link(rate_mbit: float, rtt_ms: float) -> Iterator[SchoolLink]:
    """Create the namespace and its shaped link; yield it; remove it (and the link with it) at the end."""
    if os.geteuid() != 0 or not (shutil.which("ip") and shutil.which("tc")):
        raise RuntimeError("a shaped link needs root and iproute2 (ip, tc): apt-get install iproute2")
    remove_stale()
    name = f"{PREFIX}{os.getpid()}"
    students_end, server_end = f"mc{os.getpid()}s"[-15:], f"mc{os.getpid()}v"[-15:]
    subnet = free_subnet()
    server_ip, students_ip = (str(host) for host in subnet.hosts())
    _run("ip", "netns", "add", name)
    try:
        _run("ip", "link", "add", students_end, "type", "veth", "peer", "name", server_end)
        _run("ip", "link", "set", server_end, "netns", name)
        in_kernel = []
        for ns, dev, ip in ((None, students_end, students_ip), (name, server_end, server_ip)):
            where = ["-n", ns] if ns else []
            _run("ip", *where, "link", "set", dev, "mtu", str(MTU), "gso_max_size", str(MTU), "up")
            _run("ip", *where, "addr", "add", f"{ip}/{subnet.prefixlen}", "dev", dev)
            in_kernel.append(shape(where, dev, rate_mbit, rtt_ms))
        _run("ip", "-n", name, "link", "set", "lo", "up")
        yield SchoolLink(name, server_ip, rate_mbit, rtt_ms, all(in_kernel))
    finally:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            _run("ip", "netns", "delete", name)  # takes the veth pair with it
