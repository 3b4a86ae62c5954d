//! Round trips: 850 -> typed -> 855 -> parse back; any interchange -> rendered with other
//! delimiters -> parsed equal; validation report -> 997 -> parsed back to the same codes.

mod common;

use common::{load, summary};
use dsync_x12::ack::build_997;
use dsync_x12::poack855::{build_855, LineDecision, PoAckDecision};
use dsync_x12::{
    interchanges, parse_all, validate, Date, Decimal, Document, Interchange, InterchangeEnvelope,
    InterchangeWriter, IsaVersion, LineEnding, LineStatus, OwnedSegment, PoAckType, SegmentWriter,
    Separators, Time, Usage,
};

fn envelope(version: IsaVersion, control: u32) -> InterchangeEnvelope {
    InterchangeEnvelope::new(
        ("ZZ", "DISTSYNC"),
        ("ZZ", "BUYERCO"),
        Date::new(2024, 1, 16).expect("date"),
        Time::new(9, 30, None).expect("time"),
        version,
        control,
        Usage::Production,
    )
}

#[test]
fn po_850_to_855_and_back() {
    for (file, seps, gs08, isa_version) in [
        (
            "01_4010_star_colon_tilde.x12",
            Separators::STANDARD_00401,
            "004010",
            IsaVersion::V00401,
        ),
        (
            "02_5010_pipe_gt_tilde_caret_crlf.x12",
            Separators {
                element: b'|',
                component: b'>',
                segment: b'\n',
                repetition: Some(b'^'),
            },
            "005010",
            IsaVersion::V00501,
        ),
    ] {
        let input = load(file);
        let (ics, _) = parse_all(&input);
        let v = validate(&ics[0]);
        let Some(Some(Document::PurchaseOrder(po))) = v.groups[0].documents.first() else {
            panic!("{file}: no 850");
        };
        let decision = PoAckDecision {
            ack_type: PoAckType::AcknowledgeWithExceptionDetail,
            ack_date: Date::new(2024, 1, 16).expect("date"),
            lines: vec![
                LineDecision::new(LineStatus::Accepted),
                LineDecision {
                    status: LineStatus::Backordered,
                    quantity: Some(Decimal::from_int(1)),
                    unit: None,
                    date: Some(("068".into(), Date::new(2024, 2, 1).expect("date"))),
                },
            ],
        };
        let body = build_855(po, &decision).expect("855");
        let env = envelope(isa_version, 900);
        let line_ending = if seps.segment == b'\n' {
            LineEnding::None
        } else {
            LineEnding::CrLf
        };
        let mut w = InterchangeWriter::begin(&env, seps, line_ending).expect("isa");
        w.begin_group(&dsync_x12::GroupEnvelope {
            functional_id: "PR".into(),
            sender: "DISTSYNC".into(),
            receiver: "BUYERCO".into(),
            date: env.date,
            time: env.time,
            control_number: 900,
            version: gs08.into(),
        })
        .expect("gs");
        w.transaction_set("855", 1, None, &body).expect("st");
        let out = w.finish().expect("iea");

        let (back, err) = parse_all(&out);
        assert!(err.is_none(), "{file}: {err:?}");
        let v2 = validate(&back[0]);
        assert!(v2.report.is_accepted(), "{:?}", v2.report);
        assert_eq!(
            summary(&out),
            vec![
                "TA1 000000900 A 000".to_string(),
                "AK9 PR 900 A 1 1 1".to_string(),
                "AK5 855 0001 A".to_string()
            ]
        );
        let Some(Some(Document::PurchaseOrderAck(ack))) = v2.groups[0].documents.first() else {
            panic!("no 855 back");
        };
        assert_eq!(ack.po_number, po.po_number);
        assert_eq!(ack.po_date, po.po_date);
        assert_eq!(ack.ack_type, PoAckType::AcknowledgeWithExceptionDetail);
        assert_eq!(ack.ack_date, Date::new(2024, 1, 16));
        assert_eq!(ack.lines.len(), po.lines.len());
        assert_eq!(ack.declared_line_count, Some(2));
        for (a, l) in ack.lines.iter().zip(&po.lines) {
            assert_eq!(a.line_number, l.line_number);
            assert_eq!(a.quantity, Some(l.quantity));
            assert_eq!(a.unit, Some(l.unit));
            assert_eq!(a.unit_price, l.unit_price);
            assert_eq!(a.product_ids, l.product_ids);
            assert_eq!(a.acks.len(), 1);
        }
        assert_eq!(ack.lines[0].acks[0].status, LineStatus::Accepted);
        assert_eq!(ack.lines[0].acks[0].quantity, Some(Decimal::from_int(12)));
        assert_eq!(ack.lines[1].acks[0].status, LineStatus::Backordered);
        assert_eq!(ack.lines[1].acks[0].quantity, Some(Decimal::from_int(1)));
        assert_eq!(ack.lines[1].acks[0].unit, Some("CA"));
        assert_eq!(ack.lines[1].acks[0].date_qualifier, Some("068"));
    }
}

#[test]
fn an_855_needs_one_decision_per_line() {
    let input = load("01_4010_star_colon_tilde.x12");
    let (ics, _) = parse_all(&input);
    let v = validate(&ics[0]);
    let Some(Some(Document::PurchaseOrder(po))) = v.groups[0].documents.first() else {
        panic!("no 850");
    };
    let mut d = PoAckDecision {
        ack_type: PoAckType::Accepted,
        ack_date: Date::new(2024, 1, 16).expect("date"),
        lines: vec![LineDecision::new(LineStatus::Accepted)],
    };
    assert!(build_855(po, &d).is_err());
    d.ack_type = PoAckType::RejectNoDetail;
    d.lines.clear();
    let body = build_855(po, &d).expect("855 without detail");
    assert_eq!(body.len(), 1);
}

/// Re-renders an interchange with other delimiters.
pub fn rerender(ic: &Interchange<'_>, seps: Separators, line_ending: LineEnding) -> Vec<u8> {
    let isa = &ic.isa;
    let env = InterchangeEnvelope {
        authorization_qualifier: isa.authorization_qualifier.into(),
        authorization: isa.authorization.trim_end().into(),
        security_qualifier: isa.security_qualifier.into(),
        security: isa.security.trim_end().into(),
        sender_qualifier: isa.sender_qualifier.into(),
        sender_id: isa.sender().into(),
        receiver_qualifier: isa.receiver_qualifier.into(),
        receiver_id: isa.receiver().into(),
        date: isa.parsed_date().expect("date"),
        time: isa.parsed_time().expect("time"),
        version: ic.version.expect("version"),
        control_number: isa.parsed_control_number().expect("control"),
        ack_requested: isa.wants_ta1(),
        usage: isa.parsed_usage().expect("usage"),
    };
    let mut out = env.render_isa(&seps).expect("isa");
    out.extend_from_slice(line_ending.bytes());
    let mut w = SegmentWriter::new(seps, line_ending).expect("writer");
    for g in &ic.groups {
        w.write(&OwnedSegment::from_segment(&g.gs)).expect("gs");
        for s in &g.sets {
            for seg in &s.segments {
                w.write(&OwnedSegment::from_segment(seg)).expect("seg");
            }
        }
        w.write(&OwnedSegment::from_segment(&g.ge.expect("ge")))
            .expect("ge");
    }
    w.write(&OwnedSegment::from_segment(&ic.iea.expect("iea")))
        .expect("iea");
    out.extend(w.into_bytes());
    out
}

fn owned(ic: &Interchange<'_>) -> Vec<OwnedSegment> {
    let mut v = Vec::new();
    for g in &ic.groups {
        v.push(OwnedSegment::from_segment(&g.gs).normalized());
        for s in &g.sets {
            v.extend(
                s.segments
                    .iter()
                    .map(|x| OwnedSegment::from_segment(x).normalized()),
            );
        }
    }
    v
}

#[test]
fn render_with_other_delimiters_parses_equal() {
    let targets = [
        (Separators::STANDARD_00501, LineEnding::None),
        (
            Separators {
                element: b'|',
                component: b'>',
                segment: b'~',
                repetition: Some(b'^'),
            },
            LineEnding::CrLf,
        ),
        (
            Separators {
                element: b'^',
                component: b'\\',
                segment: b'\n',
                repetition: Some(b'{'),
            },
            LineEnding::None,
        ),
        (
            Separators {
                element: 0x1d,
                component: 0x1f,
                segment: 0x1c,
                repetition: Some(0x1e),
            },
            LineEnding::Lf,
        ),
    ];
    for file in [
        "01_4010_star_colon_tilde.x12",
        "02_5010_pipe_gt_tilde_caret_crlf.x12",
        "03_4010_caret_elements_newline_terminator.x12",
        "04_5010_two_groups_five_sets.x12",
        "05_two_interchanges_different_delimiters.x12",
        "38_997_from_partner_for_our_855s.x12",
    ] {
        let input = load(file);
        for ic in interchanges(&input) {
            let ic = ic.expect("readable");
            for (seps, le) in targets {
                let out = rerender(&ic, seps, le);
                let again = interchanges(&out).next().expect("one").expect("readable");
                assert_eq!(again.separators.element, seps.element);
                assert_eq!(owned(&again), owned(&ic), "{file} with {seps:?}");
                assert_eq!(
                    summary(&out),
                    summary(ic.bytes(&input)),
                    "{file} with {seps:?}"
                );
            }
        }
    }
}

#[test]
fn validation_report_to_997_and_back() {
    for file in [
        "37_one_bad_set_among_good_ones.x12",
        "30_element_too_long_and_too_short.x12",
        "24_unrecognized_and_foreign_segments.x12",
        "14_ge_set_count_wrong.x12",
    ] {
        let input = load(file);
        let (ics, _) = parse_all(&input);
        let v = validate(&ics[0]);
        let report = &v.groups[0].report;
        let ack = build_997(report).expect("997");
        let version = if ack.version.starts_with("005010") {
            IsaVersion::V00501
        } else {
            IsaVersion::V00401
        };
        let seps = if version == IsaVersion::V00501 {
            Separators::STANDARD_00501
        } else {
            Separators::STANDARD_00401
        };
        let env = envelope(version, 77);
        let mut w = InterchangeWriter::begin(&env, seps, LineEnding::Lf).expect("isa");
        w.begin_group(&ack.group_envelope(env.date, env.time, 77))
            .expect("gs");
        w.transaction_set("997", 77, None, &ack.body).expect("st");
        let out = w.finish().expect("iea");
        let (back, _) = parse_all(&out);
        let v2 = validate(&back[0]);
        let Some(Some(Document::FunctionalAck(fa))) = v2.groups[0].documents.first() else {
            panic!("{file}: 997 not accepted: {:?}", v2.groups[0].report);
        };
        assert_eq!(fa.functional_id, report.functional_id);
        assert_eq!(fa.group_control_number, report.control_number);
        assert_eq!(fa.status, report.status);
        assert_eq!(fa.errors, report.errors);
        assert_eq!(
            (fa.included, fa.received, fa.accepted),
            (report.included, report.received, report.accepted)
        );
        assert_eq!(fa.sets.len(), report.sets.len());
        for (a, s) in fa.sets.iter().zip(&report.sets) {
            assert_eq!(a.control_number, s.control_number);
            assert_eq!(a.status, s.status);
            assert_eq!(a.errors, s.errors);
            assert_eq!(a.segment_errors.len(), s.segment_errors.len());
            for (x, y) in a.segment_errors.iter().zip(&s.segment_errors) {
                assert_eq!(x.segment_id, y.segment_id);
                assert_eq!(x.position, y.position);
                assert_eq!(x.code, Some(y.code));
                assert_eq!(
                    x.elements.iter().map(|e| e.code).collect::<Vec<_>>(),
                    y.elements.iter().map(|e| e.code).collect::<Vec<_>>()
                );
            }
        }
    }
}
