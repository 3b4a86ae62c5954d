//! The order API's request and response bodies, and the request validation (422 with the
//! field path and reason of every problem).

use chrono::{NaiveDate, Utc};
use dsync_events::{
    AcceptedOrderLine, Address, CompactString, Event, EventMetadata, Money, OrderChannel,
    OrderShipTo, OrderSubmitted, RejectionReason, SubmittedOrderLine,
};
use serde::{Deserialize, Serialize};

use crate::handlers::submissions::{order_id_for, SOURCE_SYSTEM};
use crate::state::{OrderRecord, Outcome};

/// Channels an order may be submitted in through the API (EDI orders come from edi-gateway).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum RequestChannel {
    /// A customer's own system (default).
    #[default]
    #[serde(rename = "HTTP")]
    Http,
    /// The web shop or a marketplace connector.
    #[serde(rename = "ECOMMERCE")]
    Ecommerce,
    /// The CRM.
    #[serde(rename = "CRM")]
    Crm,
}

/// `POST /v1/orders` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// ERP customer number.
    pub customer_id: String,
    /// Channel (default HTTP).
    #[serde(default)]
    pub channel: RequestChannel,
    /// The customer's purchase order number.
    #[serde(default)]
    pub customer_po_number: Option<String>,
    /// Where to ship; the customer's default ship-to when absent.
    #[serde(default, deserialize_with = "object::optional")]
    pub ship_to: Option<ShipToRequest>,
    /// Requested ship date (`YYYY-MM-DD`).
    #[serde(default)]
    pub requested_ship_date: Option<NaiveDate>,
    /// Cancel-after date (`YYYY-MM-DD`).
    #[serde(default)]
    pub cancel_after_date: Option<NaiveDate>,
    /// ISO 4217 currency.
    pub currency: String,
    /// Lines (at least one).
    #[serde(deserialize_with = "object::list")]
    pub lines: Vec<LineRequest>,
}

/// The body of `POST /v1/orders`: an [`OrderRequest`] that must be a JSON object.
#[derive(Debug, Clone)]
pub struct OrderBody(pub OrderRequest);

impl<'de> Deserialize<'de> for OrderBody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        object::required(d).map(OrderBody)
    }
}

/// Objects of the request only as JSON objects: serde's derived structs also take an array of
/// their fields in order (`"ship_to": [null, null, null]`), which the schema does not allow.
mod object {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::value::MapAccessDeserializer;
    use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
    use serde::{Deserialize, Deserializer};

    struct Object<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for Object<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map))
        }
    }

    impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Object<T> {
        type Value = T;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
            d.deserialize_map(self)
        }
    }

    /// A JSON object.
    pub fn required<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
        d.deserialize_map(Object(PhantomData))
    }

    struct Optional<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for Optional<T> {
        type Value = Option<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object or null")
        }

        fn visit_none<E>(self) -> Result<Option<T>, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Option<T>, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
            required(d).map(Some)
        }
    }

    /// A JSON object or null.
    pub fn optional<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        d.deserialize_option(Optional(PhantomData))
    }

    struct List<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for List<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of JSON objects")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(v) = seq.next_element_seed(Object(PhantomData))? {
                out.push(v);
            }
            Ok(out)
        }
    }

    /// An array of JSON objects.
    pub fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_seq(List(PhantomData))
    }
}

/// Ship-to of a request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipToRequest {
    /// A ship-to id of the customer.
    #[serde(default)]
    pub ship_to_id: Option<String>,
    /// Receiving party or attention line.
    #[serde(default)]
    pub name: Option<String>,
    /// A one-time address.
    #[serde(default, deserialize_with = "object::optional")]
    pub address: Option<AddressRequest>,
}

/// A postal address.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressRequest {
    /// First line.
    pub line1: String,
    /// Second line.
    #[serde(default)]
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// Region code.
    #[serde(default)]
    pub region: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: String,
}

/// An order line of a request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineRequest {
    /// The submitter's own line id.
    #[serde(default)]
    pub partner_line_id: Option<String>,
    /// Our SKU.
    #[serde(default)]
    pub sku: Option<String>,
    /// The buyer's part number.
    #[serde(default)]
    pub buyer_part_number: Option<String>,
    /// Our part number as the buyer quotes it.
    #[serde(default)]
    pub vendor_part_number: Option<String>,
    /// GTIN / UPC.
    #[serde(default)]
    pub gtin: Option<String>,
    /// Quantity in `unit`.
    pub quantity: f64,
    /// Unit code (EA, CS, ...).
    pub unit: String,
    /// Expected price per `unit`.
    #[serde(default, deserialize_with = "object::optional")]
    pub submitted_unit_price: Option<MoneyRequest>,
}

/// An amount of money.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoneyRequest {
    /// Minor units.
    pub amount_minor: i64,
    /// ISO 4217 currency.
    pub currency: String,
}

/// One problem with a request (the shared error shape's `errors[]`).
pub use dsync_service::http::FieldError;

fn err(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
    FieldError::new(field, reason)
}

fn check_text(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) {
    if value.trim().is_empty() {
        errors.push(err(field, "must not be empty"));
    } else if value.chars().count() > max {
        errors.push(err(field, format!("must be at most {max} characters")));
    } else if value.chars().any(char::is_control) {
        errors.push(err(field, "must not contain control characters"));
    }
}

fn check_opt(errors: &mut Vec<FieldError>, field: &str, value: Option<&String>, max: usize) {
    if let Some(v) = value {
        check_text(errors, field, v, max);
    }
}

fn is_code(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_uppercase())
}

impl OrderRequest {
    /// Every problem with the request (empty when valid).
    pub fn validate(&self, max_lines: usize) -> Vec<FieldError> {
        let mut e = Vec::new();
        check_text(&mut e, "customer_id", &self.customer_id, 64);
        check_opt(
            &mut e,
            "customer_po_number",
            self.customer_po_number.as_ref(),
            64,
        );
        if !is_code(&self.currency, 3) {
            e.push(err(
                "currency",
                "must be an ISO 4217 code of 3 upper-case letters",
            ));
        }
        if let (Some(r), Some(c)) = (self.requested_ship_date, self.cancel_after_date) {
            if r > c {
                e.push(err(
                    "requested_ship_date",
                    "must not be after cancel_after_date",
                ));
            }
        }
        if let Some(st) = &self.ship_to {
            check_opt(&mut e, "ship_to.ship_to_id", st.ship_to_id.as_ref(), 64);
            check_opt(&mut e, "ship_to.name", st.name.as_ref(), 120);
            if let Some(a) = &st.address {
                check_text(&mut e, "ship_to.address.line1", &a.line1, 120);
                check_opt(&mut e, "ship_to.address.line2", a.line2.as_ref(), 120);
                check_text(&mut e, "ship_to.address.city", &a.city, 80);
                check_opt(&mut e, "ship_to.address.region", a.region.as_ref(), 8);
                check_opt(
                    &mut e,
                    "ship_to.address.postal_code",
                    a.postal_code.as_ref(),
                    16,
                );
                if !is_code(&a.country_code, 2) {
                    e.push(err(
                        "ship_to.address.country_code",
                        "must be an ISO 3166-1 alpha-2 code of 2 upper-case letters",
                    ));
                }
            }
            if st.ship_to_id.is_some() && st.address.is_some() {
                e.push(err(
                    "ship_to",
                    "give either ship_to_id (a known ship-to) or address (a one-time address), not both",
                ));
            }
        }
        if self.lines.is_empty() {
            e.push(err("lines", "must contain at least one line"));
        } else if self.lines.len() > max_lines {
            e.push(err(
                "lines",
                format!("must contain at most {max_lines} lines"),
            ));
        }
        for (i, l) in self.lines.iter().enumerate() {
            let f = |name: &str| format!("lines[{i}].{name}");
            if !l.quantity.is_finite() || l.quantity <= 0.0 {
                e.push(err(f("quantity"), "must be greater than 0"));
            }
            if l.unit.is_empty()
                || l.unit.len() > 8
                || !l.unit.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                e.push(err(
                    f("unit"),
                    "must be a unit code of 1 to 8 letters or digits",
                ));
            }
            check_opt(
                &mut e,
                &f("partner_line_id"),
                l.partner_line_id.as_ref(),
                64,
            );
            check_opt(&mut e, &f("sku"), l.sku.as_ref(), 64);
            check_opt(
                &mut e,
                &f("buyer_part_number"),
                l.buyer_part_number.as_ref(),
                64,
            );
            check_opt(
                &mut e,
                &f("vendor_part_number"),
                l.vendor_part_number.as_ref(),
                64,
            );
            check_opt(&mut e, &f("gtin"), l.gtin.as_ref(), 14);
            if l.sku.is_none() && l.vendor_part_number.is_none() && l.gtin.is_none() {
                e.push(err(
                    f("sku"),
                    "one of sku, vendor_part_number or gtin is required",
                ));
            }
            if let Some(p) = &l.submitted_unit_price {
                if p.amount_minor < 0 {
                    e.push(err(
                        f("submitted_unit_price.amount_minor"),
                        "must not be negative",
                    ));
                }
                if p.currency != self.currency {
                    e.push(err(
                        f("submitted_unit_price.currency"),
                        "must be the order currency",
                    ));
                }
            }
        }
        e
    }

    /// The `OrderSubmitted` event of the request.
    pub fn to_submission(
        &self,
        idempotency_key: &str,
        submitted_by: &str,
        event_id: &str,
        correlation_id: &str,
    ) -> OrderSubmitted {
        let s = |v: &Option<String>| v.as_deref().map(CompactString::from);
        OrderSubmitted {
            metadata: EventMetadata {
                event_id: event_id.into(),
                event_type: OrderSubmitted::RECORD_NAME.into(),
                occurred_at: Utc::now(),
                correlation_id: correlation_id.into(),
                causation_id: None,
                source_system: SOURCE_SYSTEM.into(),
                schema_version: i32::try_from(OrderSubmitted::SCHEMA_VERSION).unwrap_or(1),
            },
            order_id: order_id_for(&self.customer_id, idempotency_key).into(),
            idempotency_key: idempotency_key.into(),
            channel: match self.channel {
                RequestChannel::Http => OrderChannel::Http,
                RequestChannel::Ecommerce => OrderChannel::Ecommerce,
                RequestChannel::Crm => OrderChannel::Crm,
            },
            customer_id: self.customer_id.as_str().into(),
            customer_po_number: s(&self.customer_po_number),
            partner_po: None,
            ship_to: self
                .ship_to
                .as_ref()
                .map(|st| OrderShipTo {
                    ship_to_id: s(&st.ship_to_id),
                    partner_location_id: None,
                    name: s(&st.name),
                    address: st.address.as_ref().map(|a| Address {
                        line1: a.line1.as_str().into(),
                        line2: s(&a.line2),
                        city: a.city.as_str().into(),
                        region: s(&a.region),
                        postal_code: s(&a.postal_code),
                        country_code: a.country_code.as_str().into(),
                    }),
                })
                .unwrap_or_default(),
            requested_ship_date: self.requested_ship_date,
            cancel_after_date: self.cancel_after_date,
            currency: self.currency.as_str().into(),
            lines: self
                .lines
                .iter()
                .enumerate()
                .map(|(i, l)| SubmittedOrderLine {
                    line_number: i32::try_from(i + 1).unwrap_or(i32::MAX),
                    partner_line_id: s(&l.partner_line_id),
                    sku: s(&l.sku),
                    buyer_part_number: s(&l.buyer_part_number),
                    vendor_part_number: s(&l.vendor_part_number),
                    gtin: s(&l.gtin),
                    quantity: l.quantity,
                    unit: l.unit.as_str().into(),
                    submitted_unit_price: l.submitted_unit_price.as_ref().map(|p| Money {
                        amount_minor: p.amount_minor,
                        currency: p.currency.as_str().into(),
                    }),
                })
                .collect(),
            submitted_by: Some(submitted_by.into()),
        }
    }
}

/// The intake status of an order (`GET /v1/orders/{id}` and the `POST` answers).
#[derive(Debug, Clone, Serialize)]
pub struct OrderStatusBody {
    /// Order id.
    pub order_id: String,
    /// `ACCEPTED`, `REJECTED` or `PENDING`.
    pub status: &'static str,
    /// Where to read the status.
    pub status_url: String,
    /// Customer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<&'static str>,
    /// Idempotency key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The customer's PO number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_po_number: Option<String>,
    /// When the outcome was decided (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// Event id of the outcome event on `orders.events`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Correlation id of the order's flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Accepted: the resolved ship-to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ship_to: Option<OrderShipTo>,
    /// Accepted: the ATP policy applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub atp_policy: Option<&'static str>,
    /// Accepted: the lines with resolved prices and base-unit quantities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<AcceptedOrderLine>>,
    /// Accepted: order total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_total: Option<Money>,
    /// Accepted: credit exposure after this order (when the customer has a limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_exposure_after: Option<Money>,
    /// Rejected: every reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<RejectionReason>>,
}

/// The status URL of an order.
pub fn status_url(order_id: &str) -> String {
    format!("/v1/orders/{order_id}")
}

impl OrderStatusBody {
    /// An order whose outcome is not known yet.
    pub fn pending(order_id: &str) -> Self {
        Self {
            order_id: order_id.to_owned(),
            status: "PENDING",
            status_url: status_url(order_id),
            customer_id: None,
            channel: None,
            idempotency_key: None,
            customer_po_number: None,
            decided_at: None,
            event_id: None,
            correlation_id: None,
            ship_to: None,
            atp_policy: None,
            lines: None,
            order_total: None,
            credit_exposure_after: None,
            reasons: None,
        }
    }

    /// A decided order.
    pub fn of(rec: &OrderRecord) -> Self {
        let mut b = Self::pending(&rec.order_id);
        b.status = rec.status();
        b.customer_id = Some(rec.customer_id.to_string());
        b.channel = Some(rec.channel.as_str());
        b.idempotency_key = Some(rec.idempotency_key.to_string());
        let meta = match &rec.outcome {
            Outcome::Accepted(a) => {
                b.customer_po_number = a.customer_po_number.as_deref().map(str::to_owned);
                b.ship_to = Some(a.ship_to.clone());
                b.atp_policy = Some(a.atp_policy.as_str());
                b.lines = Some(a.lines.clone());
                b.order_total = Some(a.order_total.clone());
                b.credit_exposure_after = a.credit_exposure_after.clone();
                &a.metadata
            }
            Outcome::Rejected(r) => {
                b.customer_po_number = r.customer_po_number.as_deref().map(str::to_owned);
                b.reasons = Some(r.reasons.clone());
                &r.metadata
            }
        };
        b.decided_at = Some(
            meta.occurred_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
        b.event_id = Some(meta.event_id.to_string());
        b.correlation_id = Some(meta.correlation_id.to_string());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(v: serde_json::Value) -> OrderRequest {
        serde_json::from_value(v).expect("parse")
    }

    #[test]
    fn validation_reports_every_field() {
        let r = request(json!({
            "customer_id": "",
            "currency": "usd",
            "ship_to": {"ship_to_id": "S1", "address": {"line1": "x", "city": "y", "country_code": "USA"}},
            "lines": [
                {"sku": "A", "quantity": 0, "unit": "E A"},
                {"quantity": 1, "unit": "EA", "submitted_unit_price": {"amount_minor": -1, "currency": "EUR"}}
            ]
        }));
        let fields: Vec<String> = r.validate(10).into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "customer_id",
                "currency",
                "ship_to.address.country_code",
                "ship_to",
                "lines[0].quantity",
                "lines[0].unit",
                "lines[1].sku",
                "lines[1].submitted_unit_price.amount_minor",
                "lines[1].submitted_unit_price.currency",
            ]
        );
        let too_many = request(json!({
            "customer_id": "C1", "currency": "USD",
            "lines": [{"sku": "A", "quantity": 1, "unit": "EA"}, {"sku": "B", "quantity": 1, "unit": "EA"}]
        }));
        assert_eq!(too_many.validate(1)[0].field, "lines");
        assert!(too_many.validate(2).is_empty());
    }

    #[test]
    fn objects_must_be_json_objects() {
        let parse = |v: serde_json::Value| serde_json::from_value::<OrderBody>(v).map(|b| b.0);
        let line = json!({"sku": "A", "quantity": 1, "unit": "EA"});
        let ok = json!({"customer_id": "C1", "currency": "USD", "lines": [line.clone()]});
        assert!(parse(ok.clone()).is_ok());
        let mut with_ship_to = ok.clone();
        with_ship_to["ship_to"] = json!({"ship_to_id": "S1"});
        assert!(parse(with_ship_to.clone()).is_ok());
        with_ship_to["ship_to"] = json!(null);
        assert!(parse(with_ship_to.clone()).is_ok(), "null is no ship-to");
        for (path, array) in [
            ("ship_to", json!([null, null, null])),
            ("ship_to", json!(["S1"])),
        ] {
            let mut bad = ok.clone();
            bad[path] = array;
            let err = parse(bad)
                .expect_err("an array is not an object")
                .to_string();
            assert!(err.contains("a JSON object"), "{err}");
        }
        let mut bad = ok.clone();
        bad["lines"] = json!([["A", null, null, null, null, 1, "EA", null]]);
        assert!(parse(bad).is_err(), "a line as an array");
        let mut bad = ok.clone();
        bad["lines"][0]["submitted_unit_price"] = json!([100, "USD"]);
        assert!(parse(bad).is_err(), "a price as an array");
        let mut bad = ok.clone();
        bad["ship_to"] = json!({"address": ["x", null, "y", null, null, "US"]});
        assert!(parse(bad).is_err(), "an address as an array");
        assert!(parse(json!(["C1", "HTTP", null, null, null, null, "USD", []])).is_err());
    }

    #[test]
    fn a_request_becomes_a_submission() {
        let r = request(json!({
            "customer_id": "C1", "currency": "USD", "channel": "ECOMMERCE",
            "customer_po_number": "PO-9", "requested_ship_date": "2026-07-01",
            "lines": [{"sku": "A", "quantity": 2, "unit": "CS", "partner_line_id": "L-1"},
                      {"gtin": "0001", "quantity": 1, "unit": "EA"}]
        }));
        let s = r.to_submission("K-1", "shop", "e-1", "c-1");
        assert_eq!(s.order_id, order_id_for("C1", "K-1"));
        assert_eq!(s.channel, OrderChannel::Ecommerce);
        assert_eq!(s.metadata.event_type, "OrderSubmitted");
        assert_eq!(s.metadata.correlation_id, "c-1");
        assert_eq!(s.lines[1].line_number, 2);
        assert_eq!(s.lines[0].partner_line_id.as_deref(), Some("L-1"));
        assert_eq!(s.requested_ship_date, NaiveDate::from_ymd_opt(2026, 7, 1));
        assert_eq!(s.submitted_by.as_deref(), Some("shop"));
    }
}
