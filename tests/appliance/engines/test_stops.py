"""The stop-sequence scanner on exact strings, fed the way the engine feeds it: growing text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from appliance.engines.stops import StopMatcher


def stream_through(matcher: StopMatcher, pieces: list[str]) -> tuple[str, bool]:
    """Emit as the engine does: after each piece, send what the scan releases; at the end, flush."""
    text, emitted, out = "", 0, []
    for piece in pieces:
        text += piece
        scan = matcher.scan(text, emitted)
        out.append(text[emitted : scan.end])
        emitted = scan.end
        if scan.stopped:
            return "".join(out), True
    scan = matcher.scan(text, emitted, final=True)
    out.append(text[emitted : scan.end])
    return "".join(out), scan.stopped


def test_a_stop_split_over_pieces_is_found_and_not_emitted() -> None:
    assert stream_through(StopMatcher(["\n\n"]), ["def f():", "\n", "\n", "x"]) == ("def f():", True)


def test_text_that_only_looked_like_a_stop_is_released() -> None:
    matcher = StopMatcher(["END"])
    assert matcher.scan("abcEN", 0).end == 3  # "EN" could still become "END"
    assert stream_through(matcher, ["abc", "EN", "D?"]) == ("abc", True)
    assert stream_through(matcher, ["abc", "EN", "x"]) == ("abcENx", False)
    assert stream_through(matcher, ["abc", "EN"]) == ("abcEN", False)  # the end flushes the held text


def test_earliest_stop_wins() -> None:
    assert stream_through(StopMatcher(["b", "zz"]), ["azzb"]) == ("a", True)


def test_half_a_character_is_held_until_complete() -> None:
    matcher = StopMatcher([])
    assert matcher.scan("caf\ufffd", 0).end == 3
    assert matcher.scan("café", 3).end == 4


@given(
    st.lists(st.text(alphabet="ab\n", max_size=4), max_size=12),
    st.text(alphabet="ab\n", min_size=1, max_size=3),
)
def test_streaming_equals_cutting_the_whole_text(pieces: list[str], stop: str) -> None:
    whole = "".join(pieces)
    expected = (whole[: whole.index(stop)], True) if stop in whole else (whole, False)
    assert stream_through(StopMatcher([stop]), pieces) == expected
