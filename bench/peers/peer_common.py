"""Helpers shared by the peer scripts: a per-save timer with the extra peak RSS, and JSON output."""
import json
import os
import sys
import time

# Libraries print banners on stdout; keep the real stdout for the one JSON line.
_REAL_STDOUT = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)


def _status_mib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


class SaveTimer:
    """Times each save call and the VmHWM rise during it (VmHWM is reset through clear_refs)."""

    def __init__(self):
        self.blocked_ms = []
        self.extra_peak_mib = []

    def __enter__(self):
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass
        self._rss = _status_mib("VmRSS")
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.blocked_ms.append((time.perf_counter() - self._t) * 1e3)
        self.extra_peak_mib.append(max(0.0, _status_mib("VmHWM") - self._rss))
        return False


def remove_files(directory):
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            os.remove(path)


def report(peer, params, timer, versions):
    """The first save is dropped (warm-up), as for the TF.js cases."""
    out = {
        "peer": peer,
        "params": params,
        "blocked_ms": timer.blocked_ms[1:],
        "extra_peak_mib": timer.extra_peak_mib[1:],
        "first_blocked_ms": timer.blocked_ms[0],
        "versions": versions,
    }
    report_json(out)


def report_json(out):
    """The one JSON line on the real stdout."""
    _REAL_STDOUT.write(json.dumps(out) + "\n")
    _REAL_STDOUT.flush()


def args():
    """WIDTH DIR COUNT: 4 x Dense/Linear(WIDTH) on input WIDTH; COUNT saves (the first is dropped) or fit rounds."""
    if len(sys.argv) != 4:
        sys.exit(f"usage: {sys.argv[0]} WIDTH DIR COUNT")
    return int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
