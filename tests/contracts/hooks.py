"""Schemathesis hooks for the API contract tests (tests/tests/api_contracts.rs).

Only what JSON Schema cannot say:

* rules *between* fields of a schema-valid order, which the OpenAPI document states in prose
  (422 otherwise): generated orders are brought in line with them, so `positive_data_acceptance`
  still fails on every other schema-valid order the server rejects;
* that an Idempotency-Key names one order: generators reuse short keys ("0") for different
  bodies, which is a correct 409 but never reaches validation, so a valid key gets a unique
  suffix (an invalid one, the point of a negative case, is left alone).

Nothing here makes an invalid value valid or a valid one invalid.
"""

import datetime
import re
import uuid

import schemathesis

KEY = re.compile(r"[!-~]{1,255}")
CURRENCY = re.compile(r"[A-Z]{3}")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@schemathesis.hook
def map_case(context, case):
    # `map_case` runs in every phase (`map_body` not in the coverage phase).
    if case.operation.label != "POST /v1/orders":
        return case
    if isinstance(case.body, dict):
        between_fields(case.body)
    headers = case.headers or {}
    for name, key in list(headers.items()):
        if name.lower() == "idempotency-key" and isinstance(key, str) and KEY.fullmatch(key):
            suffix = "-" + uuid.uuid4().hex[:12]
            if len(key) + len(suffix) <= 255:
                headers[name] = key + suffix
    return case


def between_fields(body):
    """Applies the rules between fields where every field involved is valid on its own."""
    ship, cancel = body.get("requested_ship_date"), body.get("cancel_after_date")
    if is_date(ship) and is_date(cancel) and ship > cancel:
        body["requested_ship_date"], body["cancel_after_date"] = cancel, ship
    currency = body.get("currency")
    lines = body.get("lines")
    if is_currency(currency) and isinstance(lines, list):
        for line in lines:
            price = line.get("submitted_unit_price") if isinstance(line, dict) else None
            if isinstance(price, dict) and is_currency(price.get("currency")):
                price["currency"] = currency


def is_currency(v):
    return isinstance(v, str) and CURRENCY.fullmatch(v) is not None


def is_date(v):
    if not isinstance(v, str) or DATE.fullmatch(v) is None:
        return False
    try:
        datetime.date.fromisoformat(v)
    except ValueError:
        return False
    return True
