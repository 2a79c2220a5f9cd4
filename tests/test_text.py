"""text.py: the characters untrusted text may not carry, and sentences."""

from __future__ import annotations

from assistant.export import md_text
from assistant.text import CONTROL, one_line, split_sentences


def test_control_covers_terminal_escapes_c1_controls_and_bidi_overrides() -> None:
    dropped = ["\x00", "\x07", "\x0b", "\x0d", "\x1b", "\x7f", "\x85", "\x9f"]
    dropped += [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]]
    assert all(CONTROL.fullmatch(c) for c in dropped)
    kept = ["\t", "\n", " ", "é", "ضغط", "\u200b", "\u2028", "\u202f", "\u2065", "\u206a"]
    assert not any(CONTROL.fullmatch(c) for c in kept)


def test_one_line_drops_control_characters_and_joins_whitespace() -> None:
    assert one_line("  Red\x1b[31m\tTitle\n\u202eevil\u2069 ") == "Red [31m Title evil"


def test_exports_drop_what_the_parser_and_the_cli_drop() -> None:
    assert md_text("KV\u202e cache\x07") == "KV cache"


def test_abbreviations_do_not_end_a_sentence() -> None:
    text = "We reach 90% (vs. 75% for images), e.g. on COCO. Results hold. See Fig. 2 too."
    assert split_sentences(text) == [
        "We reach 90% (vs. 75% for images), e.g. on COCO.",
        "Results hold.",
        "See Fig. 2 too.",
    ]


def test_inline_list_numbers_do_not_end_a_sentence() -> None:
    # RadRotator's abstract numbers its points inline; a number after a word ends a sentence.
    text = "Two limits: 1. We use A; and 2. We use B. It equals 1. We test on GPT-4. It works."
    assert split_sentences(text) == [
        "Two limits: 1. We use A; and 2. We use B.",
        "It equals 1.",
        "We test on GPT-4.",
        "It works.",
    ]
