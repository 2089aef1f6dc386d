"""ARM's timestamps read the same on every supported Python: 7 fractional digits, `Z` or an offset, in UTC."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from moediag.evidence import parse_time

UTC = timezone.utc


@pytest.mark.parametrize("text, expected", [
    ("2023-05-09T01:25:09.1390024Z", datetime(2023, 5, 9, 1, 25, 9, 139002, tzinfo=UTC)),
    ("2021-12-01T08:00:00+00:00", datetime(2021, 12, 1, 8, 0, tzinfo=UTC)),
    ("2022-05-24T05:30:00.1234567+05:30", datetime(2022, 5, 24, 0, 0, 0, 123456, tzinfo=UTC)),  # the offset counts
    ("2022-05-23T20:00:00-04:00", datetime(2022, 5, 24, 0, 0, tzinfo=UTC)),
    ("2023-05-09T01:25:09", datetime(2023, 5, 9, 1, 25, 9, tzinfo=UTC)),  # no offset: ARM means UTC
    ("  2023-05-09T01:25:09Z ", datetime(2023, 5, 9, 1, 25, 9, tzinfo=UTC)),
])
def test_arm_timestamps_are_read_in_utc(text, expected):
    assert parse_time(text) == expected and parse_time(text).tzinfo == UTC


@pytest.mark.parametrize("text", [None, "", "   ", "garbage", "2023-05-09", "2023-13-40T99:00:00Z", 20230509, ["x"]])
def test_anything_else_is_no_time(text):
    assert parse_time(text) is None


def test_an_offset_decides_which_side_of_the_private_endpoint_cut_off_a_time_falls():
    cut_off = datetime(2022, 5, 24, tzinfo=UTC)
    assert parse_time("2022-05-24T02:00:00+05:30") < cut_off  # 2022-05-23T20:30Z: before, though the date reads 24
