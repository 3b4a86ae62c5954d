//! Typed element values (dates, times, decimals) and the X12 data element syntax checks
//! (type, length, character set, code list) that produce AK403 codes.

use std::fmt;

use crate::codes::ElementErrorCode;

/// A calendar date (CCYYMMDD in data elements of type DT with length 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    /// Four-digit year.
    pub year: u16,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of month, 1..=31 depending on the month.
    pub day: u8,
}

impl Date {
    /// A checked date; `None` when the day does not exist.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Parses `CCYYMMDD`.
    pub fn parse_ccyymmdd(s: &[u8]) -> Option<Date> {
        if s.len() != 8 {
            return None;
        }
        let year = digits(&s[0..4])?;
        let month = digits(&s[4..6])?;
        let day = digits(&s[6..8])?;
        Date::new(u16::try_from(year).ok()?, month as u8, day as u8)
    }

    /// Parses `YYMMDD` (ISA09, AK9/TA1 dates): years 00..=99 are taken as 2000..=2099.
    pub fn parse_yymmdd(s: &[u8]) -> Option<Date> {
        if s.len() != 6 {
            return None;
        }
        let year = digits(&s[0..2])?;
        let month = digits(&s[2..4])?;
        let day = digits(&s[4..6])?;
        Date::new(2000 + year as u16, month as u8, day as u8)
    }

    /// `CCYYMMDD`.
    pub fn ccyymmdd(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// `YYMMDD` (for ISA09 and TA102).
    pub fn yymmdd(&self) -> String {
        format!("{:02}{:02}{:02}", self.year % 100, self.month, self.day)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.checked_rem(4) == Some(0) && year.checked_rem(100) != Some(0))
            || year.checked_rem(400) == Some(0) =>
        {
            29
        }
        2 => 28,
        _ => 0,
    }
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0')))
}

/// A time of day (`HHMM`, `HHMMSS`, `HHMMSSD` or `HHMMSSDD` in data elements of type TM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Time {
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=59, when given.
    pub second: Option<u8>,
}

impl Time {
    /// A checked time.
    pub fn new(hour: u8, minute: u8, second: Option<u8>) -> Option<Time> {
        if hour > 23 || minute > 59 || second.is_some_and(|s| s > 59) {
            return None;
        }
        Some(Time {
            hour,
            minute,
            second,
        })
    }

    /// Parses `HHMM[SS[D[D]]]`.
    pub fn parse(s: &[u8]) -> Option<Time> {
        if !matches!(s.len(), 4 | 6 | 7 | 8) || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let hour = digits(&s[0..2])? as u8;
        let minute = digits(&s[2..4])? as u8;
        let second = if s.len() >= 6 {
            Some(digits(&s[4..6])? as u8)
        } else {
            None
        };
        Time::new(hour, minute, second)
    }

    /// `HHMM`.
    pub fn hhmm(&self) -> String {
        format!("{:02}{:02}", self.hour, self.minute)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)?;
        if let Some(s) = self.second {
            write!(f, ":{s:02}")?;
        }
        Ok(())
    }
}

/// An exact decimal (X12 type R, or Nn with implied decimals): `mantissa * 10^-scale`.
///
/// Equality is numeric: `1.50 == 1.5`.
#[derive(Debug, Clone, Copy)]
pub struct Decimal {
    mantissa: i64,
    scale: u8,
}

impl Decimal {
    /// Largest number of significant digits a [`Decimal`] holds.
    pub const MAX_DIGITS: usize = 18;

    /// `mantissa * 10^-scale`.
    pub const fn new(mantissa: i64, scale: u8) -> Decimal {
        Decimal { mantissa, scale }
    }

    /// A whole number.
    pub const fn from_int(v: i64) -> Decimal {
        Decimal {
            mantissa: v,
            scale: 0,
        }
    }

    /// The unscaled value.
    pub fn mantissa(&self) -> i64 {
        self.mantissa
    }

    /// Number of digits after the decimal point.
    pub fn scale(&self) -> u8 {
        self.scale
    }

    /// Parses an X12 decimal (type R): optional leading minus, digits, optional decimal point.
    pub fn parse_r(s: &[u8]) -> Option<Decimal> {
        let (neg, body) = match s.first() {
            Some(b'-') => (true, &s[1..]),
            _ => (false, s),
        };
        let mut mantissa: i64 = 0;
        let mut scale: u8 = 0;
        let mut seen_point = false;
        let mut n_digits = 0usize;
        for &b in body {
            match b {
                b'0'..=b'9' => {
                    n_digits += 1;
                    if n_digits > Self::MAX_DIGITS {
                        return None;
                    }
                    mantissa = mantissa * 10 + i64::from(b - b'0');
                    if seen_point {
                        scale += 1;
                    }
                }
                b'.' if !seen_point => seen_point = true,
                _ => return None,
            }
        }
        if n_digits == 0 {
            return None;
        }
        Some(Decimal {
            mantissa: if neg { -mantissa } else { mantissa },
            scale,
        })
    }

    /// Parses an X12 numeric (type Nn): optional minus then digits, with `implied` decimals.
    pub fn parse_n(s: &[u8], implied: u8) -> Option<Decimal> {
        let (neg, body) = match s.first() {
            Some(b'-') => (true, &s[1..]),
            _ => (false, s),
        };
        if body.is_empty() || body.len() > Self::MAX_DIGITS || !body.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        let m = body
            .iter()
            .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
        Some(Decimal {
            mantissa: if neg { -m } else { m },
            scale: implied,
        })
    }

    /// The value as an `f64` (for display and metrics, never for money arithmetic).
    pub fn to_f64(&self) -> f64 {
        self.mantissa as f64 / 10f64.powi(i32::from(self.scale))
    }

    /// The value with trailing fractional zeros removed (`1.50` becomes `1.5`).
    pub fn normalized(&self) -> Decimal {
        let mut d = *self;
        while d.scale > 0 && d.mantissa % 10 == 0 {
            d.mantissa /= 10;
            d.scale -= 1;
        }
        d
    }

    /// The whole-number value, when there is no fractional part.
    pub fn to_integer(&self) -> Option<i64> {
        let n = self.normalized();
        (n.scale == 0).then_some(n.mantissa)
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.normalized(), other.normalized());
        a.mantissa == b.mantissa && a.scale == b.scale
    }
}

impl Eq for Decimal {}

impl fmt::Display for Decimal {
    /// Renders as X12 type R: no exponent, no trailing fractional zeros, no leading `+`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.normalized();
        let neg = n.mantissa < 0;
        let abs = n.mantissa.unsigned_abs().to_string();
        let scale = usize::from(n.scale);
        if neg {
            f.write_str("-")?;
        }
        if scale == 0 {
            return f.write_str(&abs);
        }
        if abs.len() <= scale {
            write!(f, ".{}{}", "0".repeat(scale - abs.len()), abs)
        } else {
            let (int, frac) = abs.split_at(abs.len() - scale);
            write!(f, "{int}.{frac}")
        }
    }
}

/// X12 data element types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementType {
    /// AN: string.
    Alphanumeric,
    /// ID: identifier from a code list.
    Identifier,
    /// Nn: integer with `n` implied decimal places.
    Numeric(u8),
    /// R: decimal number with an optional explicit decimal point.
    Decimal,
    /// DT: date, `CCYYMMDD` (length 8) or `YYMMDD` (length 6).
    Date,
    /// TM: time, `HHMM[SS[D[D]]]`.
    Time,
}

/// Whether an element must, may or must not appear (conditions between elements are
/// expressed separately, by the syntax notes of each segment definition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// M: must be present.
    Mandatory,
    /// O or C: may be present.
    Optional,
}

/// The definition of one simple data element in a segment.
#[derive(Debug, Clone, Copy)]
pub struct ElementDef {
    /// Data element reference number (AK402), e.g. 324 for a purchase order number.
    pub reference: u16,
    /// M or O.
    pub requirement: Requirement,
    /// Data type.
    pub kind: ElementType,
    /// Minimum length (digits only for numeric types).
    pub min: u16,
    /// Maximum length (digits only for numeric types).
    pub max: u16,
    /// Allowed values, when the element is checked against a code list.
    pub codes: Option<&'static [&'static str]>,
}

impl ElementDef {
    /// A mandatory element.
    pub const fn m(reference: u16, kind: ElementType, min: u16, max: u16) -> ElementDef {
        ElementDef {
            reference,
            requirement: Requirement::Mandatory,
            kind,
            min,
            max,
            codes: None,
        }
    }

    /// An optional element.
    pub const fn o(reference: u16, kind: ElementType, min: u16, max: u16) -> ElementDef {
        ElementDef {
            reference,
            requirement: Requirement::Optional,
            kind,
            min,
            max,
            codes: None,
        }
    }

    /// The same element checked against a code list.
    pub const fn codes(mut self, codes: &'static [&'static str]) -> ElementDef {
        self.codes = Some(codes);
        self
    }

    /// Checks a present (non-empty) value; returns the first error found.
    pub fn check(&self, value: &[u8]) -> Option<ElementErrorCode> {
        check_value(self.kind, self.min, self.max, self.codes, value)
    }
}

/// Whether a byte may appear in a data element: printable ASCII and bytes from 0x80 upwards
/// (the extended character set, e.g. UTF-8 text), never control characters.
pub fn is_data_byte(b: u8) -> bool {
    (0x20..0x7f).contains(&b) || b >= 0x80
}

/// Checks a present value against type, length and code list; `None` when it is valid.
pub fn check_value(
    kind: ElementType,
    min: u16,
    max: u16,
    codes: Option<&[&str]>,
    value: &[u8],
) -> Option<ElementErrorCode> {
    if !value.iter().all(|&b| is_data_byte(b)) || std::str::from_utf8(value).is_err() {
        return Some(ElementErrorCode::InvalidCharacter);
    }
    let len = match kind {
        ElementType::Numeric(_) => {
            let body = value.strip_prefix(b"-").unwrap_or(value);
            if body.is_empty() || !body.iter().all(u8::is_ascii_digit) {
                return Some(ElementErrorCode::InvalidCharacter);
            }
            body.len()
        }
        ElementType::Decimal => {
            if Decimal::parse_r(value).is_none() {
                // a well-formed number with too many digits is "too long", anything else is
                // an invalid character
                let digits = value.iter().filter(|b| b.is_ascii_digit()).count();
                let shape_ok = value
                    .iter()
                    .enumerate()
                    .all(|(i, b)| b.is_ascii_digit() || *b == b'.' || (i == 0 && *b == b'-'))
                    && value.iter().filter(|b| **b == b'.').count() <= 1
                    && digits > 0;
                return Some(if shape_ok {
                    ElementErrorCode::TooLong
                } else {
                    ElementErrorCode::InvalidCharacter
                });
            }
            value.iter().filter(|b| b.is_ascii_digit()).count()
        }
        ElementType::Date => {
            if value.len() < usize::from(min) {
                return Some(ElementErrorCode::TooShort);
            }
            if value.len() > usize::from(max) {
                return Some(ElementErrorCode::TooLong);
            }
            let ok = match value.len() {
                8 => Date::parse_ccyymmdd(value).is_some(),
                6 => Date::parse_yymmdd(value).is_some(),
                _ => false,
            };
            return (!ok).then_some(ElementErrorCode::InvalidDate);
        }
        ElementType::Time => {
            if value.len() < usize::from(min) {
                return Some(ElementErrorCode::TooShort);
            }
            if value.len() > usize::from(max) {
                return Some(ElementErrorCode::TooLong);
            }
            return Time::parse(value)
                .is_none()
                .then_some(ElementErrorCode::InvalidTime);
        }
        ElementType::Alphanumeric | ElementType::Identifier => value.len(),
    };
    if len < usize::from(min) {
        return Some(ElementErrorCode::TooShort);
    }
    if len > usize::from(max) {
        return Some(ElementErrorCode::TooLong);
    }
    if kind == ElementType::Alphanumeric && value.iter().all(|&b| b == b' ') {
        // an AN element must hold at least one non-space character
        return Some(ElementErrorCode::TooShort);
    }
    if let Some(codes) = codes {
        if !codes.iter().any(|c| c.as_bytes() == value) {
            return Some(ElementErrorCode::InvalidCodeValue);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(Date::parse_ccyymmdd(b"20240229"), Date::new(2024, 2, 29));
        assert!(Date::parse_ccyymmdd(b"20230229").is_none());
        assert!(Date::parse_ccyymmdd(b"19000229").is_none());
        assert!(Date::parse_ccyymmdd(b"20000229").is_some());
        assert!(Date::parse_ccyymmdd(b"20241301").is_none());
        assert!(Date::parse_ccyymmdd(b"2024011").is_none());
        assert!(Date::parse_ccyymmdd(b"2024-1-1").is_none());
        assert_eq!(
            Date::parse_yymmdd(b"240115").map(|d| d.ccyymmdd()),
            Some("20240115".into())
        );
    }

    #[test]
    fn times() {
        assert!(Time::parse(b"2359").is_some());
        assert!(Time::parse(b"235959").is_some());
        assert!(Time::parse(b"23595912").is_some());
        assert!(Time::parse(b"2400").is_none());
        assert!(Time::parse(b"1260").is_none());
        assert!(Time::parse(b"123").is_none());
    }

    #[test]
    fn decimals() {
        let d = Decimal::parse_r(b"12.50").expect("valid");
        assert_eq!(d, Decimal::new(125, 1));
        assert_eq!(d.to_string(), "12.5");
        assert_eq!(
            Decimal::parse_r(b"-.5").map(|d| d.to_string()),
            Some("-.5".into())
        );
        assert_eq!(
            Decimal::parse_r(b"7").map(|d| d.to_string()),
            Some("7".into())
        );
        assert!(Decimal::parse_r(b"1.2.3").is_none());
        assert!(Decimal::parse_r(b"").is_none());
        assert!(Decimal::parse_r(b".").is_none());
        assert!(Decimal::parse_r(b"1e5").is_none());
        assert!(Decimal::parse_r(b"1234567890123456789").is_none());
        assert_eq!(Decimal::parse_n(b"1234", 2), Some(Decimal::new(1234, 2)));
        assert_eq!(Decimal::new(100, 2).to_integer(), Some(1));
    }

    #[test]
    fn value_checks() {
        use ElementErrorCode as E;
        use ElementType as T;
        assert_eq!(
            check_value(T::Alphanumeric, 1, 3, None, b"ABCD"),
            Some(E::TooLong)
        );
        assert_eq!(
            check_value(T::Identifier, 2, 2, None, b"A"),
            Some(E::TooShort)
        );
        assert_eq!(
            check_value(T::Identifier, 2, 2, Some(&["00", "01"]), b"02"),
            Some(E::InvalidCodeValue)
        );
        assert_eq!(
            check_value(T::Decimal, 1, 3, None, b"1.234"),
            Some(E::TooLong)
        );
        assert_eq!(check_value(T::Decimal, 1, 3, None, b"-1.23"), None);
        assert_eq!(
            check_value(T::Decimal, 1, 9, None, b"1,5"),
            Some(E::InvalidCharacter)
        );
        assert_eq!(
            check_value(T::Numeric(0), 1, 9, None, b"12a"),
            Some(E::InvalidCharacter)
        );
        assert_eq!(
            check_value(T::Date, 8, 8, None, b"20240230"),
            Some(E::InvalidDate)
        );
        assert_eq!(
            check_value(T::Date, 8, 8, None, b"2024023"),
            Some(E::TooShort)
        );
        assert_eq!(
            check_value(T::Time, 4, 8, None, b"2575"),
            Some(E::InvalidTime)
        );
        assert_eq!(
            check_value(T::Alphanumeric, 1, 9, None, b"a\x01"),
            Some(E::InvalidCharacter)
        );
        assert_eq!(
            check_value(T::Alphanumeric, 1, 9, None, b"   "),
            Some(E::TooShort)
        );
    }
}
