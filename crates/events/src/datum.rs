//! The Avro binary encoding of the generated types, without serde: every record, enum and
//! field type implements [`AvroDatum`] (code generated from the schemas), so encoding is
//! straight-line writes and decoding straight-line reads in schema order.
//!
//! Type mapping (fixed by the generator, so each Rust type has exactly one Avro type):
//! `bool` boolean, `i32` int, `i64` long, `f32` float, `f64` double, `CompactString` (or
//! `String`, for hand-written types) string,
//! `Vec<T>` array, `BTreeMap<String, T>` map, `Option<T>` the union `["null", T]`,
//! `DateTime<Utc>` long/timestamp-millis, `NaiveDate` int/date.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use compact_str::CompactString;

/// Why a body does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatumError {
    /// The input ends before the datum does.
    Eof,
    /// The input is not a valid encoding of the type.
    Invalid(&'static str),
}

impl std::fmt::Display for DatumError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatumError::Eof => f.write_str("the body ends early"),
            DatumError::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for DatumError {}

/// A value with a fixed Avro schema, encoded and decoded by generated code.
pub trait AvroDatum: Sized {
    /// Appends the Avro binary encoding.
    fn write_avro(&self, out: &mut Vec<u8>);
    /// Reads one value from the front of `input`, advancing it.
    fn read_avro(input: &mut &[u8]) -> Result<Self, DatumError>;
}

/// Implements [`AvroDatum`] for a struct whose fields are listed in schema order.
///
/// ```ignore
/// dsync_events::avro_record!(OrderAcceptedV2 { metadata, order_id, /* ... */ priority });
/// ```
#[macro_export]
macro_rules! avro_record {
    ($ty:ty { $($field:ident),* $(,)? }) => {
        impl $crate::datum::AvroDatum for $ty {
            #[inline]
            fn write_avro(&self, out: &mut ::std::vec::Vec<u8>) {
                $( $crate::datum::AvroDatum::write_avro(&self.$field, out); )*
            }
            #[inline]
            fn read_avro(
                input: &mut &[u8],
            ) -> ::std::result::Result<Self, $crate::datum::DatumError> {
                // Struct expression fields are evaluated in the order written: schema order.
                Ok(Self { $( $field: $crate::datum::AvroDatum::read_avro(input)?, )* })
            }
        }
    };
}

/// Writes a zig-zag varint `long` (also `int`).
#[inline]
pub fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    if z < 0x80 {
        out.push(z as u8);
        return;
    }
    let mut buf = [0u8; 10];
    let mut n = 0;
    while z >= 0x80 {
        buf[n] = (z as u8) | 0x80;
        z >>= 7;
        n += 1;
    }
    buf[n] = z as u8;
    out.extend_from_slice(&buf[..=n]);
}

/// Reads a zig-zag varint `long`.
#[inline]
pub fn read_long(input: &mut &[u8]) -> Result<i64, DatumError> {
    let bytes = *input;
    match bytes.first() {
        None => Err(DatumError::Eof),
        Some(&b) if b < 0x80 => {
            *input = &bytes[1..];
            Ok(((b >> 1) as i64) ^ -((b & 1) as i64))
        }
        Some(_) => read_long_slow(input),
    }
}

fn read_long_slow(input: &mut &[u8]) -> Result<i64, DatumError> {
    let bytes = *input;
    let mut z: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        if i == 9 && b > 1 {
            return Err(DatumError::Invalid("varint longer than 64 bits"));
        }
        z |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            *input = &bytes[i + 1..];
            return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
        }
    }
    if bytes.len() < 10 {
        Err(DatumError::Eof)
    } else {
        Err(DatumError::Invalid("varint longer than 10 bytes"))
    }
}

/// Reads a zig-zag varint `int`.
#[inline]
pub fn read_int(input: &mut &[u8]) -> Result<i32, DatumError> {
    i32::try_from(read_long(input)?).map_err(|_| DatumError::Invalid("int out of range"))
}

/// Reads `n` bytes.
#[inline]
fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], DatumError> {
    if input.len() < n {
        return Err(DatumError::Eof);
    }
    let (head, tail) = input.split_at(n);
    *input = tail;
    Ok(head)
}

/// Reads a length (string, bytes) that must be non-negative and present.
#[inline]
fn read_len(input: &mut &[u8]) -> Result<usize, DatumError> {
    let n = read_long(input)?;
    if n < 0 {
        return Err(DatumError::Invalid("negative length"));
    }
    Ok(n as usize)
}

/// Reads the count of the next block of an array or map (0 ends it); a negative count is
/// followed by the block's size in bytes, which is skipped.
#[inline]
pub fn read_block_count(input: &mut &[u8]) -> Result<usize, DatumError> {
    let n = read_long(input)?;
    if n >= 0 {
        return Ok(n as usize);
    }
    let _size = read_long(input)?;
    n.checked_neg()
        .map(|n| n as usize)
        .ok_or(DatumError::Invalid("block count out of range"))
}

impl AvroDatum for bool {
    #[inline]
    fn write_avro(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
    #[inline]
    fn read_avro(input: &mut &[u8]) -> Result<Self, DatumError> {
        match take(input, 1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DatumError::Invalid("boolean is neither 0 nor 1")),
        }
    }
}

impl AvroDatum for i32 {
    #[inline]
    fn write_avro(&self, out: &mut Vec<u8>) {
        write_long(out, i64::from(*self));
    }
    #[inline]
    fn read_avro(input: &mut &[u8]) -> Result<Self, DatumError> {
        read_int(input)
    }
}

impl AvroDatum for i64 {
    #[inline]
    fn write_avro(&self, out: &mut Vec<u8>) {
        write_long(out, *self);
    }
    #[inline]
    fn read_avro(input: &mut &[u8]) -> Result<Self, DatumError> {
        read_long(input)
    }
}

impl AvroDatum for f32 {
    #[inline]
    fn write_avro(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    #[inline]
    fn read_avro(input: &mut &[u8]) -> Result<Self, DatumError> {
        let b = take(input, 4)?;
        Ok(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

impl AvroDatum for f64 {
    #[inline]
    fn write_avro(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    #[inline]
    fn read_avro(input: &mut &[u8]) -> Result<Self, DatumError> {
        let b = take(input, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }
}

impl AvroDatum for String {
    #[inline]
    fn write_avro(&self, out: &mut Vec<u8>) {
        write_long(out, self.len() as i64);
        out.extend_from_slice(self.as_bytes());
    }
    #[inline]
    fn read_avro(input: &mut &[u8]) -> Result<Self, DatumError> {
        let n = read_len(input)?;
        let bytes = take(input, n)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(DatumError::Invalid("string is not UTF-8")),
        }
    }
}

impl AvroDatum for CompactString {
    #[inline]
    fn write_avro(&self, out: &mut Vec<u8>) {
        write_long(out, self.len() as i64);
        out.extend_from_slice(self.as_bytes());
    }
    #[inline]
    fn read_avro(input: &mut &[u8]) -> Result<Self, DatumError> {
        let n = read_len(input)?;
        let bytes = take(input, n)?;
        CompactString::from_utf8(bytes).map_err(|_| DatumError::Invalid("string is not UTF-8"))
    }
}

impl<T: AvroDatum> AvroDatum for Option<T> {
    #[inline]
    fn write_avro(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(2);
                v.write_avro(out);
            }
        }
    }
    #[inline]
    fn read_avro(input: &mut &[u8]) -> Result<Self, DatumError> {
        match read_long(input)? {
            0 => Ok(None),
            1 => T::read_avro(input).map(Some),
            _ => Err(DatumError::Invalid("union branch out of range")),
        }
    }
}

impl<T: AvroDatum> AvroDatum for Vec<T> {
    #[inline]
    fn write_avro(&self, out: &mut Vec<u8>) {
        if !self.is_empty() {
            write_long(out, self.len() as i64);
            for item in self {
                item.write_avro(out);
            }
        }
        out.push(0);
    }
    fn read_avro(input: &mut &[u8]) -> Result<Self, DatumError> {
        let mut items = Vec::new();
        loop {
            let n = read_block_count(input)?;
            if n == 0 {
                return Ok(items);
            }
            // Every item takes at least one byte: never trust a count beyond the input.
            if n > input.len() {
                return Err(DatumError::Eof);
            }
            items.reserve(n);
            for _ in 0..n {
                items.push(T::read_avro(input)?);
            }
        }
    }
}

impl<T: AvroDatum> AvroDatum for BTreeMap<String, T> {
    fn write_avro(&self, out: &mut Vec<u8>) {
        if !self.is_empty() {
            write_long(out, self.len() as i64);
            for (k, v) in self {
                k.write_avro(out);
                v.write_avro(out);
            }
        }
        out.push(0);
    }
    fn read_avro(input: &mut &[u8]) -> Result<Self, DatumError> {
        let mut map = BTreeMap::new();
        loop {
            let n = read_block_count(input)?;
            if n == 0 {
                return Ok(map);
            }
            if n > input.len() {
                return Err(DatumError::Eof);
            }
            for _ in 0..n {
                let k = String::read_avro(input)?;
                let v = T::read_avro(input)?;
                map.insert(k, v);
            }
        }
    }
}

impl AvroDatum for DateTime<Utc> {
    #[inline]
    fn write_avro(&self, out: &mut Vec<u8>) {
        write_long(out, self.timestamp_millis());
    }
    #[inline]
    fn read_avro(input: &mut &[u8]) -> Result<Self, DatumError> {
        DateTime::from_timestamp_millis(read_long(input)?)
            .ok_or(DatumError::Invalid("timestamp-millis out of range"))
    }
}

impl AvroDatum for NaiveDate {
    #[inline]
    fn write_avro(&self, out: &mut Vec<u8>) {
        write_long(out, i64::from(crate::serde_util::date_to_days(*self)));
    }
    #[inline]
    fn read_avro(input: &mut &[u8]) -> Result<Self, DatumError> {
        crate::serde_util::days_to_date(read_int(input)?)
            .ok_or(DatumError::Invalid("date out of range"))
    }
}

/// Encodes a value to a new buffer.
pub fn to_vec<T: AvroDatum>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.write_avro(&mut out);
    out
}

/// Decodes a value that must span the whole input.
pub fn from_slice<T: AvroDatum>(mut input: &[u8]) -> Result<T, DatumError> {
    let v = T::read_avro(&mut input)?;
    if !input.is_empty() {
        return Err(DatumError::Invalid("bytes after the end of the datum"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: AvroDatum + PartialEq + std::fmt::Debug>(v: T) -> Vec<u8> {
        let bytes = to_vec(&v);
        assert_eq!(from_slice::<T>(&bytes).expect("decode"), v);
        bytes
    }

    #[test]
    fn varints_match_the_spec() {
        // Examples from the Avro specification.
        for (v, enc) in [
            (0i64, &[0x00][..]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-2, &[0x03]),
            (2, &[0x04]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
        ] {
            assert_eq!(round_trip(v), enc, "{v}");
        }
        round_trip(i64::MAX);
        round_trip(i64::MIN);
        round_trip(i32::MIN);
        assert_eq!(read_long(&mut &[0x80u8, 0x80][..]), Err(DatumError::Eof));
        assert!(matches!(
            read_long(&mut &[0xffu8; 11][..]),
            Err(DatumError::Invalid(_))
        ));
        assert!(matches!(
            i32::read_avro(&mut &to_vec(&(i64::from(i32::MAX) + 1))[..]),
            Err(DatumError::Invalid(_))
        ));
    }

    #[test]
    fn primitives_and_containers() {
        assert_eq!(round_trip("foo".to_owned()), [0x06, b'f', b'o', b'o']);
        assert_eq!(round_trip(true), [1]);
        assert_eq!(round_trip(Some(3i32)), [2, 6]);
        assert_eq!(round_trip(None::<i32>), [0]);
        assert_eq!(round_trip(Vec::<i64>::new()), [0]);
        assert_eq!(round_trip(vec![1i64, 2]), [4, 2, 4, 0]);
        round_trip(1.5f64);
        round_trip(-0.25f32);
        round_trip(BTreeMap::from([
            ("a".to_owned(), 1i32),
            ("b".to_owned(), 2),
        ]));
        round_trip(NaiveDate::from_ymd_opt(2026, 2, 28).expect("date"));
        round_trip(DateTime::from_timestamp_millis(1_767_225_600_123).expect("ts"));
        // A block with a negative count and a byte size.
        let v: Vec<i64> = from_slice(&[0x03, 0x04, 0x02, 0x04, 0x00]).expect("decode");
        assert_eq!(v, [1, 2]);
    }

    #[test]
    fn bad_input() {
        assert_eq!(from_slice::<String>(&[0x06, b'f']), Err(DatumError::Eof));
        assert!(matches!(
            from_slice::<String>(&[0x03]),
            Err(DatumError::Invalid(_))
        ));
        assert!(matches!(
            from_slice::<String>(&[0x02, 0xff]),
            Err(DatumError::Invalid(_))
        ));
        assert!(matches!(
            from_slice::<bool>(&[2]),
            Err(DatumError::Invalid(_))
        ));
        assert!(matches!(
            from_slice::<Option<i32>>(&[4, 0]),
            Err(DatumError::Invalid(_))
        ));
        assert!(matches!(
            from_slice::<i32>(&[2, 0]),
            Err(DatumError::Invalid(_))
        ));
        // An array claiming more items than there are bytes.
        assert_eq!(
            from_slice::<Vec<i64>>(&[0x80, 0x80, 0x04, 0x02]),
            Err(DatumError::Eof)
        );
    }
}
