"""Challenge (step 04): a Date header on every answer (RFC 9110, section 6.6.1).

Checked with `tutorial check --challenge` (or `pytest steps/04_response/challenge_date.py
--server my_server.py`); `pytest steps/` does not collect it.
"""

import re
import time
from email.utils import parsedate_to_datetime

import pytest

from harness import request
from harness.checks import CLOSE, TRACEBACK_END, json_response, send

# IMF-fixdate, the one format a server may send: "Sat, 05 Dec 2026 18:30:00 GMT".
IMF_FIXDATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                         r"\d{4} \d\d:\d\d:\d\d GMT")


@pytest.mark.parametrize("path, status", [("/hello_world", 200), ("/broken", 500)])
def test_every_answer_has_a_date_header(server, path, status):
    mark = server.mark()
    ex = send(server, request("GET", path, headers=CLOSE))
    json_response(ex, status)
    if status == 500:
        server.wait_for(TRACEBACK_END, since=mark)  # the traceback is logged whole before the next test
    date = ex.response.header("Date")
    assert date is not None, ex.explain(f"the {status} answer has no Date header (RFC 9110, 6.6.1)")
    assert IMF_FIXDATE.fullmatch(date), ex.explain(
        f"Date: {date!r} is not in HTTP's date format, e.g. 'Sat, 05 Dec 2026 18:30:00 GMT' "
        "(email.utils.formatdate(usegmt=True) writes it)")
    sent = parsedate_to_datetime(date).timestamp()
    assert abs(sent - time.time()) < 5, ex.explain(
        f"Date: {date} is {sent - time.time():+.0f} s from now: is it the time in GMT?")
