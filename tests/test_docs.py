"""The documentation site: built offline with Sphinx and warnings as errors, then looked at in a real browser.

One build (``sphinx-build -W --keep-going -b html``, the ``docs`` extra) of a copy of ``docs/`` (autosummary and
sphinx-gallery write into their source folder: the checkout stays clean), with every HTTP(S) proxy pointed at a
closed port so that anything reaching for the network fails. Then:

- every ``href``/``src`` of every page that points at a local file names a file that exists, and every ``#anchor``
  an ``id`` in that file; no page loads anything from outside (MathJax comes with the site);
- the C API page has an entry for every function ``csrc/fastmlp.h`` exports;
- headless Chromium (Debian's ``chromium``) opens the index, the ``MLP`` API page, a gallery example page and the
  guide's page of formulas (MathJax must have typeset them, offline): each
  inside an iframe of a checker page that reports, from the browser's own DOM, the title, the headings and every
  image with its natural width (0 = not loaded), and takes a screenshot of each page. The pages' titles are checked
  and every image must have loaded; the gallery page must show its plot.

Skipped, with the reason, only where ``chromium`` is not installed (the browser part); the build and the link
checks need only the ``docs`` extra, which is in the ``test`` extra.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.slow  # the whole site, the gallery run and a browser: ~40-60 s

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
HEADER = os.path.join(ROOT, "csrc", "fastmlp.h")
TESTS = os.path.dirname(os.path.abspath(__file__))
# generated into the source folder by the build: never copied from a previous local build
GENERATED = ("_build", "generated", "auto_examples", "sg_execution_times.rst", "__pycache__")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class _Page(HTMLParser):
    """Every id, every (tag, attribute, url) reference and the text of the <title> and <h1> of one HTML file."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.refs, self.title, self.h1, self._in = set(), [], "", [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key) is not None and not (tag == "a" and key == "src"):
                self.refs.append((tag, key, attrs[key]))
        if tag in ("title", "h1"):
            self._in = tag
            if tag == "h1":
                self.h1.append("")

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        elif self._in == "h1":
            self.h1[-1] += data


def _parse(path):
    page = _Page()
    with open(path, encoding="utf-8") as f:
        page.feed(f.read())
    return page


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The built site's folder (and the build's output, for the failure message)."""
    base = tmp_path_factory.mktemp("docs")
    src = base / "src"
    shutil.copytree(DOCS, src / "docs", ignore=lambda folder, names: [n for n in names if n in GENERATED])
    os.makedirs(src / "csrc")
    shutil.copy(HEADER, src / "csrc" / "fastmlp.h")  # the C API page reads ../csrc/fastmlp.h
    out = base / "html"
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[key] = "http://127.0.0.1:9"  # offline: a request anywhere fails at once
    env.pop("no_proxy", None), env.pop("NO_PROXY", None)
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q",
                           str(src / "docs"), str(out)], cwd=TESTS, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"sphinx-build -W failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
    return str(out)


def _html_files(site):
    for folder, _, names in os.walk(site):
        for name in names:
            if name.endswith(".html"):
                yield os.path.join(folder, name)


def test_every_local_link_and_image_resolves(site):
    pages = {path: _parse(path) for path in _html_files(site)}
    assert len(pages) > 20, sorted(pages)
    broken, external = [], set()
    for path, page in pages.items():
        for tag, key, url in page.refs:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https"):
                external.add(url)
                continue
            if parts.scheme in ("mailto", "data", "javascript") or url.startswith("//"):
                continue
            target = os.path.normpath(os.path.join(os.path.dirname(path), unquote(parts.path))) if parts.path \
                else path
            where = f"{os.path.relpath(path, site)}: <{tag} {key}={url!r}>"
            if not os.path.exists(target):
                broken.append(f"{where}: no file {os.path.relpath(target, site)}")
            elif os.path.isdir(target):
                if not os.path.exists(os.path.join(target, "index.html")):
                    broken.append(f"{where}: a folder without index.html")
            elif tag == "img" and os.path.getsize(target) == 0:
                broken.append(f"{where}: an empty image")
            elif parts.fragment and target.endswith(".html"):
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{where}: no id {parts.fragment!r} in {os.path.relpath(target, site)}")
    assert not broken, "\n".join(broken[:50])
    outside = sorted(u for u in external if tag_is_resource(u, pages))
    assert not outside, f"pages load outside resources: {outside}"


def tag_is_resource(url, pages):
    """True when some page loads ``url`` (a script, image or style sheet), not only links to it."""
    for page in pages.values():
        for tag, key, u in page.refs:
            if u == url and (tag in ("script", "img") or (tag == "link" and key == "href")):
                return True
    return False


def test_c_api_page_lists_every_exported_function(site):
    with open(HEADER, encoding="utf-8") as f:
        exported = re.findall(r"^FM_API\b[^;(]*?\b(fm_\w+)\s*\(", f.read(), re.M)
    assert len(exported) > 50, exported
    ids = _parse(os.path.join(site, "c_api.html")).ids
    missing = [name for name in exported if f"c.{name}" not in ids]
    assert not missing, f"functions of fastmlp.h missing from the C API page: {missing}"
    for name in ("c.fm_mlp", "c.fm_optim", "c.fm_act", "c.FM_EDIVERGED"):  # types and constants too
        assert name in ids, name


def _gallery_page(site):
    """The first example page of the gallery (sphinx-gallery names them after their plot_*.py scripts)."""
    pages = sorted(p for p in _html_files(os.path.join(site, "auto_examples"))
                   if os.path.basename(p).startswith("plot_"))
    assert pages, "the gallery built no example page"
    return pages[0]


CHECKER = """<!DOCTYPE html><html><body><pre id="report">pending</pre>
<iframe id="page" src="%(url)s" width="1280" height="1000"></iframe>
<script>
document.getElementById("page").addEventListener("load", function () {
  var w = this.contentWindow;
  if (w.MathJax && w.MathJax.startup && w.MathJax.startup.promise) {
    w.MathJax.startup.promise.then(function () { inspect(w.document); }, function () { inspect(w.document); });
  } else {
    inspect(w.document);
  }
});
function inspect(d) {
  var report = {};
  try {
    report.title = d.title;
    var main = d.querySelector("[role=main]") || d.body;  // the page's own content, not the sidebar's title
    report.h1 = Array.prototype.map.call(main.querySelectorAll("h1"), function (h) { return h.textContent; });
    report.images = Array.prototype.map.call(d.querySelectorAll("img"), function (im) {
      return {src: im.getAttribute("src"), complete: im.complete, width: im.naturalWidth};
    });
    report.links = d.querySelectorAll("a[href]").length;
    report.math = d.querySelectorAll("mjx-container").length;  // formulas MathJax typeset
    report.tex = d.querySelectorAll(".math").length;            // formulas on the page
  } catch (e) { report.error = String(e); }
  document.getElementById("report").textContent = JSON.stringify(report);
}
</script></body></html>
"""


def _chromium(tmp_path, *args):
    cmd = [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions",
           f"--user-data-dir={tmp_path / 'profile'}", "--allow-file-access-from-files",
           "--proxy-server=http://127.0.0.1:9", *args]
    return subprocess.run(cmd, cwd=TESTS, capture_output=True, text=True, timeout=120)


def _render(tmp_path, path, shot):
    """What the browser shows of one page (title, h1, images with their natural widths), and its screenshot."""
    url = "file://" + path
    checker = tmp_path / ("check_" + os.path.basename(path))
    checker.write_text(CHECKER % {"url": url})
    proc = _chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", "file://" + str(checker))
    m = re.search(r'<pre id="report">(.*?)</pre>', proc.stdout, re.S)
    assert m and m.group(1) != "pending", f"chromium did not render {path}:\n{proc.stdout[-2000:]}\n" \
                                          f"{proc.stderr[-2000:]}"
    report = json.loads(m.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
                        .replace("&amp;", "&"))
    assert "error" not in report, report
    proc = _chromium(tmp_path, "--window-size=1280,1400", "--hide-scrollbars", f"--screenshot={shot}", url)
    assert os.path.getsize(shot) > 10000, f"no screenshot of {path}: {proc.stderr[-2000:]}"
    return report


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium); "
                                             ".ci/run installs it")
def test_pages_render_in_chromium(site, tmp_path):
    shots = os.environ.get("FASTMLP_DOCS_SHOTS") or str(tmp_path / "shots")  # where to keep the screenshots
    os.makedirs(shots, exist_ok=True)
    pages = {
        "index": (os.path.join(site, "index.html"), "fastmlp"),  # with its figure (matplotlib's plot directive)
        "api_mlp": (os.path.join(site, "api", "generated", "fastmlp.MLP.html"), "fastmlp.MLP"),
        "gallery": (_gallery_page(site), None),
        "guide_math": (os.path.join(site, "guide", "layer_math.html"), "The math of one layer"),
    }
    for key, (path, h1) in pages.items():
        report = _render(tmp_path, path, os.path.join(shots, key + ".png"))
        assert report["h1"], f"{key}: no heading in {report}"
        if h1 is not None:
            assert report["h1"][0].rstrip("¶#").strip() == h1, (key, report["h1"])
        assert report["title"].startswith(report["h1"][0].rstrip("¶#").strip()[:20]), (key, report["title"])
        assert report["links"] > 10, (key, report)
        unloaded = [im for im in report["images"] if not im["complete"] or im["width"] == 0]
        assert not unloaded, f"{key}: images the browser could not show: {unloaded}"
        if key == "index":
            assert [im for im in report["images"] if (im["src"] or "").startswith("_images/index-")], \
                f"the index shows no figure: {report['images']}"
        if key == "gallery":
            plots = [im for im in report["images"] if "sphx_glr_" in (im["src"] or "")]
            assert plots, f"the gallery page shows no plot: {report['images']}"
        if key == "guide_math":  # MathJax, shipped with the site, typeset every formula offline
            assert report["tex"] >= 4 and report["math"] >= report["tex"], report
        if key == "api_mlp":
            with open(path, encoding="utf-8") as f:
                html = f.read()
            for method in ("fit", "predict", "train_step", "save"):  # the methods table links each method's page
                assert f"fastmlp.MLP.{method}.html" in html, method
