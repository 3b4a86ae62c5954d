//! Serde adapters the generated types use for Avro logical types, so their serde form is the
//! Avro one (`date` as days since the epoch; `timestamp-millis` uses
//! `chrono::serde::ts_milliseconds`).

use chrono::{Datelike, NaiveDate};

/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Days since 1970-01-01 (the Avro `date` value) of a date.
pub fn date_to_days(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

/// The date `days` after 1970-01-01, if representable.
pub fn days_to_date(days: i32) -> Option<NaiveDate> {
    days.checked_add(UNIX_EPOCH_DAYS_FROM_CE)
        .and_then(NaiveDate::from_num_days_from_ce_opt)
}

/// `int` / `date` <-> `chrono::NaiveDate`.
pub mod date {
    use chrono::NaiveDate;
    use serde::{de, Deserialize, Deserializer, Serializer};

    /// Serializes as days since 1970-01-01.
    pub fn serialize<S: Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(super::date_to_days(*d))
    }

    /// Deserializes from days since 1970-01-01.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        let days = i32::deserialize(d)?;
        super::days_to_date(days)
            .ok_or_else(|| de::Error::custom(format!("date out of range: {days} days")))
    }
}

/// `["null", {int / date}]` <-> `Option<chrono::NaiveDate>`.
pub mod date_option {
    use chrono::NaiveDate;
    use serde::{de, Deserialize, Deserializer, Serializer};

    /// Serializes `None` as null, a date as days since 1970-01-01.
    pub fn serialize<S: Serializer>(d: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&super::date_to_days(*d)),
            None => s.serialize_none(),
        }
    }

    /// Deserializes null as `None`, days since 1970-01-01 as a date.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        match Option::<i32>::deserialize(d)? {
            None => Ok(None),
            Some(days) => super::days_to_date(days)
                .map(Some)
                .ok_or_else(|| de::Error::custom(format!("date out of range: {days} days"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_is_day_zero() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("date");
        assert_eq!(date_to_days(epoch), 0);
        assert_eq!(days_to_date(0), Some(epoch));
        let d = NaiveDate::from_ymd_opt(2026, 3, 14).expect("date");
        assert_eq!(days_to_date(date_to_days(d)), Some(d));
        assert_eq!(
            date_to_days(NaiveDate::from_ymd_opt(1969, 12, 31).expect("date")),
            -1
        );
        assert_eq!(days_to_date(i32::MAX), None);
    }
}
