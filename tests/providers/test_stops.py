"""Stop strings across token boundaries."""

from __future__ import annotations

from roost.providers.stops import StopScanner


def feed_all(scanner: StopScanner, pieces: list[str]) -> tuple[str, bool]:
    out = []
    for piece in pieces:
        text, hit = scanner.feed(piece)
        out.append(text)
        if hit:
            return "".join(out), True
    return "".join(out) + scanner.flush(), False


def test_stop_split_over_pieces_is_cut_and_never_shown() -> None:
    assert feed_all(StopScanner(["<|im_end|>"]), ["Paris", ".<|im", "_end|>", "junk"]) == (
        "Paris.",
        True,
    )


def test_a_false_start_is_released() -> None:
    assert feed_all(StopScanner(["END"]), ["a E", "N", "d b"]) == ("a ENd b", False)


def test_no_stops_passes_through() -> None:
    assert feed_all(StopScanner([]), ["a", "b"]) == ("ab", False)


def test_earliest_of_several_stops_wins() -> None:
    assert feed_all(StopScanner(["zz", "b"]), ["aab zz"]) == ("aa", True)


def test_the_stop_reached_is_named() -> None:
    scanner = StopScanner(["zz", "b"])
    assert scanner.hit is None
    feed_all(scanner, ["aa", "b zz"])
    assert scanner.hit == "b"
    assert StopScanner(["END"]).hit is None
