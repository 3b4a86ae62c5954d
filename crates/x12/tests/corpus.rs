//! One test per corpus file under testdata/inbound: the exact TA1 and 997 codes each one must
//! produce (see testdata/inbound/README.md for what each file tests).

mod common;

use common::{load, summary};
use dsync_x12::ack::{build_997, build_ta1, build_ta1_for_error};
use dsync_x12::{
    interchanges, parse_all, validate, Date, Decimal, Document, InterchangeEnvelope,
    InterchangeWriter, IsaVersion, LineEnding, Purpose, Separators, Time, Usage, X12Error,
};

fn expect(file: &str, expected: &[&str]) {
    let got = summary(&load(file));
    assert_eq!(got, expected, "{file}");
}

#[test]
fn c01_4010_star_colon_tilde() {
    expect(
        "01_4010_star_colon_tilde.x12",
        &[
            "TA1 000000101 A 000",
            "AK9 PO 101 A 1 1 1",
            "AK5 850 0001 A",
        ],
    );
    let input = load("01_4010_star_colon_tilde.x12");
    let (ics, err) = parse_all(&input);
    assert!(err.is_none());
    let v = validate(&ics[0]);
    let Some(Some(Document::PurchaseOrder(po))) = v.groups[0].documents.first() else {
        panic!("no purchase order");
    };
    assert_eq!(po.purpose, Purpose::Original);
    assert_eq!(po.order_type, "SA");
    assert_eq!(po.po_number, "PO-1");
    assert_eq!(po.po_date, Date::new(2024, 1, 15).expect("date"));
    assert_eq!(po.currency.map(|c| c.code), Some("USD"));
    assert_eq!(po.reference("DP").and_then(|r| r.value), Some("038"));
    assert_eq!(po.date("002").and_then(|d| d.date), Date::new(2024, 1, 22));
    let st = po.ship_to().expect("ship-to");
    assert_eq!((st.id_qualifier, st.id), (Some("92"), Some("0042")));
    assert_eq!(st.address, vec!["1200 COMMERCE WAY"]);
    assert_eq!(
        (st.city, st.state, st.postal_code, st.country),
        (Some("SPRINGFIELD"), Some("IL"), Some("62701"), Some("US"))
    );
    assert_eq!(po.bill_to().and_then(|p| p.name), Some("ACME RETAIL HQ"));
    assert_eq!(po.lines.len(), 2);
    let l = &po.lines[0];
    assert_eq!(l.line_number, Some("1"));
    assert_eq!(l.quantity, Decimal::from_int(12));
    assert_eq!(l.unit, "EA");
    assert_eq!(l.unit_price, Some(Decimal::new(425, 2)));
    assert_eq!(l.price_basis, Some("PE"));
    assert_eq!(l.buyer_part(), Some("ACM-1001"));
    assert_eq!(l.vendor_part(), Some("WID-4410"));
    assert_eq!(l.upc(), Some("012345678905"));
    assert_eq!(l.descriptions, vec!["WIDGET, BLUE, LARGE"]);
    assert_eq!(po.lines[1].unit, "CA");
    assert_eq!(po.declared_line_count, Some(2));
    assert_eq!(po.lines[0].position, 13);
    // ISA14 = 1: a TA1 is wanted, and it says accepted
    assert!(v.report.wants_ta1());
    let ta1 = build_ta1(&v.report);
    assert_eq!(ta1.id, "TA1");
    assert_eq!(
        ta1.elements
            .iter()
            .map(|e| e[0][0].as_str())
            .collect::<Vec<_>>(),
        vec!["000000101", "240115", "1030", "A", "000"]
    );
}

#[test]
fn c02_5010_pipe_gt_tilde_caret_crlf() {
    expect(
        "02_5010_pipe_gt_tilde_caret_crlf.x12",
        &[
            "TA1 000002001 A 000",
            "AK9 PO 2001 A 1 1 1",
            "AK5 850 200001 A",
        ],
    );
    let input = load("02_5010_pipe_gt_tilde_caret_crlf.x12");
    let ic = interchanges(&input).next().expect("one").expect("readable");
    assert_eq!(ic.version, Some(IsaVersion::V00501));
    assert_eq!(
        ic.separators,
        Separators {
            element: b'|',
            component: b'>',
            segment: b'~',
            repetition: Some(b'^')
        }
    );
    assert_eq!(ic.groups[0].header.version, "005010");
}

#[test]
fn c03_4010_caret_elements_newline_terminator() {
    expect(
        "03_4010_caret_elements_newline_terminator.x12",
        &[
            "TA1 000000301 A 000",
            "AK9 PO 301 A 1 1 1",
            "AK5 850 0301 A",
        ],
    );
    let input = load("03_4010_caret_elements_newline_terminator.x12");
    let ic = interchanges(&input).next().expect("one").expect("readable");
    assert_eq!(ic.separators.segment, b'\n');
    assert_eq!(ic.separators.element, b'^');
    assert!(!validate(&ic).report.wants_ta1());
    assert_eq!(ic.groups[0].header.version, "004010VICS");
}

#[test]
fn c04_5010_two_groups_five_sets() {
    expect(
        "04_5010_two_groups_five_sets.x12",
        &[
            "TA1 000000401 A 000",
            "AK9 PO 401 A 3 3 3",
            "AK5 850 0001 A",
            "AK5 850 0002 A",
            "AK5 850 0003 A",
            "AK9 PO 402 A 2 2 2",
            "AK5 850 0001 A",
            "AK5 850 0002 A",
        ],
    );
    let input = load("04_5010_two_groups_five_sets.x12");
    let ic = interchanges(&input).next().expect("one").expect("readable");
    assert_eq!(ic.isa.parsed_usage(), Some(Usage::Test));
}

#[test]
fn c05_two_interchanges_different_delimiters() {
    expect(
        "05_two_interchanges_different_delimiters.x12",
        &[
            "TA1 000000501 A 000",
            "AK9 PO 501 A 1 1 1",
            "AK5 850 0001 A",
            "TA1 000000502 A 000",
            "AK9 PO 502 A 1 1 1",
            "AK5 850 0001 A",
        ],
    );
    let input = load("05_two_interchanges_different_delimiters.x12");
    let (ics, _) = parse_all(&input);
    assert_eq!(ics[0].separators.element, b'*');
    assert_eq!(ics[1].separators.element, b'|');
    // the interchanges tile the input (each one can be archived byte for byte)
    assert_eq!(ics[0].offset, 0);
    assert_eq!(ics[0].offset + ics[0].len, ics[1].offset);
    assert_eq!(ics[1].offset + ics[1].len, input.len());
    assert!(ics[1].bytes(&input).starts_with(b"ISA|"));
}

#[test]
fn c06_iea_control_number_mismatch() {
    expect(
        "06_iea_control_number_mismatch.x12",
        &[
            "TA1 000000601 R 001",
            "AK9 PO 601 A 1 1 1",
            "AK5 850 0001 A",
        ],
    );
}

#[test]
fn c07_iea_group_count_wrong() {
    expect(
        "07_iea_group_count_wrong.x12",
        &[
            "TA1 000000701 R 021",
            "AK9 PO 701 A 1 1 1",
            "AK5 850 0001 A",
        ],
    );
}

#[test]
fn c08_isa_invalid_date() {
    expect(
        "08_isa_invalid_date.x12",
        &[
            "TA1 000000801 R 014",
            "AK9 PO 801 A 1 1 1",
            "AK5 850 0001 A",
        ],
    );
}

#[test]
fn c09_isa_unsupported_version() {
    expect(
        "09_isa_unsupported_version.x12",
        &[
            "TA1 000000901 R 003",
            "AK9 PO 901 A 1 1 1",
            "AK5 850 0001 A",
        ],
    );
}

#[test]
fn c10_isa_invalid_usage_indicator() {
    expect(
        "10_isa_invalid_usage_indicator.x12",
        &[
            "TA1 000001001 R 020",
            "AK9 PO 1001 A 1 1 1",
            "AK5 850 0001 A",
        ],
    );
}

#[test]
fn c11_isa_sender_not_padded_cannot_be_opened() {
    expect("11_isa_sender_not_padded.x12", &["FATAL 006"]);
    let input = load("11_isa_sender_not_padded.x12");
    let err = interchanges(&input)
        .next()
        .expect("one")
        .expect_err("unreadable");
    // the TA1 can still be sent: ISA13, ISA09 and ISA10 were readable
    let ta1 = build_ta1_for_error(&err).expect("ta1");
    assert_eq!(
        ta1.elements
            .iter()
            .map(|e| e[0][0].as_str())
            .collect::<Vec<_>>(),
        vec!["000001101", "240115", "1030", "R", "006"]
    );
    let X12Error::Interchange { header, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(header.ack_requested);
    assert_eq!(
        header.sender,
        Some(("ZZ".to_string(), "BUYERCO".to_string()))
    );
}

#[test]
fn c12_truncated_no_iea() {
    expect(
        "12_truncated_no_iea.x12",
        &[
            "TA1 000001201 R 023",
            "AK9 PO 1201 A 1 1 1",
            "AK5 850 0001 A",
        ],
    );
}

#[test]
fn c13_duplicate_interchange_in_file() {
    expect(
        "13_duplicate_interchange_in_file.x12",
        &[
            "TA1 000001301 A 000",
            "AK9 PO 1301 A 1 1 1",
            "AK5 850 0001 A",
            "TA1 000001301 R 025",
            "AK9 PO 1301 A 1 1 1",
            "AK5 850 0001 A",
        ],
    );
    let input = load("13_duplicate_interchange_in_file.x12");
    let (ics, _) = parse_all(&input);
    assert_eq!(ics[0].isa.duplicate_key(), ics[1].isa.duplicate_key());
    assert_eq!(
        ics[0].isa.duplicate_key(),
        "ZZ|BUYERCO|ZZ|DISTSYNC|000001301"
    );
    assert_eq!(
        ics[0].groups[0].header.duplicate_key(),
        "PO|BUYERCO|DISTSYNC|1301"
    );
}

#[test]
fn c14_ge_set_count_wrong() {
    expect(
        "14_ge_set_count_wrong.x12",
        &[
            "TA1 000001401 A 000",
            "AK9 PO 1401 R 3 2 0 5",
            "AK5 850 0001 A",
            "AK5 850 0002 A",
        ],
    );
}

#[test]
fn c15_ge_control_number_mismatch() {
    expect(
        "15_ge_control_number_mismatch.x12",
        &[
            "TA1 000001501 A 000",
            "AK9 PO 1501 R 1 1 0 4",
            "AK5 850 0001 A",
        ],
    );
}

#[test]
fn c16_ge_missing() {
    expect(
        "16_ge_missing.x12",
        &[
            "TA1 000001601 A 000",
            "AK9 PO 1601 R 1 1 0 3",
            "AK5 850 0001 A",
        ],
    );
}

#[test]
fn c17_gs_unsupported_version() {
    expect(
        "17_gs_unsupported_version.x12",
        &[
            "TA1 000001701 A 000",
            "AK9 PO 1701 R 1 1 0 2",
            "AK5 850 0001 A",
        ],
    );
}

#[test]
fn c18_se_segment_count_wrong() {
    expect(
        "18_se_segment_count_wrong.x12",
        &[
            "TA1 000001801 A 000",
            "AK9 PO 1801 P 2 2 1",
            "AK5 850 0001 R 4",
            "AK5 850 0002 A",
        ],
    );
}

#[test]
fn c19_se_control_number_mismatch() {
    expect(
        "19_se_control_number_mismatch.x12",
        &[
            "TA1 000001901 A 000",
            "AK9 PO 1901 R 1 1 0",
            "AK5 850 0001 R 3",
        ],
    );
}

#[test]
fn c20_se_missing() {
    expect(
        "20_se_missing.x12",
        &[
            "TA1 000002001 A 000",
            "AK9 PO 2001 P 2 2 1",
            "AK5 850 0001 R 2",
            "AK5 850 0002 A",
        ],
    );
}

#[test]
fn c21_duplicate_st02_in_group() {
    expect(
        "21_duplicate_st02_in_group.x12",
        &[
            "TA1 000002101 A 000",
            "AK9 PO 2101 P 2 2 1",
            "AK5 850 0007 A",
            "AK5 850 0007 R 23",
        ],
    );
}

#[test]
fn c22_segment_out_of_sequence() {
    expect(
        "22_segment_out_of_sequence.x12",
        &[
            "TA1 000002201 A 000",
            "AK9 PO 2201 R 1 1 0",
            "AK5 850 0001 R 5",
            "AK3 DTM 13 - 7",
        ],
    );
}

#[test]
fn c23_mandatory_segment_missing() {
    expect(
        "23_mandatory_segment_missing.x12",
        &[
            "TA1 000002301 A 000",
            "AK9 PO 2301 R 1 1 0",
            "AK5 850 0001 R 5",
            "AK3 BEG 2 - 3",
        ],
    );
}

#[test]
fn c24_unrecognized_and_foreign_segments() {
    expect(
        "24_unrecognized_and_foreign_segments.x12",
        &[
            "TA1 000002401 A 000",
            "AK9 PO 2401 R 1 1 0",
            "AK5 850 0001 R 5",
            "AK3 ZZZ 7 - 1",
            "AK3 BIG 8 - 6",
        ],
    );
}

#[test]
fn c25_segment_exceeds_max_use() {
    expect(
        "25_segment_exceeds_max_use.x12",
        &[
            "TA1 000002501 A 000",
            "AK9 PO 2501 R 1 1 0",
            "AK5 850 0001 R 5",
            "AK3 CUR 4 - 5",
        ],
    );
}

#[test]
fn c26_loop_exceeds_max() {
    expect(
        "26_loop_exceeds_max.x12",
        &[
            "TA1 000002601 A 000",
            "AK9 PO 2601 R 1 1 0",
            "AK5 850 0001 R 5",
            "AK3 CTT 18 CTT 4",
        ],
    );
}

#[test]
fn c27_element_mandatory_missing() {
    expect(
        "27_element_mandatory_missing.x12",
        &[
            "TA1 000002701 A 000",
            "AK9 PO 2701 R 1 1 0",
            "AK5 850 0001 R 5",
            "AK3 BEG 2 - 8",
            "AK4 3 324 1",
        ],
    );
}

#[test]
fn c28_element_conditional_missing() {
    expect(
        "28_element_conditional_missing.x12",
        &[
            "TA1 000002801 A 000",
            "AK9 PO 2801 R 1 1 0",
            "AK5 850 0001 R 5",
            "AK3 N1 7 N1 8",
            "AK4 4 67 2",
        ],
    );
}

#[test]
fn c29_element_too_many() {
    expect(
        "29_element_too_many.x12",
        &[
            "TA1 000002901 A 000",
            "AK9 PO 2901 R 1 1 0",
            "AK5 850 0001 R 5",
            "AK3 BEG 2 - 8",
            "AK4 13 - 3",
        ],
    );
}

#[test]
fn c30_element_too_long_and_too_short() {
    expect(
        "30_element_too_long_and_too_short.x12",
        &[
            "TA1 000003001 A 000",
            "AK9 PO 3001 R 1 1 0",
            "AK5 850 0001 R 5",
            "AK3 BEG 2 - 8",
            "AK4 3 324 5",
            "AK3 N4 12 N1 8",
            "AK4 1 19 4",
        ],
    );
}

#[test]
fn c31_missing_terminator_is_detected_not_merged() {
    expect(
        "31_missing_terminator_merges_lines.x12",
        &[
            "TA1 000003101 A 000",
            "AK9 PO 3101 R 1 1 0",
            "AK5 850 0001 R 5",
            "AK3 REF 4 - 8",
            "AK4 2 127 6",
        ],
    );
}

#[test]
fn c32_element_invalid_code_value() {
    expect(
        "32_element_invalid_code_value.x12",
        &[
            "TA1 000003201 A 000",
            "AK9 PO 3201 R 1 1 0",
            "AK5 850 0001 R 5",
            "AK3 BEG 2 - 8",
            "AK4 1 353 7",
            "AK3 PID 16 PID 8",
            "AK4 1 349 7",
        ],
    );
}

#[test]
fn c33_element_invalid_date() {
    expect(
        "33_element_invalid_date.x12",
        &[
            "TA1 000003301 A 000",
            "AK9 PO 3301 R 1 1 0",
            "AK5 850 0001 R 5",
            "AK3 BEG 2 - 8",
            "AK4 5 373 8",
        ],
    );
}

#[test]
fn c34_element_invalid_time() {
    expect(
        "34_element_invalid_time.x12",
        &[
            "TA1 000003401 A 000",
            "AK9 PO 3401 R 1 1 0",
            "AK5 850 0001 R 5",
            "AK3 DTM 6 - 8",
            "AK4 3 337 9",
        ],
    );
}

#[test]
fn c35_element_exclusion_violated() {
    expect(
        "35_element_exclusion_violated.x12",
        &[
            "TA1 000003501 A 000",
            "AK9 PO 3501 R 1 1 0",
            "AK5 850 0001 R 5",
            "AK3 N4 9 N1 8",
            "AK4 7 1715 10",
        ],
    );
}

#[test]
fn c36_ctt_line_count_wrong() {
    expect(
        "36_ctt_line_count_wrong.x12",
        &[
            "TA1 000003601 A 000",
            "AK9 PO 3601 R 1 1 0",
            "AK5 850 0001 R 5",
            "AK3 CTT 17 CTT 8",
            "AK4 1 354 7",
        ],
    );
}

#[test]
fn c37_one_bad_set_among_good_ones() {
    expect(
        "37_one_bad_set_among_good_ones.x12",
        &[
            "TA1 000003701 A 000",
            "AK9 PO 3701 P 3 3 2",
            "AK5 850 0001 A",
            "AK5 850 0002 R 5",
            "AK3 PO1 15 PO1 8",
            "AK4 2 330 6",
            "AK5 850 0003 A",
        ],
    );
    let input = load("37_one_bad_set_among_good_ones.x12");
    let (ics, _) = parse_all(&input);
    let v = validate(&ics[0]);
    let docs = &v.groups[0].documents;
    assert!(matches!(&docs[0], Some(Document::PurchaseOrder(po)) if po.po_number == "PO-37"));
    assert!(docs[1].is_none());
    assert!(matches!(&docs[2], Some(Document::PurchaseOrder(po)) if po.po_number == "PO-39"));

    // the exact 997, enveloped back to the partner with GS sender/receiver swapped
    let ack = build_997(&v.groups[0].report).expect("a 997");
    assert_eq!(
        (ack.sender.as_str(), ack.receiver.as_str()),
        ("DISTSYNC", "BUYERCO")
    );
    let date = Date::new(2024, 1, 16).expect("date");
    let time = Time::new(8, 0, None).expect("time");
    let env = InterchangeEnvelope::new(
        ("ZZ", "DISTSYNC"),
        ("ZZ", "BUYERCO"),
        date,
        time,
        IsaVersion::V00401,
        7,
        Usage::Production,
    );
    let mut w =
        InterchangeWriter::begin(&env, Separators::STANDARD_00401, LineEnding::Lf).expect("writer");
    w.begin_group(&ack.group_envelope(date, time, 7))
        .expect("gs");
    w.transaction_set("997", 1, None, &ack.body).expect("set");
    let out = String::from_utf8(w.finish().expect("iea")).expect("utf8");
    assert_eq!(
        out,
        "ISA*00*          *00*          *ZZ*DISTSYNC       *ZZ*BUYERCO        *240116*0800*U*00401*000000007*0*P*:~\n\
         GS*FA*DISTSYNC*BUYERCO*20240116*0800*7*X*004010~\n\
         ST*997*0001~\n\
         AK1*PO*3701~\n\
         AK2*850*0001~\n\
         AK5*A~\n\
         AK2*850*0002~\n\
         AK3*PO1*15*PO1*8~\n\
         AK4*2*330*6*THREE~\n\
         AK5*R*5~\n\
         AK2*850*0003~\n\
         AK5*A~\n\
         AK9*P*3*3*2~\n\
         SE*12*0001~\n\
         GE*1*7~\n\
         IEA*1*000000007~\n"
    );
}

#[test]
fn c38_997_from_partner_is_read_and_never_acknowledged() {
    expect(
        "38_997_from_partner_for_our_855s.x12",
        &[
            "TA1 000003801 A 000",
            "AK9 FA 3801 A 1 1 1",
            "AK5 997 0001 A",
        ],
    );
    let input = load("38_997_from_partner_for_our_855s.x12");
    let (ics, _) = parse_all(&input);
    let v = validate(&ics[0]);
    assert!(build_997(&v.groups[0].report).is_none());
    let Some(Some(Document::FunctionalAck(fa))) = v.groups[0].documents.first() else {
        panic!("no 997");
    };
    use dsync_x12::{ElementErrorCode, GroupAckCode, SegmentErrorCode, SetAckCode, SetErrorCode};
    assert_eq!((fa.functional_id, fa.group_control_number), ("PR", "9001"));
    assert_eq!(fa.version, Some("005010"));
    assert_eq!(fa.status, GroupAckCode::PartiallyAccepted);
    assert_eq!((fa.included, fa.received, fa.accepted), (2, 2, 1));
    assert_eq!(fa.set("0001").map(|s| s.status), Some(SetAckCode::Accepted));
    let rejected = fa.set("0002").expect("set 0002");
    assert_eq!(rejected.status, SetAckCode::Rejected);
    assert_eq!(rejected.errors, vec![SetErrorCode::SegmentsInError]);
    let seg = &rejected.segment_errors[0];
    assert_eq!(
        (seg.segment_id, seg.position, seg.loop_id),
        ("PO1", 4, Some("PO1"))
    );
    assert_eq!(seg.code, Some(SegmentErrorCode::DataElementErrors));
    assert_eq!(seg.elements[0].code, ElementErrorCode::InvalidCharacter);
    assert_eq!(seg.elements[0].reference, Some(380));
    assert_eq!(seg.elements[0].bad_value, Some("TEN"));
}

#[test]
fn c39_st_outside_group() {
    expect("39_st_outside_group.x12", &["TA1 000003901 R 024"]);
}

#[test]
fn c40_unsupported_functional_group() {
    expect(
        "40_unsupported_functional_group.x12",
        &[
            "TA1 000004001 A 000",
            "AK9 IN 4001 R 1 1 0 1",
            "AK5 810 0001 R 1",
        ],
    );
}

#[test]
fn c41_5010_repetition_separator_in_element() {
    expect(
        "41_5010_repetition_separator_in_element.x12",
        &[
            "TA1 000004101 A 000",
            "AK9 PO 4101 R 1 1 0",
            "AK5 850 0001 R 5",
            "AK3 REF 5 - 8",
            "AK4 2 127 12",
        ],
    );
}

#[test]
fn c42_isa_invalid_segment_terminator() {
    expect("42_isa_invalid_segment_terminator.x12", &["FATAL 004"]);
}

#[test]
fn corpus_has_at_least_20_files_all_covered() {
    let dir = format!("{}/testdata/inbound", env!("CARGO_MANIFEST_DIR"));
    let n = std::fs::read_dir(dir)
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".x12"))
        })
        .count();
    assert_eq!(n, 42);
}
