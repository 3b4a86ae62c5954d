//! The sample orders (`orders.jsonl`): [`OrderSubmitted`] events, written in the readable form
//! `dsync produce` reads ([`Model::readable_root`]: fields that are null left out, dates as
//! text). The metadata block names only `source_system` (and `occurred_at` for the two late
//! resubmissions): `dsync produce` fills in the rest when the file is loaded, the event id from
//! the line's text, so loading the file twice gives the same ids.

use std::path::Path;

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use dsync_events::{
    order_id_for as order_id, Address, Event as _, EventMetadata, Money, OrderChannel, OrderShipTo,
    OrderSubmitted, PartnerPoReference, SubmittedOrderLine,
};
use serde_json::{Map, Value};

use super::master::{expected_price, Contracts, Customer, Item, Unit};
use super::Rng;
use crate::avro::{format_timestamp, Model};
use crate::CliError;

/// One line of the file.
#[derive(Debug, Clone)]
struct SampleOrder {
    event: OrderSubmitted,
    /// `metadata.occurred_at` when the file gives it (else the load time is used).
    occurred_at: Option<DateTime<Utc>>,
}

impl From<OrderSubmitted> for SampleOrder {
    fn from(event: OrderSubmitted) -> Self {
        Self {
            event,
            occurred_at: None,
        }
    }
}

fn usd(cents: i64) -> Money {
    Money {
        amount_minor: cents,
        currency: "USD".into(),
    }
}

fn line_number(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A line by SKU, without a submitted price.
fn bare_line(n: usize, sku: &str, quantity: f64, unit: &str) -> SubmittedOrderLine {
    SubmittedOrderLine {
        line_number: line_number(n),
        sku: Some(sku.into()),
        quantity,
        unit: unit.into(),
        ..Default::default()
    }
}

/// A line by SKU.
fn line(n: usize, it: &Item, u: &Unit, quantity: f64, price: Option<i64>) -> SubmittedOrderLine {
    SubmittedOrderLine {
        submitted_unit_price: price.map(usd),
        ..bare_line(n, &it.sku, quantity, u.code)
    }
}

fn ship_to_id(id: Option<&str>) -> OrderShipTo {
    OrderShipTo {
        ship_to_id: id.map(Into::into),
        ..Default::default()
    }
}

/// An order in USD, with no ship-to and no lines yet.
fn order(source_system: &str, channel: OrderChannel, c: &Customer, key: &str) -> OrderSubmitted {
    OrderSubmitted {
        metadata: EventMetadata {
            source_system: source_system.into(),
            ..Default::default()
        },
        order_id: order_id(&c.id, key).into(),
        idempotency_key: key.into(),
        channel,
        customer_id: c.id.as_str().into(),
        currency: "USD".into(),
        ..Default::default()
    }
}

/// A web-shop order to the customer's first ship-to; `None` without a customer.
fn web_order(
    key: &str,
    c: Option<&Customer>,
    lines: Vec<SubmittedOrderLine>,
) -> Option<OrderSubmitted> {
    let c = c?;
    Some(OrderSubmitted {
        ship_to: ship_to_id(c.ship_tos.first().map(|s| s.id.as_str())),
        lines,
        submitted_by: Some(format!("web:{}", c.id.to_lowercase()).into()),
        ..order("order-intake", OrderChannel::Ecommerce, c, key)
    })
}

/// 30 orders from the API, the web shop and the CRM.
fn regular_orders(
    rng: &mut Rng,
    sellable: &[&Item],
    good: &[&Customer],
    contracts: &Contracts,
) -> Vec<SampleOrder> {
    // (channel, idempotency key prefix, submitted_by prefix); order-intake publishes them all.
    let channels = [
        (OrderChannel::Http, "API", "api-client:"),
        (OrderChannel::Ecommerce, "WEB", "web:"),
        (OrderChannel::Crm, "CRM", "crm:"),
    ];
    let mut out = Vec::new();
    for n in 0..30usize {
        let c = good[(rng.next() % good.len() as u64) as usize];
        let (channel, prefix, by) = channels[n % 3];
        let key = format!("{prefix}-{}", 100_200 + n * 17);
        let ship = c
            .ship_tos
            .iter()
            .filter(|s| s.active)
            .nth(n % 2)
            .or_else(|| c.ship_tos.first());
        let nlines = rng.range(1, 5) as usize;
        let mut lines = Vec::new();
        let mut idx: Vec<usize> = (0..sellable.len()).collect();
        rng.shuffle(&mut idx);
        // Contract customers order their contract items first.
        let contract_skus: Vec<&str> = contracts
            .get(&c.id)
            .map(|v| v.iter().map(|(s, _, _)| s.as_str()).collect())
            .unwrap_or_default();
        let mut picks: Vec<&Item> = sellable
            .iter()
            .filter(|i| contract_skus.contains(&i.sku.as_str()))
            .take(nlines / 2)
            .copied()
            .collect();
        picks.extend(idx.iter().map(|i| sellable[*i]).take(nlines - picks.len()));
        for (ln, it) in picks.iter().enumerate() {
            let Some(u) = (if rng.chance(25) {
                it.units
                    .iter()
                    .find(|u| u.orderable && u.code == it.base_unit)
            } else {
                None
            })
            .or_else(|| it.case_unit()) else {
                continue;
            };
            let qty = if u.factor == 1 {
                rng.range(1, 24)
            } else {
                rng.range(1, 10)
            } as f64;
            let price = rng.chance(60).then(|| expected_price(it, u, c, contracts));
            lines.push(line(ln + 1, it, u, qty, price));
        }
        let mut o = OrderSubmitted {
            ship_to: ship_to_id(ship.map(|s| s.id.as_str())),
            lines,
            submitted_by: Some(format!("{by}{}", c.id.to_lowercase()).into()),
            ..order("order-intake", channel, c, &key)
        };
        if rng.chance(60) {
            o.customer_po_number = Some(format!("PO-{}", rng.range(10_000, 99_999)).into());
        }
        out.push(o.into());
    }
    out
}

/// Two EDI orders per chain: store numbers, GTINs and part numbers instead of SKUs.
fn edi_orders(
    rng: &mut Rng,
    sellable: &[&Item],
    customers: &[Customer],
    contracts: &Contracts,
) -> Vec<SampleOrder> {
    let mut out = Vec::new();
    for (k, c) in customers
        .iter()
        .filter(|c| c.edi_partner.is_some())
        .enumerate()
    {
        let partner = c.edi_partner.unwrap_or_default();
        for m in 0..2usize {
            let po = format!("45{:08}", 12_345 + k * 100 + m);
            let key = format!("edi:{partner}:{po}");
            let store = c
                .ship_tos
                .iter()
                .filter(|s| s.active)
                .nth(1 + m)
                .or_else(|| c.ship_tos.first());
            let mut idx: Vec<usize> = (0..sellable.len()).collect();
            rng.shuffle(&mut idx);
            let mut lines = Vec::new();
            for (ln, i) in idx.iter().take(rng.range(2, 6) as usize).enumerate() {
                let it = sellable[*i];
                let Some(u) = it.case_unit() else { continue };
                let mut l = SubmittedOrderLine {
                    line_number: line_number(ln + 1),
                    partner_line_id: Some(format!("{:03}", ln + 1).into()),
                    buyer_part_number: Some(format!("{partner}-{}", 70_000 + i).into()),
                    quantity: rng.range(2, 30) as f64,
                    unit: u.code.into(),
                    submitted_unit_price: Some(usd(expected_price(it, u, c, contracts))),
                    ..Default::default()
                };
                match ln % 3 {
                    0 => l.sku = Some(it.sku.as_str().into()),
                    1 => l.gtin = u.gtin.as_deref().map(Into::into),
                    _ => l.vendor_part_number = Some(it.sku.as_str().into()),
                }
                lines.push(l);
            }
            let control = 1_200 + k * 10 + m;
            out.push(
                OrderSubmitted {
                    customer_po_number: Some(po.as_str().into()),
                    partner_po: Some(PartnerPoReference {
                        partner_id: partner.into(),
                        po_number: po.as_str().into(),
                        po_date: NaiveDate::from_ymd_opt(2026, 11, 20),
                        interchange_control_number: Some(format!("{control:09}").into()),
                        group_control_number: Some(format!("{control}").into()),
                        transaction_set_control_number: Some(format!("{:04}", m + 1).into()),
                        ..Default::default()
                    }),
                    ship_to: OrderShipTo {
                        partner_location_id: store
                            .and_then(|s| s.edi_location.as_deref())
                            .map(Into::into),
                        ..Default::default()
                    },
                    lines,
                    ..order("edi-gateway", OrderChannel::Edi, c, &key)
                }
                .into(),
            );
        }
    }
    out
}

/// The cases validation must catch, one order each (see data/sample/README.md).
fn special_orders(
    items: &[Item],
    sellable: &[&Item],
    customers: &[Customer],
    good: &[&Customer],
    contracts: &Contracts,
) -> Vec<SampleOrder> {
    let any_good = good.first().copied();
    let on_hold = customers.iter().find(|c| c.on_hold.is_some() && c.active);
    let inactive = customers.iter().find(|c| !c.active);
    let near_limit = customers.iter().find(|c| {
        c.active
            && c.on_hold.is_none()
            && c.credit_limit
                .is_some_and(|l| c.open_balance >= l * 90 / 100)
    });
    let case_only = sellable
        .iter()
        .find(|i| i.unit(i.base_unit).is_some_and(|u| !u.orderable) && i.case_unit().is_some())
        .copied();
    let discontinued = items
        .iter()
        .find(|i| i.status == "DISCONTINUED" && i.priced())
        .or_else(|| sellable.first().copied());
    let not_sellable = items.iter().find(|i| !i.sellable);
    let dear = sellable
        .iter()
        .max_by_key(|i| i.case_unit().map_or(0, |u| i.list_price(u)))
        .copied();
    let first = sellable.first().copied();
    let simple_line = |it: Option<&Item>, qty: f64| -> Vec<SubmittedOrderLine> {
        it.and_then(|it| it.case_unit().map(|u| line(1, it, u, qty, None)))
            .into_iter()
            .collect()
    };
    let price_case = match (any_good, first) {
        (Some(c), Some(it)) => it.case_unit().map(|u| {
            let low = expected_price(it, u, c, contracts) * 80 / 100;
            vec![line(1, it, u, 4.0, Some(low.max(1)))]
        }),
        _ => None,
    };
    [
        web_order("WEB-HOLD-1", on_hold, simple_line(first, 2.0)),
        web_order("WEB-INACTIVE-1", inactive, simple_line(first, 1.0)),
        web_order("WEB-CREDIT-1", near_limit, simple_line(dear, 400.0)),
        web_order(
            "WEB-UNKNOWN-SKU-1",
            any_good,
            vec![bare_line(1, "CHM-9999", 1.0, "CS")],
        ),
        web_order(
            "WEB-UNKNOWN-UNIT-1",
            any_good,
            first
                .map(|it| bare_line(1, &it.sku, 3.0, "DZ"))
                .into_iter()
                .collect(),
        ),
        web_order(
            "WEB-EACH-OF-CASE-ONLY-1",
            any_good,
            case_only
                .map(|it| bare_line(1, &it.sku, 5.0, it.base_unit))
                .into_iter()
                .collect(),
        ),
        web_order(
            "WEB-FRACTION-1",
            any_good,
            case_only
                .and_then(|it| it.case_unit().map(|u| line(1, it, u, 0.3, None)))
                .into_iter()
                .collect(),
        ),
        price_case.and_then(|lines| web_order("WEB-PRICE-1", any_good, lines)),
        web_order(
            "WEB-DISCONTINUED-1",
            any_good,
            simple_line(discontinued, 1.0),
        ),
        web_order(
            "WEB-NOT-SELLABLE-1",
            any_good,
            simple_line(not_sellable, 1.0),
        ),
        web_order("WEB-UNKNOWN-SHIPTO-1", any_good, simple_line(first, 1.0)).map(|o| {
            OrderSubmitted {
                ship_to: ship_to_id(Some("NO-SUCH-SHIPTO")),
                ..o
            }
        }),
        web_order("WEB-ONE-TIME-ADDRESS-1", any_good, simple_line(first, 1.0)).map(|o| {
            OrderSubmitted {
                ship_to: OrderShipTo {
                    name: Some("Pop-up event tent".into()),
                    address: Some(Address {
                        line1: "200 Fairgrounds Rd".into(),
                        line2: None,
                        city: "Austin".into(),
                        region: Some("TX".into()),
                        postal_code: Some("78741".into()),
                        country_code: "US".into(),
                    }),
                    ..Default::default()
                },
                ..o
            }
        }),
        web_order("WEB-EXPIRED-WINDOW-1", any_good, simple_line(first, 1.0)).map(|o| {
            OrderSubmitted {
                cancel_after_date: NaiveDate::from_ymd_opt(2026, 1, 15),
                ..o
            }
        }),
        web_order("WEB-CURRENCY-1", any_good, simple_line(first, 1.0)).map(|o| OrderSubmitted {
            currency: "CAD".into(),
            ..o
        }),
    ]
    .into_iter()
    .flatten()
    .map(SampleOrder::from)
    .collect()
}

/// A retry of `first` (same key and content, sent later: a duplicate), then the same key with
/// different content (an idempotency key conflict).
fn resubmissions(first: &OrderSubmitted) -> [SampleOrder; 2] {
    let at = |h, m, s| Utc.with_ymd_and_hms(2026, 11, 21, h, m, s).single();
    let mut conflict = first.clone();
    if let Some(l) = conflict.lines.first_mut() {
        l.quantity += 5.0;
    }
    [
        SampleOrder {
            event: first.clone(),
            occurred_at: at(15, 4, 5),
        },
        SampleOrder {
            event: conflict,
            occurred_at: at(15, 9, 0),
        },
    ]
}

/// The line of `o` in the file.
fn to_line(model: &Model, o: &SampleOrder) -> Result<String, CliError> {
    let mut v = model.readable_root(serde_json::to_value(&o.event)?);
    let mut metadata = Map::new();
    metadata.insert(
        "source_system".into(),
        Value::from(o.event.metadata.source_system.as_str()),
    );
    if let Some(t) = o.occurred_at {
        metadata.insert("occurred_at".into(), Value::from(format_timestamp(t)));
    }
    if let Value::Object(obj) = &mut v {
        obj.insert("metadata".into(), Value::Object(metadata));
    }
    Ok(serde_json::to_string(&v)?)
}

pub(super) fn orders_jsonl(
    out: &Path,
    rng: &mut Rng,
    items: &[Item],
    customers: &[Customer],
    contracts: &Contracts,
) -> Result<usize, CliError> {
    let sellable: Vec<&Item> = items
        .iter()
        .filter(|i| i.priced() && i.status == "ACTIVE")
        .collect();
    let good: Vec<&Customer> = customers
        .iter()
        .filter(|c| {
            c.active
                && c.on_hold.is_none()
                && c.edi_partner.is_none()
                && c.credit_limit.is_none_or(|l| c.open_balance < l * 80 / 100)
        })
        .collect();
    let mut orders = regular_orders(rng, &sellable, &good, contracts);
    orders.extend(edi_orders(rng, &sellable, customers, contracts));
    orders.extend(special_orders(
        items, &sellable, customers, &good, contracts,
    ));
    if let Some(first) = orders.first().map(|o| o.event.clone()) {
        orders.extend(resubmissions(&first));
    }
    let model = Model::parse(OrderSubmitted::SCHEMA_JSON).map_err(CliError::Usage)?;
    let mut text = String::new();
    for o in &orders {
        text.push_str(&to_line(&model, o)?);
        text.push('\n');
    }
    let path = out.join("orders.jsonl");
    std::fs::write(&path, text)
        .map_err(|e| CliError::io(format!("writing {}", path.display()), e))?;
    Ok(orders.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_only_what_the_order_sets() {
        let model = Model::parse(OrderSubmitted::SCHEMA_JSON).expect("schema");
        let event = OrderSubmitted {
            metadata: EventMetadata {
                source_system: "order-intake".into(),
                ..Default::default()
            },
            order_id: "o-1".into(),
            idempotency_key: "WEB-1".into(),
            channel: OrderChannel::Ecommerce,
            customer_id: "C1".into(),
            currency: "USD".into(),
            ship_to: ship_to_id(Some("C1-ST01")),
            cancel_after_date: NaiveDate::from_ymd_opt(2026, 1, 15),
            lines: vec![SubmittedOrderLine {
                submitted_unit_price: Some(usd(1250)),
                ..bare_line(1, "CHM-1001", 2.0, "CS")
            }],
            ..Default::default()
        };
        let mut o = SampleOrder::from(event);
        assert_eq!(
            to_line(&model, &o).expect("line"),
            r#"{"cancel_after_date":"2026-01-15","channel":"ECOMMERCE","currency":"USD","customer_id":"C1","idempotency_key":"WEB-1","lines":[{"line_number":1,"quantity":2.0,"sku":"CHM-1001","submitted_unit_price":{"amount_minor":1250,"currency":"USD"},"unit":"CS"}],"metadata":{"source_system":"order-intake"},"order_id":"o-1","ship_to":{"ship_to_id":"C1-ST01"}}"#
        );
        o.occurred_at = Utc.with_ymd_and_hms(2026, 11, 21, 15, 4, 5).single();
        let line: Value = serde_json::from_str(&to_line(&model, &o).expect("line")).expect("json");
        assert_eq!(
            line["metadata"],
            serde_json::json!({"source_system": "order-intake", "occurred_at": "2026-11-21T15:04:05Z"})
        );
    }
}
