"""The visitor side's scripts over HTTP: the booking pages' native ES modules (every module they
preload or import served as text/javascript, nothing above the source folder) and the bundled
widget at /widget.js as one classic script."""

from __future__ import annotations

import re

from aiohttp import ClientSession

from web_widget.http import SRC, STATIC

IMPORT = re.compile(r'^import [^;]+ from "([^"]+)";', re.M)


async def test_booking_pages_load_their_modules_natively(server):
    async with ClientSession() as http:
        for page, entry in (("/afspraak", "afspraak"), ("/afspraak/beheer", "beheer")):
            async with http.get(server.url + page) as r:
                html = await r.text()
                csp = r.headers["Content-Security-Policy"]
            assert "script-src 'self';" in csp and "unsafe" not in csp
            assert f'<script type="module" src="/widget/src/{entry}/main.js"></script>' in html
            hrefs = re.findall(r'<link rel="modulepreload" href="([^"]+)">', html)
            # Every module the entry imports, directly or not, is preloaded (no waterfall).
            needed: set[str] = set()
            todo = [SRC / entry / "main.js"]
            while todo:
                module = todo.pop()
                for spec in IMPORT.findall(module.read_text(encoding="utf-8")):
                    target = (module.parent / spec).resolve()
                    rel = "/widget/src/" + target.relative_to(SRC).as_posix()
                    if rel not in needed:
                        needed.add(rel)
                        todo.append(target)
            assert needed <= set(hrefs), needed - set(hrefs)
            for href in [*hrefs, f"/widget/src/{entry}/main.js"]:
                async with http.get(server.url + href) as r:
                    assert r.status == 200 and r.content_type == "text/javascript", href


async def test_nothing_above_the_source_folder(server):
    async with ClientSession() as http:
        for path in ("", "common/", "../http.py", "%2e%2e/http.py", "common/%2e%2e/%2e%2e/http.py"):
            async with http.get(f"{server.url}/widget/src/{path}") as r:
                assert r.status == 404, path


async def test_widget_js_is_the_bundle_as_one_classic_script(server):
    async with ClientSession() as http:
        async with http.get(server.url + "/widget.js") as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "text/javascript; charset=utf-8"
            body = await r.text()
    assert body == (STATIC / "widget.js").read_text(encoding="utf-8")
    # A classic script: no module syntax left, everything inside one function scope.
    assert not re.search(r"^\s*(import|export)\s", body, re.M)
    assert "__vtWidgetLoaded" in body


def test_bundle_is_built_from_the_current_sources():
    # `make widget` rebuilds it when a source changes; a stale bundle would hide a change.
    bundle = (STATIC / "widget.js").stat().st_mtime
    for source in SRC.rglob("*.js"):
        if "tests" not in source.parts:
            assert source.stat().st_mtime <= bundle, f"{source} is newer than widget.js: run make widget"


async def test_a_page_file_that_is_missing_answers_not_found_in_the_error_shape(server, monkeypatch, tmp_path):
    """Before `make widget` built it, /widget.js is missing: a 404 with the contract's error body,
    not an empty answer from deep inside the file response (a fuzz run found one)."""
    import web_widget.http as widget_http

    monkeypatch.setattr(widget_http, "STATIC", tmp_path)
    async with ClientSession() as http:
        async with http.get(server.url + "/widget.js", data=b"[" * 5000) as r:
            assert r.status == 404
            assert (await r.json())["error"]["code"] == "not_found"
