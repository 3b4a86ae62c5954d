//! The Confluent wire format: magic byte 0, the 4-byte big-endian schema id, the Avro body.

use crate::EventsError;

/// The magic byte of the Confluent wire format.
pub const MAGIC_BYTE: u8 = 0;

/// Length of the header (magic byte and schema id).
pub const HEADER_LEN: usize = 5;

/// Splits a payload into its schema id and Avro body.
pub fn split(payload: &[u8]) -> Result<(u32, &[u8]), EventsError> {
    match payload {
        [] => Err(EventsError::Truncated("empty payload".into())),
        [magic, ..] if *magic != MAGIC_BYTE => Err(EventsError::WrongMagicByte(*magic)),
        [_, a, b, c, d, body @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), body)),
        short => Err(EventsError::Truncated(format!(
            "{} bytes, shorter than the {HEADER_LEN}-byte header",
            short.len()
        ))),
    }
}

/// Appends the header for `schema_id` to `out`.
pub fn write_header(out: &mut Vec<u8>, schema_id: u32) {
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let mut out = Vec::new();
        write_header(&mut out, 0x0102_0304);
        out.extend_from_slice(b"body");
        assert_eq!(&out[..5], &[0, 1, 2, 3, 4]);
        let (id, body) = split(&out).expect("split");
        assert_eq!(id, 0x0102_0304);
        assert_eq!(body, b"body");
    }

    #[test]
    fn wrong_magic_byte() {
        assert!(matches!(
            split(&[1, 0, 0, 0, 1, 2]),
            Err(EventsError::WrongMagicByte(1))
        ));
        // JSON text is the classic mistake.
        assert!(matches!(
            split(b"{\"order_id\":1}"),
            Err(EventsError::WrongMagicByte(b'{'))
        ));
    }

    #[test]
    fn truncated_header() {
        assert!(matches!(split(&[]), Err(EventsError::Truncated(_))));
        for n in 1..HEADER_LEN {
            let p = vec![0u8; n];
            assert!(
                matches!(split(&p), Err(EventsError::Truncated(_))),
                "{n} bytes"
            );
        }
        // A header with an empty body splits; the body decoder reports it.
        let (id, body) = split(&[0, 0, 0, 0, 9]).expect("split");
        assert_eq!((id, body.len()), (9, 0));
    }
}
