"""The console page's structure: every tab panel stands on its own in <main>. A panel left
unclosed (a merge that drops a `</section>`) swallows the next ones, and those stay hidden
whatever tab is chosen."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

CONSOLE = Path(__file__).resolve().parents[2] / "agent_console" / "static" / "console.html"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Panels(HTMLParser):
    """The open elements above each tab panel, and every end tag that closes nothing open."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.parents: dict[str, list[str]] = {}
        self.stray: list[tuple[str, tuple[int, int]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("role") == "tabpanel" and a.get("id"):  # a conversation's pane (a template) has none
            self.parents[a["id"] or ""] = list(self.stack)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.stray.append((tag, self.getpos()))


def test_every_tab_panel_is_a_child_of_main_and_every_element_is_closed():
    page = _Panels()
    page.feed(CONSOLE.read_text(encoding="utf-8"))
    assert {"work-view", "board-view", "figures-view", "accounts-view"} <= set(page.parents)
    assert {panel: parents for panel, parents in page.parents.items() if parents != ["html", "body", "main"]} == {}
    assert page.stray == [] and page.stack == []
