//! Outbound interchanges: control number allocation and rendering of the acknowledgement
//! interchanges (TA1 and 997s answering one received interchange) and of 855s, with the
//! partner's delimiters.

use chrono::{DateTime, Datelike as _, Timelike as _, Utc};
use dsync_x12::ack::FunctionalAckOut;
use dsync_x12::{
    Date, GroupEnvelope, InterchangeEnvelope, InterchangeWriter, IsaVersion, OwnedSegment,
    Separators, Time, Usage,
};

use crate::profile::PartnerProfile;
use crate::state::Counters;
use crate::GatewayError;

/// Highest control number X12 allows.
pub const MAX_CONTROL_NUMBER: u32 = 999_999_999;

/// Allocates a partner's control numbers above the highest ones sent (never reused).
#[derive(Debug, Clone)]
pub struct Allocator {
    partner: String,
    first: u32,
    last: Counters,
}

impl Allocator {
    /// Allocates above `last`, starting at `first` when nothing was sent yet.
    pub fn new(partner: &str, last: Counters, first: u32) -> Self {
        Allocator {
            partner: partner.to_owned(),
            first,
            last,
        }
    }

    fn bump(
        partner: &str,
        first: u32,
        last: &mut u32,
        which: &'static str,
    ) -> Result<u32, GatewayError> {
        let next = last.saturating_add(1).max(first);
        if next > MAX_CONTROL_NUMBER {
            return Err(GatewayError::ControlNumbersExhausted {
                partner: partner.to_owned(),
                which,
            });
        }
        *last = next;
        Ok(next)
    }

    /// The next ISA13.
    pub fn interchange(&mut self) -> Result<u32, GatewayError> {
        Self::bump(
            &self.partner,
            self.first,
            &mut self.last.interchange,
            "ISA13",
        )
    }

    /// The next GS06.
    pub fn group(&mut self) -> Result<u32, GatewayError> {
        Self::bump(&self.partner, self.first, &mut self.last.group, "GS06")
    }

    /// The next ST02.
    pub fn set(&mut self) -> Result<u32, GatewayError> {
        Self::bump(&self.partner, self.first, &mut self.last.set, "ST02")
    }

    /// The highest numbers allocated so far.
    pub fn last(&self) -> Counters {
        self.last
    }
}

/// One rendered group of an outbound interchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedGroup {
    /// GS06.
    pub gs06: u32,
    /// ST02 of its one transaction set.
    pub st02: u32,
    /// GS08.
    pub version: String,
}

/// A rendered outbound interchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedInterchange {
    /// The bytes to deliver.
    pub bytes: Vec<u8>,
    /// ISA13.
    pub isa13: u32,
    /// Groups in order (one transaction set each).
    pub groups: Vec<RenderedGroup>,
}

impl RenderedInterchange {
    /// ISA13 as written (9 digits).
    pub fn isa13_text(&self) -> String {
        format!("{:09}", self.isa13)
    }
}

/// ST02/GS06 as written.
pub fn st02_text(n: u32) -> String {
    format!("{n:04}")
}

/// X12 date and time of an instant (UTC).
pub fn x12_date_time(at: DateTime<Utc>) -> Result<(Date, Time), GatewayError> {
    let bad = || GatewayError::Internal(format!("{at} is not representable in X12"));
    let year = u16::try_from(at.year()).map_err(|_| bad())?;
    let date = Date::new(year, at.month() as u8, at.day() as u8).ok_or_else(bad)?;
    let time = Time::new(at.hour() as u8, at.minute() as u8, None).ok_or_else(bad)?;
    Ok((date, time))
}

/// The partner's delimiters, with a repetition separator when the version needs one.
pub fn separators_for(profile: &PartnerProfile, version: IsaVersion) -> Separators {
    let mut s = profile.separators;
    match version {
        IsaVersion::V00401 => s.repetition = None,
        IsaVersion::V00501 if s.repetition.is_none() => {
            s.repetition = [b'^', b'{', b'!', b'`']
                .into_iter()
                .find(|&c| c != s.element && c != s.component && c != s.segment);
        }
        IsaVersion::V00501 => {}
    }
    s
}

fn envelope(
    profile: &PartnerProfile,
    version: IsaVersion,
    usage: Usage,
    date: Date,
    time: Time,
    isa13: u32,
    ack_requested: bool,
) -> InterchangeEnvelope {
    let mut env = InterchangeEnvelope::new(
        (&profile.our_qualifier, &profile.our_isa_id),
        (&profile.partner_qualifier, &profile.partner_isa_id),
        date,
        time,
        version,
        isa13,
        usage,
    );
    env.ack_requested = ack_requested;
    env
}

/// Renders the interchange answering a received one: the TA1 (if any) and one 997 group per
/// acknowledged group, each in the version the partner sent (GS08 of `acks`).
pub fn render_acknowledgements(
    profile: &PartnerProfile,
    version: IsaVersion,
    usage: Usage,
    at: DateTime<Utc>,
    alloc: &mut Allocator,
    ta1: Option<&OwnedSegment>,
    acks: &[&FunctionalAckOut],
) -> Result<RenderedInterchange, GatewayError> {
    let (date, time) = x12_date_time(at)?;
    let isa13 = alloc.interchange()?;
    let seps = separators_for(profile, version);
    let mut w = InterchangeWriter::begin(
        &envelope(profile, version, usage, date, time, isa13, false),
        seps,
        profile.line_ending,
    )?;
    if let Some(t) = ta1 {
        w.ta1(t)?;
    }
    let mut groups = Vec::new();
    for ack in acks {
        let gs06 = alloc.group()?;
        let st02 = alloc.set()?;
        w.begin_group(&ack.group_envelope(date, time, gs06))?;
        w.transaction_set("997", st02, None, &ack.body)?;
        w.end_group()?;
        groups.push(RenderedGroup {
            gs06,
            st02,
            version: ack.version.clone(),
        });
    }
    Ok(RenderedInterchange {
        bytes: w.finish()?,
        isa13,
        groups,
    })
}

/// Renders an 855 (body from [`dsync_x12::poack855::build_855`]) in its own interchange with the
/// profile's version; ISA14 as the profile asks.
pub fn render_855(
    profile: &PartnerProfile,
    usage: Usage,
    at: DateTime<Utc>,
    alloc: &mut Allocator,
    body: &[OwnedSegment],
) -> Result<RenderedInterchange, GatewayError> {
    let (date, time) = x12_date_time(at)?;
    let isa13 = alloc.interchange()?;
    let gs06 = alloc.group()?;
    let st02 = alloc.set()?;
    let version = profile.isa_version;
    let mut w = InterchangeWriter::begin(
        &envelope(
            profile,
            version,
            usage,
            date,
            time,
            isa13,
            profile.request_ta1,
        ),
        separators_for(profile, version),
        profile.line_ending,
    )?;
    w.begin_group(&GroupEnvelope {
        functional_id: "PR".into(),
        sender: profile.our_application_id.clone(),
        receiver: profile.partner_application_id.clone(),
        date,
        time,
        control_number: gs06,
        version: profile.version.clone(),
    })?;
    w.transaction_set("855", st02, None, body)?;
    w.end_group()?;
    Ok(RenderedInterchange {
        bytes: w.finish()?,
        isa13,
        groups: vec![RenderedGroup {
            gs06,
            st02,
            version: profile.version.clone(),
        }],
    })
}

/// The outbox file name of an interchange: `<partner>_<kind>_<ISA13>.x12` (unique: ISA13 is
/// never reused).
pub fn outbox_file_name(partner: &str, kind: &str, isa13: u32) -> String {
    format!("{partner}_{kind}_{isa13:09}.x12")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_starts_at_first_and_never_goes_back() {
        let mut a = Allocator::new("P", Counters::default(), 100);
        assert_eq!(a.interchange().ok(), Some(100));
        assert_eq!(a.interchange().ok(), Some(101));
        let mut b = Allocator::new(
            "P",
            Counters {
                interchange: 500,
                group: 7,
                set: 9,
            },
            100,
        );
        assert_eq!(b.interchange().ok(), Some(501));
        assert_eq!(b.group().ok(), Some(100));
        let mut full = Allocator::new(
            "P",
            Counters {
                interchange: MAX_CONTROL_NUMBER,
                group: 0,
                set: 0,
            },
            1,
        );
        assert!(matches!(
            full.interchange(),
            Err(GatewayError::ControlNumbersExhausted { which: "ISA13", .. })
        ));
    }

    #[test]
    fn names() {
        assert_eq!(
            outbox_file_name("ACME", "855", 12),
            "ACME_855_000000012.x12"
        );
        assert_eq!(st02_text(7), "0007");
    }
}
