"""Reading Slack's HTTP requests: the C decoding of an interaction's payload reads exactly what Bolt's would."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st
from slack_bolt.request.internals import parse_body

from bot.slack_requests import read_body, unquote_plus

FORM = "application/x-www-form-urlencoded"
# The same examples every run: a failure here is seen again.
DETERMINISTIC = settings(derandomize=True, deadline=None, max_examples=300)
# Every character that percent-encoding, quoted-printable or UTF-8 treat specially, and some that nobody does.
TRICKY = st.text(alphabet=st.sampled_from("%=+&;\r\n \t0123456789abcdefABCDEFgzZ_.-~\"{}[]:,/?#@!$'()*é€😀\x00\x7f"))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def read_by_both(body: str, content_type: str) -> tuple[object, object]:
    """What ours and Bolt's make of ``body``: the same dict, or the same error."""

    def outcome(read: Callable[[str, str], object]) -> object:
        try:
            return read(body, content_type)
        except ValueError as exc:
            return type(exc)

    return outcome(read_body), outcome(parse_body)


@DETERMINISTIC
@given(st.text())
def test_any_encoded_text_decodes_as_urllib_does(text: str) -> None:
    encoded = urllib.parse.quote_plus(text)
    assert unquote_plus(encoded) == urllib.parse.unquote_plus(encoded) == text


@DETERMINISTIC
@given(TRICKY)
def test_a_malformed_value_decodes_as_urllib_does(value: str) -> None:
    assert unquote_plus(value) == urllib.parse.unquote_plus(value)


@DETERMINISTIC
@given(st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=6))
def test_an_interaction_payload_reads_as_bolt_reads_it(payload: dict[str, object]) -> None:
    body = urllib.parse.urlencode({"payload": json.dumps(payload, ensure_ascii=False)})
    assert read_body(body, FORM) == parse_body(body, FORM) == payload


@DETERMINISTIC
@given(st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=6))
def test_a_slash_command_reads_as_bolt_reads_it(fields: dict[str, str]) -> None:
    ours, bolts = read_by_both(urllib.parse.urlencode(fields), FORM)
    assert ours == bolts


def test_json_and_odd_bodies_read_as_bolt_reads_them() -> None:
    for body, content_type in [
        ('{"type": "url_verification", "challenge": "x"}', "application/json"),
        ('{"type": "event_callback"}', FORM),
        ("payload=%7B%22a%22%3A1%7D&payload=%7B%22a%22%3A2%7D", FORM),  # the last one wins, as in Bolt
        ("payload=%7B%22a%22%3A%22b%3Dc%22%7D", FORM),  # an escaped "=" in a value
        ("payload=%7B%22a%22%3A%22100%25%22%7D", FORM),
        ("", FORM),
        ("payload=", FORM),  # an error in both
        ("payload=%5B1%5D", FORM),  # JSON, but not an object
    ]:
        ours, bolts = read_by_both(body, content_type)
        assert ours == bolts, body
