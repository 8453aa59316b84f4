"""The dashboard in a real browser, for the browser tests and the dashboard benchmark alike: a real
`streamlit run dashboard.py` on 127.0.0.1 (`Server`), Debian's Chromium driven by Playwright
(`CHROMIUM`, `CHROMIUM_ARGS`), and an in-page probe (`ChartProbe`) that says when each chart was
drawn, so "from pressing Run to the last chart drawn" is read from the browser's own clock.

One module for both because a benchmark that starts the server or reads the page differently from
the tests would measure something the tests never check.

Why a probe in the page and not Playwright's waits: a wait returns when Python next polls, tens of
milliseconds late; the probe's MutationObserver runs in the page right after a chart's DOM changes
(Plotly draws synchronously inside `Plotly.react`), and timestamps it with `performance.now()`, the
same clock as the click event's `timeStamp`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LIVE = '[data-testid="stElementContainer"]:not([data-stale="true"])'
"""An element the current script run has written (not a faded copy from the run before)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A `streamlit run dashboard.py` on 127.0.0.1 with its own folders and pool stats file
    (FUNDSIM_POOL_STATS), its output in `log_path`, started in `root` (this checkout, or another
    one to compare with). Raises `RuntimeError` if it does not answer its health check within a
    minute."""

    def __init__(self, folder: Path, log_path: Path, env: dict[str, str] | None = None,
                 root: Path = ROOT) -> None:
        self.stats = folder / "pool-stats.json"
        self.results = folder / "results"
        self.log_path = log_path
        port = free_port()
        full_env = {**os.environ, "FUNDSIM_SAVED_DIR": str(folder / "saved"),
                    "FUNDSIM_RESULTS_DIR": str(self.results), "FUNDSIM_POOL_STATS": str(self.stats),
                    "PYTHONFAULTHANDLER": "1", **(env or {})}
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.headless",
                 "true", "--server.address", "127.0.0.1", "--server.port", str(port),
                 "--browser.gatherUsageStats", "false"],
                cwd=root, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"streamlit did not start; see {log_path}")
            time.sleep(0.3)

    def batches(self) -> list[dict[str, Any]]:
        """The pool's recent batches (`FairPool.stats`), oldest first."""
        try:
            return list(json.loads(self.stats.read_text())["batches"])
        except (OSError, ValueError, KeyError):
            return []

    def workers(self) -> list[int]:
        try:
            return list(json.loads(self.stats.read_text())["workers"])
        except (OSError, ValueError, KeyError):
            return []

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ------------------------------------------------------------------ when charts are drawn

_PROBE_JS = r"""
() => {
  if (window.__fundsimProbe) { return; }
  // `_fullData` holds the arrays decoded (`data` may still hold them as base64 {dtype, bdata}).
  const values = (a) => { if (!a) { return null; }
                          let s = 0; for (let i = 0; i < a.length; i++) { const v = +a[i];
                                                                          if (v === v) s += v; }
                          return [a.length, s]; };
  const chartKey = (el) => { const box = el.closest('[class*="st-key-"]');
    const cls = box ? [...box.classList].find(c => c.startsWith('st-key-')) : null;
    return cls || 'chart'; };
  // Streamlit's theme wraps the title in <b> again whenever the chart re-renders: not a change.
  const title = (el) => { const t = el.layout && el.layout.title;
    return String((t && (t.text ?? t)) || '').replace(/<\/?b>/g, ''); };
  const signature = (el) => JSON.stringify([title(el),
      (el._fullData || []).map(t => [t.name, values(t.x), values(t.y)])]);
  const probe = {t0: null, last: {}, changes: [], states: []};
  const app = () => document.querySelector('[data-testid="stApp"]');
  const look = () => {
    const now = performance.now(), seen = {};
    for (const el of document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')) {
      // A faded copy of the run before is kept until the run ends: not what the page shows.
      if (!el._fullData || el.closest('[data-stale="true"]')) { continue; }
      (seen[chartKey(el)] = seen[chartKey(el)] || []).push(signature(el));
    }
    for (const [key, sigs] of Object.entries(seen)) {  // two copies of a chart are one state
      const sig = sigs.sort().join('|');
      if (probe.last[key] !== sig) { probe.last[key] = sig; probe.changes.push([key, now, sig]); }
    }
    const state = app() && app().getAttribute('data-test-script-state');
    const before = probe.states.length ? probe.states[probe.states.length - 1][1] : null;
    if (state !== before) { probe.states.push([now, state]); }
  };
  new MutationObserver(look).observe(document.body, {subtree: true, childList: true,
                                                     attributes: true, characterData: true});
  document.addEventListener('click', (e) => {
    if (e.target.closest && e.target.closest('.st-key-apply')) {
      probe.t0 = e.timeStamp; probe.changes = []; probe.states = [];
    }
  }, true);
  probe.idleAfterClick = () => {
    if (probe.t0 === null) { return false; }
    const ran = probe.states.some(([, s]) => s === 'running');
    const a = app();
    return ran && a && a.getAttribute('data-test-script-state') === 'notRunning'
        && document.querySelectorAll('[data-stale="true"]').length === 0;
  };
  probe.result = () => {
    look();
    const charts = {};
    for (const [key, t, sig] of probe.changes) {
      const c = charts[key] || (charts[key] = {first: t, final: t, sig: sig, draws: 0});
      c.draws += 1;
      if (sig !== c.sig) { c.final = t; c.sig = sig; }
    }
    for (const key of Object.keys(charts)) { charts[key].final_sig = probe.last[key];
      charts[key].complete = charts[key].sig === probe.last[key]; }
    const ended = probe.states.filter(([, s]) => s === 'notRunning').pop();
    return {t0: probe.t0, charts: charts, settled: ended ? ended[0] : null};
  };
  window.__fundsimProbe = probe;
}
"""


@dataclass(frozen=True)
class Drawn:
    """When the charts were drawn after pressing Run, in seconds from the click.

    `first`: every chart had changed at least once (the first answer, partial if the page shows
    one); `last`: every chart showed what it shows now, the full answer (the last chart drawn);
    `settled`: the script run had finished (the rest of the page drawn, faded copies gone);
    `draws`: how many times each chart was drawn."""

    first: float
    last: float
    settled: float
    draws: dict[str, int]


class ChartProbe:
    """Timestamps, in the page, every change of every chart in the main area, and the click on
    Run with these settings. `arm` once per page; then `drawn()` after each press."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def arm(self) -> None:
        self.page.evaluate(_PROBE_JS)

    def wait_until_idle(self, timeout_ms: float = 120_000) -> None:
        """The script run the click started has finished and nothing on the page is stale."""
        self.page.wait_for_function("() => window.__fundsimProbe.idleAfterClick()",
                                    timeout=timeout_ms, polling=50)

    def drawn(self, charts: int) -> Drawn:
        """`Drawn` for the last press, once `charts` charts have each changed since it."""
        found = self.page.evaluate("() => window.__fundsimProbe.result()")
        t0, seen = found["t0"], found["charts"]
        if t0 is None or len(seen) < charts:
            raise RuntimeError(f"{len(seen)} of {charts} charts changed after the press: {seen}")
        return Drawn(first=(max(c["first"] for c in seen.values()) - t0) / 1000,
                     last=(max(c["final"] for c in seen.values()) - t0) / 1000,
                     settled=(found["settled"] - t0) / 1000,
                     draws={k: c["draws"] for k, c in seen.items()})
