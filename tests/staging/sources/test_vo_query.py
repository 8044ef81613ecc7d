"""ObsCore queries: validated parameters and the ADQL built from them (no server needed)."""
import pytest

from staging.sources.vo_query import ObsCoreQuery, VOQueryError


def test_every_constraint_becomes_one_adql_condition_in_obscore_units():
    query = ObsCoreQuery.from_params({"ra": "10", "dec": "20", "radius": "0.5", "band_min": "5e-7",
                                      "band_max": 6e-7, "time_min": 60000, "time_max": "60100",
                                      "collection": "esap-fixture", "keywords": "crab nebula"})
    assert query.adql(limit=26, offset=25) == (
        "SELECT TOP 26 obs_publisher_did, obs_collection, obs_title, dataproduct_type, target_name, "
        "s_ra, s_dec, t_min, t_max, em_min, em_max, access_url, access_format, access_estsize "
        "FROM ivoa.obscore WHERE "
        "1=CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', 10.0, 20.0, 0.5)) AND em_max >= 5e-07 AND "
        "em_min <= 6e-07 AND t_max >= 60000.0 AND t_min <= 60100.0 AND obs_collection = 'esap-fixture' AND "
        "(obs_title ILIKE '%crab%' OR target_name ILIKE '%crab%') AND "
        "(obs_title ILIKE '%nebula%' OR target_name ILIKE '%nebula%') ORDER BY obs_publisher_did OFFSET 25")
    assert query.params() == {"ra": 10.0, "dec": 20.0, "radius": 0.5, "band_min": 5e-7, "band_max": 6e-7,
                              "time_min": 60000.0, "time_max": 60100.0, "collection": "esap-fixture",
                              "keywords": "crab nebula"}


def test_an_empty_query_selects_everything_in_a_stable_order():
    assert ObsCoreQuery().adql(limit=51).endswith("FROM ivoa.obscore ORDER BY obs_publisher_did")


def test_a_quote_stays_inside_its_literal():
    adql = ObsCoreQuery.from_params({"collection": "a' OR 1=1 --"}).adql(limit=1)
    assert "obs_collection = 'a'' OR 1=1 --'" in adql


@pytest.mark.parametrize("params, reason", [
    ({"ra": "ten", "dec": 20, "radius": 1}, "ra must be a number"),
    ({"ra": 10, "dec": 20}, "ra, dec and radius together"),
    ({"ra": 10, "dec": 95, "radius": 1}, "dec must be between"),
    ({"ra": 10, "dec": 20, "radius": "nan"}, "finite"),
    ({"band_min": 7e-7, "band_max": 5e-7}, "band_min must not exceed"),
    ({"keywords": "a\x00b"}, "control characters"),
    ({"collection": "x" * 201}, "at most 200"),
])
def test_invalid_parameters_are_refused_with_the_reason_before_any_request(params, reason):
    with pytest.raises(VOQueryError, match=reason):
        ObsCoreQuery.from_params(params)
