//! Delimiters of an interchange, as read from its ISA or chosen for output.

use crate::error::X12Error;

/// The delimiters of one interchange.
///
/// Inbound they are read from the ISA (element separator = 4th byte, component separator =
/// ISA16, segment terminator = the byte after ISA16, repetition separator = ISA11 from 00501).
/// Outbound they come from the partner profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Separators {
    /// Data element separator.
    pub element: u8,
    /// Component (sub-element) separator, ISA16.
    pub component: u8,
    /// Segment terminator.
    pub segment: u8,
    /// Repetition separator, ISA11 from version 00501; `None` for 00401 (ISA11 = `U`).
    pub repetition: Option<u8>,
}

impl Separators {
    /// `*`, `:`, `~` and no repetition separator: the most common 004010 choice.
    pub const STANDARD_00401: Separators = Separators {
        element: b'*',
        component: b':',
        segment: b'~',
        repetition: None,
    };

    /// `*`, `:`, `~` and `^` as repetition separator: the most common 005010 choice.
    pub const STANDARD_00501: Separators = Separators {
        element: b'*',
        component: b':',
        segment: b'~',
        repetition: Some(b'^'),
    };

    /// Whether `b` is one of the delimiters.
    pub fn is_delimiter(&self, b: u8) -> bool {
        b == self.element || b == self.component || b == self.segment || self.repetition == Some(b)
    }

    /// Checks that the delimiters are distinct and usable (see [`usable_delimiter`]).
    pub fn validate(&self) -> Result<(), X12Error> {
        let all = [
            ("element separator", Some(self.element)),
            ("component separator", Some(self.component)),
            ("segment terminator", Some(self.segment)),
            ("repetition separator", self.repetition),
        ];
        for (i, (name, b)) in all.iter().enumerate() {
            let Some(b) = *b else { continue };
            if !usable_delimiter(b, i == 2) {
                return Err(X12Error::Separators(format!(
                    "{name} {:?} is not a usable delimiter",
                    char::from(b)
                )));
            }
            for (other, ob) in &all[i + 1..] {
                if *ob == Some(b) {
                    return Err(X12Error::Separators(format!(
                        "{name} and {other} are both {:?}",
                        char::from(b)
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Whether `b` can be a delimiter: not a letter, digit or space, ASCII, not NUL; control
/// characters (e.g. the 0x1C..0x1F "binary" delimiters some partners use) are allowed, except
/// that only the segment terminator may be a carriage return or line feed.
pub fn usable_delimiter(b: u8, terminator: bool) -> bool {
    !b.is_ascii_alphanumeric()
        && b != b' '
        && b != 0
        && b < 0x80
        && (terminator || (b != b'\r' && b != b'\n'))
}

/// Whether the optional line break after each segment terminator is written, and which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LineEnding {
    /// Segments follow each other directly.
    #[default]
    None,
    /// `\n` after each terminator.
    Lf,
    /// `\r\n` after each terminator.
    CrLf,
}

impl LineEnding {
    /// The bytes written after each segment terminator.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            LineEnding::None => b"",
            LineEnding::Lf => b"\n",
            LineEnding::CrLf => b"\r\n",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_separators_are_valid() {
        assert!(Separators::STANDARD_00401.validate().is_ok());
        assert!(Separators::STANDARD_00501.validate().is_ok());
    }

    #[test]
    fn clashing_or_alphanumeric_separators_are_refused() {
        let mut s = Separators::STANDARD_00501;
        s.component = b'*';
        assert!(s.validate().is_err());
        let mut s = Separators::STANDARD_00401;
        s.element = b'A';
        assert!(s.validate().is_err());
        let mut s = Separators::STANDARD_00401;
        s.segment = b'\n';
        assert!(s.validate().is_ok());
        s.element = b'\r';
        assert!(s.validate().is_err());
        s.element = 0x1d;
        assert!(s.validate().is_ok());
    }
}
