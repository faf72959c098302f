"""Checking HTML the ledger writes: tags balanced, text readable."""

from __future__ import annotations

from html.parser import HTMLParser


class TagBalance(HTMLParser):
    """Feeds a page and fails on any closing tag that does not close the open one."""

    VOID = frozenset({"meta", "br", "link", "img", "input", "hr", "col"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1:]}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
