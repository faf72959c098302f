"""The identifier alphabet and the free-text rule of journal commands (issue 24)."""

from __future__ import annotations

import pytest

from loanledger.domain.commands import parse_command
from loanledger.domain.errors import InvalidCommandError
from loanledger.domain.text import ID_RULE, check_identifier, check_line, check_text


@pytest.mark.parametrize(
    "identifier",
    [
        "L-00001",
        "B-00001",
        "C-1",
        "L-00001/dunning/2025-03-01",
        "客户-1",
        "ARB:9",
        "a_b.c",
        "x" * 64,
    ],
)
def test_ids_of_letters_digits_and_the_five_separators_are_accepted(identifier: str) -> None:
    assert check_identifier(identifier) == identifier


@pytest.mark.parametrize(
    ("identifier", "why"),
    [
        ("L-\x00x", "'L-\\x00x' holds U+0000"),
        ("../../etc/passwd", "'../../etc/passwd' has the part '..'"),
        ("/etc", "'/etc' has the part ''"),
        ("a//b", "'a//b' has the part ''"),
        ("L-1'; DROP TABLE stored_events; --", '"L-1\'; DROP TABLE stored_events; --" holds "\'"'),
        ("L-😀", "'L-😀' holds '😀'"),
        (" L-1", "' L-1' holds ' '"),
        ("-L", "'-L' has the part '-L'"),
        ("=1", "'=1' holds '='"),
        ("e\u0301", "'e\u0301' is not in NFC"),
        ("", "got 0 characters"),
        ("x" * 65, "got 65 characters"),
    ],
)
def test_other_ids_are_refused_naming_the_rule_and_why(identifier: str, why: str) -> None:
    with pytest.raises(InvalidCommandError) as refused:
        check_identifier(identifier)
    assert str(refused.value) == f"{ID_RULE}; {why}"


def test_a_refused_id_names_the_command_and_the_field() -> None:
    command = {"command": "close", "loan_id": "L-1", "on": "2024-01-01"}
    with pytest.raises(InvalidCommandError) as refused:
        parse_command({**command, "loan_id": "../x"})
    assert str(refused.value) == f"close: field 'loan_id': {ID_RULE}; '../x' has the part '..'"


@pytest.mark.parametrize(
    "text", ["营业执照 valid\n第二行\tok", "😀 👨‍👩‍👧", "=SUM(A1)", "", "a\r\nb"]
)
def test_free_text_takes_any_printable_text_newlines_and_tabs(text: str) -> None:
    assert check_text(text) == text


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("a\x00b", "the control character U+0000"),
        ("a\x1b[31m", "the control character U+001B"),
        ("a\ud800", "the lone surrogate U+D800"),
        ("\u202eevil", "the bidirectional control U+202E"),
    ],
)
def test_free_text_refuses_controls_surrogates_and_bidi_overrides(text: str, found: str) -> None:
    with pytest.raises(InvalidCommandError) as refused:
        check_text(text)
    assert str(refused.value) == (
        f"free text may hold printable characters, newlines and tabs only; found {found}"
    )


@pytest.mark.parametrize("name", ["a\nb", "a\tb", "a\u2028b"])
def test_a_name_is_one_line(name: str) -> None:
    with pytest.raises(InvalidCommandError, match="a name is one line of printable characters"):
        check_line(name)


def test_every_ascii_character_is_allowed_in_an_identifier_exactly_as_its_unicode_rule_says() -> (
    None
):
    """ASCII identifiers take a shortcut (`_ASCII_ID`); it allows exactly the characters the
    character-by-character rule allows: each in the middle of an id, and at a part's start."""
    import unicodedata

    for code in range(128):
        character = chr(code)
        category = unicodedata.category(character)
        allowed = character in "-_.:/" or category[0] in "LM" or category == "Nd"
        starts = category[0] == "L" or category == "Nd"
        for value, expected in ((f"A{character}1", allowed), (f"{character}1", starts)):
            try:
                check_identifier(value)
                accepted = True
            except InvalidCommandError:
                accepted = False
            assert accepted == expected, (code, value)


def test_every_ascii_character_is_allowed_in_free_text_and_names_exactly_as_the_rule_says() -> None:
    """ASCII text that is all printable takes a shortcut; each ASCII character is taken or
    refused in free text and in a name as the character-by-character rule says."""
    for code in range(128):
        character = chr(code)
        value = f"a{character}b"
        controls = code < 32 or code == 127
        for check, allowed in (
            (check_text, not controls or character in "\t\n\r"),
            (check_line, not controls),
        ):
            try:
                check(value)
                accepted = True
            except InvalidCommandError:
                accepted = False
            assert accepted == allowed, (code, check.__name__)
