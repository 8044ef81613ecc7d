"""ObsCore queries: what a user may ask for, validated, and the ADQL built from it. Numbers are checked
and written by Python; strings reach ADQL only through pyvo's SQL literal quoting (quotes doubled, the
whole value one literal), so no user text becomes query syntax."""
import math
import re
from dataclasses import asdict, dataclass
from typing import Any

COLUMNS = ("obs_publisher_did", "obs_collection", "obs_title", "dataproduct_type", "target_name", "s_ra",
           "s_dec", "t_min", "t_max", "em_min", "em_max", "access_url", "access_format", "access_estsize")
MAX_TEXT = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class VOQueryError(Exception):
    """The query cannot be run as given (bad parameter, or the service refused it): the user can fix it."""


@dataclass(frozen=True)
class ObsCoreQuery:
    """What the user asked for; units as ObsCore: degrees, metres (band), MJD (time)."""

    ra: float | None = None
    dec: float | None = None
    radius: float | None = None
    band_min: float | None = None
    band_max: float | None = None
    time_min: float | None = None
    time_max: float | None = None
    collection: str = ""
    keywords: str = ""

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "ObsCoreQuery":
        """Validated from form or JSON values (strings or numbers); raises VOQueryError with the reason."""
        numbers = {name: _number(name, params.get(name)) for name in
                   ("ra", "dec", "radius", "band_min", "band_max", "time_min", "time_max")}
        texts = {name: clean_text(name, params.get(name)) for name in ("collection", "keywords")}
        query = cls(**numbers, **texts)
        query._check_ranges()
        return query

    def _check_ranges(self) -> None:
        cone = (self.ra, self.dec, self.radius)
        if any(v is not None for v in cone) and any(v is None for v in cone):
            raise VOQueryError("A position needs ra, dec and radius together.")
        if self.ra is not None and not 0 <= self.ra <= 360:
            raise VOQueryError("ra must be between 0 and 360 degrees.")
        if self.dec is not None and not -90 <= self.dec <= 90:
            raise VOQueryError("dec must be between -90 and 90 degrees.")
        if self.radius is not None and not 0 < self.radius <= 180:
            raise VOQueryError("radius must be more than 0 and at most 180 degrees.")
        ranges = ((self.band_min, self.band_max, "band"), (self.time_min, self.time_max, "time"))
        for low, high, name in ranges:
            if low is not None and high is not None and low > high:
                raise VOQueryError(f"{name}_min must not exceed {name}_max.")
        if (self.band_min or 0) < 0 or (self.band_max or 0) < 0:
            raise VOQueryError("Wavelengths must be positive (metres).")

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}

    def conditions(self) -> list[str]:
        from pyvo.registry.rtcons import make_sql_literal

        found = []
        if self.radius is not None:
            found.append(f"1=CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', {self.ra!r}, {self.dec!r}, "
                         f"{self.radius!r}))")
        if self.band_min is not None:
            found.append(f"em_max >= {self.band_min!r}")
        if self.band_max is not None:
            found.append(f"em_min <= {self.band_max!r}")
        if self.time_min is not None:
            found.append(f"t_max >= {self.time_min!r}")
        if self.time_max is not None:
            found.append(f"t_min <= {self.time_max!r}")
        if self.collection:
            found.append(f"obs_collection = {make_sql_literal(self.collection)}")
        for word in self.keywords.split():
            pattern = make_sql_literal(f"%{word}%")
            found.append(f"(obs_title ILIKE {pattern} OR target_name ILIKE {pattern})")
        return found

    def adql(self, *, limit: int, offset: int = 0) -> str:
        where = " AND ".join(self.conditions())
        return (f"SELECT TOP {int(limit)} {', '.join(COLUMNS)} FROM ivoa.obscore"
                + (f" WHERE {where}" if where else "")
                + " ORDER BY obs_publisher_did" + (f" OFFSET {int(offset)}" if offset else ""))


def _number(name: str, raw: Any) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise VOQueryError(f"{name} must be a number.") from None
    if not math.isfinite(value):
        raise VOQueryError(f"{name} must be a finite number.")
    return value


def clean_text(name: str, raw: Any) -> str:
    value = "" if raw is None else str(raw).strip()
    if len(value) > MAX_TEXT:
        raise VOQueryError(f"{name} must be at most {MAX_TEXT} characters.")
    if _CONTROL.search(value):
        raise VOQueryError(f"{name} must not contain control characters.")
    return value
