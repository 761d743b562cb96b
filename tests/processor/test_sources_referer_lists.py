"""Referrers beyond GA4's list: Matomo's vendored list, Android apps, country portals, webmail.

Each case is a miss seen on real traffic (issue 25): it used to be shown as its raw host
under Referral.
"""

from __future__ import annotations

import pytest

from stream_processor import referrers, sources


def classify(host: str) -> tuple[str, str]:
    """(source, channel) of a page view whose referrer host is ``host``, untagged."""
    source, category = sources.source_of(None, None, host)
    return source, sources.channel_of(source, category, None, None)


@pytest.mark.parametrize(
    ("host", "source", "channel"),
    [
        # Yahoo!'s country portals search like its search hosts
        ("de.yahoo.com", "Yahoo!", "Organic Search"),
        ("it.yahoo.com", "Yahoo!", "Organic Search"),
        ("uk.yahoo.com", "Yahoo!", "Organic Search"),
        ("www.de.yahoo.com", "Yahoo!", "Organic Search"),
        # android-app://<package> reaches us as the package for a host
        ("com.google.android.gm", "Gmail", "Email"),
        ("com.google.android.googlequicksearchbox", "Google", "Organic Search"),
        ("com.linkedin.android", "LinkedIn", "Organic Social"),
        ("org.telegram.messenger", "Telegram", "Organic Social"),
        ("com.slack", "Slack", "Organic Social"),
        # social and messaging sites
        ("ok.ru", "Odnoklassniki", "Organic Social"),
        ("odnoklassniki.ru", "Odnoklassniki", "Organic Social"),
        ("teams.microsoft.com", "Microsoft Teams", "Organic Social"),
        ("substack.com", "Substack", "Organic Social"),
        # Google News under any country TLD, as GA4 files news.google.com
        ("news.google.de", "Google News", "Organic Search"),
        ("news.google.co.uk", "Google News", "Organic Search"),
        ("news.google.com.br", "Google News", "Organic Search"),
        # webmail
        ("webmail2.bigpond.com", "BigPond Mail", "Email"),
        ("post.ru", "Beeline Mail", "Email"),
        ("lightmailer.gmx.es", "GMX Mail", "Email"),
        ("mailbusiness.ionos.de", "IONOS Mail", "Email"),
    ],
)
def test_known_misses_are_named_and_channelled(host: str, source: str, channel: str) -> None:
    assert classify(host) == (source, channel)


def test_android_referrer_url_reaches_the_package() -> None:
    """The pipeline hands sources.py urlsplit's host: the package name."""
    from stream_processor.pipeline import referrer_parts

    _url, host = referrer_parts("android-app://com.google.android.gm/", "example.com")
    assert host == "com.google.android.gm"
    assert classify("com.google.android.gm") == ("Gmail", "Email")


@pytest.mark.parametrize(
    ("host", "source", "channel"),
    [
        ("de.search.yahoo.com", "Yahoo!", "Organic Search"),  # {}.search.yahoo.com
        ("maps.google.de", "Google Maps", "Referral"),  # Matomo: search; a product here
        ("scholar.google.fr", "Google Scholar", "Referral"),
        ("seznam.cz", "Seznam", "Organic Search"),
        ("bilibili.com", "bilibili", "Organic Social"),  # only in Matomo's social list
    ],
)
def test_matomo_list_and_its_country_placeholder(host: str, source: str, channel: str) -> None:
    assert classify(host) == (source, channel)


def test_ga4_category_wins_over_the_list() -> None:
    """mail.yandex.ru: GA4 says search, we say Email, the list is not consulted."""
    assert classify("mail.yandex.ru") == ("Yandex Mail", "Email")
    assert classify("news.yahoo.com") == ("Yahoo! News", "Referral")


def test_placeholder_matches_whole_labels_only() -> None:
    assert sources.listed("google.de") is not None
    assert sources.listed("notgoogle.de") is None
    assert sources.listed("google.de.evil.test") is None
    assert sources.listed("ads.search.yahoo.com") is None  # {} is a two-letter country


def test_webmail_label_rule_is_not_greedy() -> None:
    for host in ("mailchimp.com", "mailer.example", "gmail.com", "mail.ru"):
        assert classify(host)[1] != "Email", host


def test_list_is_vendored_data_read_once() -> None:
    assert len(referrers.LIST_SOURCES) > 800
    assert referrers.LIST_SOURCES["google.{}"] == ("Google", referrers.SEARCH)
    assert all(" " not in host and "/" not in host for host in referrers.LIST_SOURCES)


def test_utm_source_with_a_list_name() -> None:
    source, category = sources.source_of("Odnoklassniki", None, None)
    assert (source, sources.channel_of(source, category, None, None)) == (
        "Odnoklassniki",
        "Organic Social",
    )
