"""Open every page of the built book in headless Chromium and check it.

    python book/check_site.py [book/_build/html] [--screenshots DIR]

The built HTML is served on 127.0.0.1 (as a reader's browser would get it
from a web server; file:// URLs would block the MathJax fonts) and every
page is loaded in Debian's chromium through chromedriver (Selenium).  Each
page must:

* log nothing at level SEVERE on the console (a failed script, a 404, a
  JavaScript exception);
* load nothing from another host: every resource the browser fetched is on
  the local server, so the book works offline;
* decode every image (``img.decode()`` resolves and the natural width is > 0),
  and show every image of the text inside a ``<figure>`` with a caption;
* have every internal link resolve: the target file exists and, when the
  link has a ``#fragment``, the target page has an element with that id;
* typeset every equation: MathJax (from ``_static/mathjax``) has finished,
  each Sphinx ``.math`` element holds an ``mjx-container`` and there is no
  ``mjx-merror``.

Three screenshots go to ``book/_build/screenshots/`` for a person to look
at.  The exit status is 1 if any page fails.  Needs: ``apt-get install
chromium chromium-driver`` and ``pip install selenium``.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import sys
import tempfile
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

HERE = Path(__file__).resolve().parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# The network is closed: without the background-networking flags Chromium
# keeps trying to reach Google's hosts.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--window-size=1280,900", "--hide-scrollbars"]

# Pages to photograph: (file, element to scroll to or None, screenshot name).
SHOTS = [
    ("intro.html", None, "intro.png"),
    ("anatomy.html", "the-output-size-formula", "anatomy-formula.png"),
    ("max.html", "worked-example", "max-worked-example.png"),
]

WAIT_JS = """
const done = arguments[arguments.length - 1];
(async () => {
  const report = {images: [], math: 0, typeset: 0, merror: 0, mathjax: null};
  for (const img of document.images) {
    img.loading = "eager";
    try {
      await img.decode();
      if (!img.naturalWidth) report.images.push(img.currentSrc + " has no width");
    } catch (e) {
      report.images.push((img.currentSrc || img.src) + " does not decode");
    }
  }
  const maths = document.querySelectorAll(".math");
  report.math = maths.length;
  if (maths.length) {
    const start = Date.now();
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
      if (Date.now() - start > 15000) break;
      await new Promise(r => setTimeout(r, 50));
    }
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      await MathJax.startup.promise;
      report.mathjax = MathJax.version;
    }
    report.typeset = [...maths].filter(m => m.querySelector("mjx-container")).length;
    report.merror = document.querySelectorAll("mjx-merror").length;
  }
  report.uncaptioned = [...document.querySelectorAll("article img")]
    .filter(img => {
      const fig = img.closest("figure");
      const cap = fig && fig.querySelector("figcaption");
      return !(cap && cap.textContent.trim());
    })
    .map(img => img.currentSrc || img.src);
  report.links = [...document.querySelectorAll("a[href]")].map(a => a.href);
  report.resources = performance.getEntriesByType("resource").map(r => r.name);
  done(report);
})();
"""


class _Ids(HTMLParser):
    """Every id (and old-style ``<a name>``) a page defines."""

    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key == "id" or (tag == "a" and key == "name"):
                self.ids.add(value)


@functools.lru_cache(maxsize=None)
def page_ids(path: Path):
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        # The book has no favicon; answer the browser's automatic request
        # with "no content" rather than a 404 that would be logged as an error.
        if self.path == "/favicon.ico":
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()


def serve(root: Path):
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def browser(profile: str):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    return driver


def check_links(links, base, root: Path, page: Path):
    problems, external = [], set()
    for href in links:
        url, fragment = urldefrag(href)
        parsed = urlparse(url)
        if parsed.scheme in ("mailto", "javascript", "data"):
            continue
        if not url.startswith(base):
            external.add(url)
            continue
        target = root / unquote(parsed.path.lstrip("/"))
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            problems.append(f"broken link {href} (no file {target.relative_to(root)})")
        elif fragment and target.suffix == ".html" and fragment not in page_ids(target):
            problems.append(f"broken link {href} (no id {fragment!r} in {target.name})")
    return problems, external


def check_page(driver, base, root: Path, page: Path):
    rel = page.relative_to(root).as_posix()
    driver.get(base + rel)
    report = driver.execute_async_script(WAIT_JS)
    problems = []
    for entry in driver.get_log("browser"):
        if entry["level"] == "SEVERE":
            problems.append(f"console: {entry['message']}")
    problems += [f"image: {msg}" for msg in report["images"]]
    problems += [f"figure without a caption: {src}" for src in report["uncaptioned"]]
    if report["math"]:
        if not report["mathjax"]:
            problems.append("MathJax did not load")
        if report["typeset"] != report["math"]:
            problems.append(f"only {report['typeset']} of {report['math']} equations typeset")
        if report["merror"]:
            problems.append(f"{report['merror']} MathJax errors on the page")
    foreign = [r for r in report["resources"] if not r.startswith((base, "data:", "blob:"))]
    problems += [f"loaded from another host: {r}" for r in foreign]
    link_problems, external = check_links(report["links"], base, root, page)
    problems += link_problems
    return problems, report, external


def screenshots(driver, base, outdir: Path):
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for page, anchor, name in SHOTS:
        driver.get(base + page)
        driver.execute_async_script(WAIT_JS)
        if anchor:
            driver.execute_script(
                "const e = document.getElementById(arguments[0]);"
                "if (e) { e.scrollIntoView(); window.scrollBy(0, -70); }", anchor)
        path = outdir / name
        driver.save_screenshot(str(path))
        written.append(path)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", nargs="?", default=str(HERE / "_build" / "html"))
    parser.add_argument("--screenshots", default=str(HERE / "_build" / "screenshots"))
    args = parser.parse_args(argv)
    root = Path(args.html).resolve()
    pages = sorted(p for p in root.rglob("*.html")
                   if not p.relative_to(root).parts[0].startswith("_"))
    if not pages:
        print(f"no HTML pages under {root}: build the book first (make book)")
        return 1
    server, base = serve(root)
    profile = tempfile.mkdtemp(prefix="ndpool-book-chromium-")
    driver = browser(profile)
    failed, external = 0, set()
    try:
        print(f"{driver.capabilities.get('browserName')} "
              f"{driver.capabilities.get('browserVersion')}, serving {root} at {base}")
        for page in pages:
            problems, report, ext = check_page(driver, base, root, page)
            external |= ext
            status = "FAIL" if problems else "ok"
            print(f"{status:4} {page.relative_to(root)}: {len(report['images'])} bad images "
                  f"of {driver.execute_script('return document.images.length')}, "
                  f"{report['typeset']}/{report['math']} equations typeset, "
                  f"{len(report['links'])} links, {len(report['resources'])} resources")
            for problem in problems:
                print(f"     {problem}")
            failed += bool(problems)
        for path in screenshots(driver, base, Path(args.screenshots)):
            print(f"screenshot {path}")
    finally:
        driver.quit()
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    if external:
        print(f"{len(external)} external links, not followed (no network): "
              + ", ".join(sorted(external)[:5]) + (" ..." if len(external) > 5 else ""))
    print(f"{len(pages) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
