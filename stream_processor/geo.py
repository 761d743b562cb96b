"""Geography without an IP database: CloudFront's country and the edge location.

``c-country`` comes from CloudFront's own geo lookup; when it is absent the browser's
IANA time zone names the country (tzdata's zone.tab, maintained with the tz database).
The edge location code starts with the IATA code of a nearby airport
(``FRA56-P4`` → Frankfurt), which airportsdata turns into city, country, latitude
and longitude.
"""

from __future__ import annotations

from functools import cache, lru_cache
from importlib import resources
from typing import NamedTuple


class Edge(NamedTuple):
    location: str
    city: str | None
    country: str | None
    latitude: float | None
    longitude: float | None


@cache
def _zone_countries() -> dict[str, str]:
    """IANA zone → ISO-3166 alpha-2, from tzdata's zone.tab (read once per process)."""
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    zones: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            country, _coordinates, zone, *_ = line.split("\t")
            zones[zone] = country
    # renamed zones that browsers still report
    for old, new in (
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("Europe/Kiev", "Europe/Kyiv"),
        ("Asia/Saigon", "Asia/Ho_Chi_Minh"),
        ("Asia/Katmandu", "Asia/Kathmandu"),
        ("America/Buenos_Aires", "America/Argentina/Buenos_Aires"),
    ):
        if new in zones:
            zones.setdefault(old, zones[new])
    return zones


def country_code(c_country: str, timezone: str | None) -> str | None:
    """CloudFront's country when it has one, else the time zone's country."""
    if len(c_country) == 2 and c_country.isalpha():
        return c_country.upper()
    if timezone:
        return _zone_countries().get(timezone)
    return None


@cache
def _airports() -> dict[str, tuple[str, str, float, float]]:
    """IATA code → (city, country, latitude, longitude) of airportsdata's airports.

    Loaded on the first event, not at import. The rows of ``airportsdata.load("IATA")``
    (its CSV, its dialect, the last row of a code kept), read with ``csv.reader``
    instead of the ``csv.DictReader`` it uses: a dict per airport for 28k rows made it
    84 ms of every cold start and ``ownstats ingest``, half that without them.
    """
    import csv
    from operator import itemgetter

    with resources.files("airportsdata").joinpath("airports.csv").open(encoding="utf8") as f:
        reader = csv.reader(f, quoting=csv.QUOTE_NONNUMERIC)
        header = next(reader)
        code = itemgetter(header.index("iata"))
        fields = itemgetter(*(header.index(n) for n in ("city", "country", "lat", "lon")))
        airports = {code(row): fields(row) for row in reader if row}
    airports.pop("", None)
    return airports


#: IATA metropolitan-area codes, which name a city, not an airport, and so are not in
#: airportsdata; some CloudFront locations use them (``YTO50-C1`` is Toronto). Each
#: maps to the area's main airport (for country and coordinates) and the city's name.
#: The codes are IATA's multi-airport city codes, as commonly listed.
METRO_AREAS: dict[str, tuple[str, str]] = {
    "BJS": ("PEK", "Beijing"), "BUE": ("EZE", "Buenos Aires"), "BHZ": ("CNF", "Belo Horizonte"),
    "CHI": ("ORD", "Chicago"), "DTT": ("DTW", "Detroit"), "JKT": ("CGK", "Jakarta"),
    "LON": ("LHR", "London"), "MIL": ("MXP", "Milan"), "MOW": ("SVO", "Moscow"),
    "NYC": ("JFK", "New York"), "OSA": ("KIX", "Osaka"), "PAR": ("CDG", "Paris"),
    "RIO": ("GIG", "Rio de Janeiro"), "ROM": ("FCO", "Rome"), "SAO": ("GRU", "São Paulo"),
    "SEL": ("ICN", "Seoul"), "STO": ("ARN", "Stockholm"), "TYO": ("HND", "Tokyo"),
    "WAS": ("IAD", "Washington"), "YEA": ("YEG", "Edmonton"), "YMQ": ("YUL", "Montreal"),
    "YTO": ("YYZ", "Toronto"),
}  # fmt: skip


@lru_cache(maxsize=2048)
def edge(location: str) -> Edge | None:
    """City, country and coordinates of a CloudFront edge location code."""
    if not location:
        return None
    code = location[:3].upper()
    airport, city = _airports().get(code), None
    if airport is None and code in METRO_AREAS:
        main, city = METRO_AREAS[code]
        airport = _airports().get(main)
    if airport is None:
        return Edge(location, None, None, None, None)
    airport_city, country, latitude, longitude = airport
    return Edge(
        location,
        city or str(airport_city) or None,
        str(country) or None,
        float(latitude),
        float(longitude),
    )
