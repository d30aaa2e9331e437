"""Lesson 01 in JupyterLab 4 in a real browser: headless Chromium over DevTools.

The test starts ``jupyter lab`` on a temporary copy of ``notebooks/`` and a
headless Chromium, opens lesson 01, runs it (every cell above the closing
``lab.stop()``, which would shut down the mail lab the widget talks to), then
uses the mail client widget as a student would: types To, Subject and Body,
clicks *send*, clicks *get mail* until the message is in the list.
Screenshots of each stage go to ``build/browser/``.

It needs Debian's ``chromium`` (``.ci/run`` installs it); without it the test
is skipped, and in CI (``LABMAIL_REQUIRE_TOOLS=1``) that skip is a failure.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator, Tuple

import pytest

from cdp import CDPError, Page, start_chromium, stop_process

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "browser"
LESSON = "01-mua-mta-mda.ipynb"
SUBJECT = "Hello from Chromium"

# Lab settings for a quiet, complete page: every cell attached to the DOM (the
# default windowing may leave off-screen cells out), no news or update toasts.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True},
}


@pytest.fixture
def chromium() -> str:
    """Debian's chromium, or a skip saying how to install it (a failure in CI)."""
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium is not installed; apt-get install chromium (.ci/run does)")
    return path


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@pytest.fixture
def jupyter_lab(tmp_path) -> Iterator[Tuple[str, str]]:
    """A JupyterLab server on a free loopback port over a copy of the lessons: (base URL, token)."""
    pytest.importorskip("jupyterlab")
    notebooks = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = tmp_path / "lab-settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    runtime = tmp_path / "jupyter-runtime"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
               JUPYTER_RUNTIME_DIR=str(runtime), JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
               IPYTHONDIR=str(tmp_path / "ipython"))
    token = secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser",
           "--ServerApp.ip=127.0.0.1", "--ServerApp.port=0", "--ServerApp.port_retries=0",
           f"--ServerApp.root_dir={notebooks}", f"--IdentityProvider.token={token}",
           "--LabApp.expose_app_in_browser=True", f"--LabApp.user_settings_dir={settings}",
           f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    logfile = tmp_path / "jupyter.log"
    with open(logfile, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=out, start_new_session=True)
    base = ""
    try:
        deadline = time.monotonic() + 30
        info = runtime / f"jpserver-{proc.pid}.json"
        while time.monotonic() < deadline and proc.poll() is None:
            if info.exists():
                try:
                    base = f"http://127.0.0.1:{json.loads(info.read_text())['port']}"
                    with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                        break
                except (ValueError, KeyError, OSError):
                    pass                      # half-written file, or not listening yet
            time.sleep(0.2)
        else:
            pytest.fail(f"jupyter lab did not start within 30 s:\n{_tail(logfile)}")
        yield base, token
    finally:
        if base and proc.poll() is None:   # a clean stop shuts the kernel down too
            try:
                req = urllib.request.Request(f"{base}/api/shutdown", method="POST",
                                             headers={"Authorization": f"token {token}"})
                urllib.request.urlopen(req, timeout=5).close()
                proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        stop_process(proc)


@pytest.fixture
def page(chromium, tmp_path) -> Iterator[Page]:
    """A tab of a headless Chromium (its own profile under tmp_path)."""
    proc, port = start_chromium(chromium, tmp_path / "chromium-profile")
    tab = None
    try:
        tab = Page.connect(port)
        yield tab
    finally:
        if tab is not None:
            tab.close()
        stop_process(proc, timeout=5)


# -- JavaScript run in the page ---------------------------------------------------
NOTEBOOK = ("[...jupyterapp.shell.widgets('main')]"
            f".find(w => w.context && w.context.path === {json.dumps(LESSON)})")

KERNEL_IDLE = f"""(() => {{
  const app = window.jupyterapp; if (!app) return false;
  const w = {NOTEBOOK};
  if (!w || !w.sessionContext || !w.content || !w.context.isReady) return false;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(k && k.status === 'idle' && k.connectionStatus === 'connected'
            && w.content.widgets.length > 0);
}})()"""

# Clear the stored outputs (so what shows, and every prompt number, comes from this
# run), then run every cell above the lesson's closing `lab.stop()` (all if none).
RUN_LESSON = f"""(async () => {{
  const w = {NOTEBOOK}, cells = w.content.widgets;
  jupyterapp.shell.activateById(w.id);            // the commands act on the current notebook
  await jupyterapp.commands.execute('notebook:clear-all-cell-outputs');
  const source = c => c.model.sharedModel.getSource().trim();
  let stop = cells.findIndex(c => c.model.type === 'code' && source(c).startsWith('lab.stop()'));
  window.__lmStop = stop < 0 ? cells.length : stop;
  window.__lmRun = 'running';
  let run;
  if (stop < 0) run = jupyterapp.commands.execute('notebook:run-all-cells');
  else {{
    w.content.activeCellIndex = stop;
    run = jupyterapp.commands.execute('notebook:run-all-above');
  }}
  run.then(r => {{ window.__lmRun = 'done ' + r; }}, e => {{ window.__lmRun = 'error ' + e; }});
  return window.__lmStop;
}})()"""

CELL_REPORT = f"""(() => {{
  const w = {NOTEBOOK}, rows = [];
  w.content.widgets.slice(0, window.__lmStop).forEach((c, i) => {{
    if (c.model.type !== 'code') return;
    const errors = [];
    for (let j = 0; j < c.model.outputs.length; j++) {{
      const o = c.model.outputs.get(j).toJSON();
      if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue);
    }}
    rows.push({{cell: i, count: c.model.executionCount, errors}});
  }});
  return rows;
}})()"""

# Helpers on the mail client widget's DOM (ipywidgets 8: a label then the control).
WIDGET_JS = r"""window.__lm = {
  root: () => document.querySelector('.labmail-mailclient'),
  field(label, selector) {
    for (const box of this.root().querySelectorAll('.widget-inline-hbox')) {
      const l = box.querySelector(':scope > label.widget-label');
      if (l && l.textContent.trim() === label) return box.querySelector(selector);
    }
    return null;
  },
  button(text) {
    return [...this.root().querySelectorAll('button')].find(b => b.textContent.trim() === text);
  },
  centre(el) {
    el.scrollIntoView({block: 'center'});
    const r = el.getBoundingClientRect();
    return [r.x + r.width / 2, r.y + r.height / 2];
  },
  hit(el, x, y) {
    const t = document.elementFromPoint(x, y);
    return !!t && (t === el || el.contains(t));
  },
  account() {
    const s = this.field('account', 'select');
    return s ? s.selectedOptions[0].textContent.trim().split(/\s/)[0] : null;
  },
  folder() { const s = this.field('folders', 'select');
             return s && s.selectedOptions.length ? s.selectedOptions[0].textContent : null; },
  listed(subject) {
    // ipywidgets writes option labels with no-break spaces (to keep columns aligned)
    return [...this.root().querySelectorAll('select option')]
      .some(o => o.textContent.replace(/\s+/g, ' ').includes(subject));
  },
  status() { return this.root().innerText; },
  overflowing() {       // boxes wider than their column get scroll bars in the browser
    const boxes = [this.root(), ...this.root().querySelectorAll('.widget-box')];
    return boxes.filter(b => b.scrollWidth > b.clientWidth + 1).length;
  },
};
true"""


def _focus_and_type(tab: Page, label: str, selector: str, text: str) -> None:
    ok = tab.evaluate(f"""(() => {{
        const el = __lm.field({json.dumps(label)}, {json.dumps(selector)});
        if (!el) return false; el.scrollIntoView({{block: 'center'}}); el.focus();
        return document.activeElement === el; }})()""")
    assert ok, f"the mail client widget has no focusable {label!r} field"
    tab.type_text(text)


def _click_button(tab: Page, text: str) -> None:
    x, y = tab.evaluate(f"__lm.centre(__lm.button({json.dumps(text)}))")
    assert tab.evaluate(f"__lm.hit(__lm.button({json.dumps(text)}), {x}, {y})"), \
        f"the {text!r} button is covered at ({x:.0f}, {y:.0f})"
    tab.click(x, y)


def test_lesson_01_runs_and_the_mail_client_widget_sends_in_chromium(chromium, jupyter_lab, page,
                                                                    tmp_path):
    base, token = jupyter_lab
    shots = []
    budget = time.monotonic() + 90          # every wait below also fits in this

    def left(seconds: float) -> float:
        return max(1.0, min(seconds, budget - time.monotonic()))

    def shot(name: str) -> None:
        shots.append(page.screenshot(SHOTS / name))

    for old in SHOTS.glob("*.png"):       # this run's pictures only
        old.unlink()
    try:
        page.navigate(f"{base}/lab/tree/{LESSON}?token={token}")
        page.wait_for(KERNEL_IDLE, left(45), "JupyterLab to open lesson 01 with an idle kernel")
        shot("01-lesson-open.png")

        stop = page.evaluate(RUN_LESSON)
        result = page.wait_for("window.__lmRun !== 'running' && window.__lmRun", left(60),
                               "lesson 01 to run")
        page.wait_for(KERNEL_IDLE, left(10), "the kernel to be idle after the run")
        rows = page.evaluate(CELL_REPORT)
        shot("02-lesson-run.png")
        assert result == "done true", f"running lesson 01 ended with {result!r}"
        assert rows and all(r["count"] for r in rows), f"cells left unrun: {rows}"
        assert not [r for r in rows if r["errors"]], f"cells failed: {rows}"
        # the stored outputs were cleared: the closing lab.stop() shows no result
        assert page.evaluate(f"(({NOTEBOOK}).content.widgets[{stop}] || {{model: {{}}}})"
                             ".model.executionCount") is None

        page.wait_for("!!document.querySelector('.labmail-mailclient select')", left(20),
                      "the mail client widget to render")
        page.evaluate(WIDGET_JS)
        me = page.evaluate("__lm.account()")
        assert me and "@" in me, f"the widget shows no account ({me!r})"
        _focus_and_type(page, "To", "input", me)
        _focus_and_type(page, "Subject", "input", SUBJECT)
        _focus_and_type(page, "Body", "textarea", "Typed in a real browser.\nBye!")
        shot("03-compose.png")

        _click_button(page, "send")
        status = page.wait_for(
            f"(s => (s.includes(\"sent '{SUBJECT}'\") || s.includes('not sent')) && s)"
            "(__lm.status())", left(20), "the widget to report the message sent")
        assert "not sent" not in status, status

        # Delivery is asynchronous: click "get mail" until the message is listed,
        # as a student would (bounded: 15 tries of up to 2 s).
        for _ in range(15):
            _click_button(page, "get mail")
            try:
                page.wait_for(f"__lm.listed({json.dumps(SUBJECT)})", left(2),
                              "the message in the list")
                break
            except CDPError:
                continue
        page.evaluate("__lm.centre(__lm.root())")
        shot("04-message-list.png")
        assert page.evaluate(f"__lm.listed({json.dumps(SUBJECT)})"), \
            f"{SUBJECT!r} never appeared in the message list:\n{page.evaluate('__lm.status()')}"
        assert page.evaluate("__lm.folder()") == "INBOX"
        assert page.evaluate("__lm.overflowing()") == 0, "the widget overflows its cell"
    except Exception as exc:
        try:
            shot("99-failure.png")
        except CDPError:
            pass
        if isinstance(exc, CDPError):
            pytest.fail(f"{exc}\n--- jupyter log ---\n{_tail(tmp_path / 'jupyter.log')}")
        raise
    assert all(p.stat().st_size > 1000 for p in shots)
