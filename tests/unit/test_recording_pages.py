"""The recordings pages' small parts: times, file sizes and language names as members read them,
and the catalogue's page links."""

from __future__ import annotations

from realtime.pages.recordings import _page_url, clock, filesize, language_name


def test_times_read_like_a_player() -> None:
    assert [clock(s) for s in (0, 7.9, 75, 3723, None)] == ["0:00", "0:07", "1:15", "1:02:03", "0:00"]


def test_sizes_in_decimal_units_in_the_readers_language() -> None:
    # An hour of audio only at 32 kbit/s: about 14.4 MB.
    assert filesize(3600 * 32_000 // 8, "en") == "14.4 MB"
    assert filesize(14_600_000, "fr") == "14,6 MB"
    assert [filesize(n, "en") for n in (950, 950_000, 1_250_000_000)] == ["950 B", "950.0 kB", "1.2 GB"]


def test_language_names_in_the_readers_language() -> None:
    assert language_name("sw", "en") == "Swahili"
    assert language_name("fr", "fr") == "Français"
    assert language_name("pt-BR", "en") == "Portuguese (Brazil)"
    assert language_name("not a tag", "en") == "not a tag"


def test_catalogue_page_links_keep_the_filters() -> None:
    chosen = {"q": "malaria", "language": "", "tag": "field", "presenter": "", "since": "", "until": "",
              "sort": "newest"}
    assert _page_url(chosen, 0) == "/recordings?q=malaria&tag=field"
    assert _page_url({**chosen, "sort": "most_watched"}, 20) == \
        "/recordings?q=malaria&tag=field&sort=most_watched&offset=20"
