//! Per-channel safety stock: units held back from a channel's available-to-promise.
//!
//! Defaults per channel come from `--safety-stock` (`HTTP=0,EDI=2,ECOMMERCE=5,CRM=0`); an optional
//! JSON file (`--safety-stock-file`) adds overrides, the most specific winning:
//!
//! ```json
//! {"default": {"ECOMMERCE": 5},
//!  "rules": [{"sku": "SKU-1", "channels": {"ECOMMERCE": 20}},
//!            {"location": "DC-EAST-01", "channels": {"EDI": 3}},
//!            {"sku": "SKU-1", "location": "DC-EAST-01", "channels": {"HTTP": 1}}]}
//! ```
//!
//! Precedence: SKU and location, then SKU, then location, then the file's default, then the
//! flag. A channel not named anywhere holds back nothing; an order from an unknown channel
//! gets the largest safety stock of the position (the most conservative).

use std::collections::HashMap;

use dsync_events::OrderChannel;
use serde::Deserialize;

use crate::state::CHANNELS;
use crate::ProjectorError;

/// Safety stock per channel, by channel symbol.
pub type ChannelUnits = HashMap<String, i64>;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    default: ChannelUnits,
    #[serde(default)]
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    sku: Option<String>,
    location: Option<String>,
    channels: ChannelUnits,
}

/// The resolved safety stock rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SafetyRules {
    default: [i64; 4],
    by_sku_location: HashMap<(String, String), ChannelUnits>,
    by_sku: HashMap<String, ChannelUnits>,
    by_location: HashMap<String, ChannelUnits>,
}

fn index(channel: &str) -> Option<usize> {
    CHANNELS.iter().position(|c| c.as_str() == channel)
}

fn check(units: &ChannelUnits, what: &str) -> Result<(), String> {
    for (ch, n) in units {
        if index(ch).is_none() {
            return Err(format!(
                "{what}: unknown channel {ch:?} (HTTP, EDI, ECOMMERCE, CRM)"
            ));
        }
        if *n < 0 {
            return Err(format!("{what}: negative safety stock for {ch}"));
        }
    }
    Ok(())
}

/// Parses `HTTP=0,EDI=2` (empty: none).
pub fn parse_channel_units(s: &str) -> Result<ChannelUnits, String> {
    let mut out = ChannelUnits::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("expected CHANNEL=UNITS, got {part:?}"))?;
        let n: i64 = v
            .trim()
            .parse()
            .map_err(|_| format!("bad units in {part:?}"))?;
        out.insert(k.trim().to_ascii_uppercase(), n);
    }
    check(&out, "--safety-stock")?;
    Ok(out)
}

impl SafetyRules {
    /// Rules from the flag's defaults and an optional JSON file's content.
    pub fn new(
        defaults: &ChannelUnits,
        file: Option<(&str, &str)>,
    ) -> Result<Self, ProjectorError> {
        let mut rules = SafetyRules::default();
        for (ch, n) in defaults {
            if let Some(i) = index(ch) {
                rules.default[i] = *n;
            }
        }
        if let Some((path, text)) = file {
            let bad = |reason: String| ProjectorError::Rules {
                path: path.to_owned(),
                reason,
            };
            let f: RulesFile = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
            check(&f.default, "default").map_err(bad)?;
            for (ch, n) in &f.default {
                if let Some(i) = index(ch) {
                    rules.default[i] = *n;
                }
            }
            for (i, r) in f.rules.into_iter().enumerate() {
                check(&r.channels, &format!("rules[{i}]")).map_err(bad)?;
                match (r.sku, r.location) {
                    (Some(s), Some(l)) => {
                        rules.by_sku_location.insert((s, l), r.channels);
                    }
                    (Some(s), None) => {
                        rules.by_sku.insert(s, r.channels);
                    }
                    (None, Some(l)) => {
                        rules.by_location.insert(l, r.channels);
                    }
                    (None, None) => {
                        return Err(bad(format!("rules[{i}] names neither sku nor location")))
                    }
                }
            }
        }
        Ok(rules)
    }

    /// Units held back from `channel` for `sku` at `location`.
    pub fn safety(&self, sku: &str, location: &str, channel: OrderChannel) -> i64 {
        let Some(i) = index(channel.as_str()) else {
            return (0..CHANNELS.len())
                .map(|i| self.safety_at(sku, location, i))
                .max()
                .unwrap_or(0);
        };
        self.safety_at(sku, location, i)
    }

    fn safety_at(&self, sku: &str, location: &str, i: usize) -> i64 {
        let ch = CHANNELS[i].as_str();
        if !self.by_sku_location.is_empty() {
            if let Some(n) = self
                .by_sku_location
                .get(&(sku.to_owned(), location.to_owned()))
                .and_then(|u| u.get(ch))
            {
                return *n;
            }
        }
        if let Some(n) = self.by_sku.get(sku).and_then(|u| u.get(ch)) {
            return *n;
        }
        if let Some(n) = self.by_location.get(location).and_then(|u| u.get(ch)) {
            return *n;
        }
        self.default[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_rule_wins() {
        let defaults = parse_channel_units("ECOMMERCE=5, edi=1").expect("parses");
        let file = r#"{"default":{"CRM":2},"rules":[
            {"sku":"A","channels":{"ECOMMERCE":20}},
            {"location":"L1","channels":{"EDI":3}},
            {"sku":"A","location":"L1","channels":{"HTTP":1}}]}"#;
        let r = SafetyRules::new(&defaults, Some(("rules.json", file))).expect("rules");
        assert_eq!(r.safety("B", "L2", OrderChannel::Ecommerce), 5);
        assert_eq!(r.safety("B", "L2", OrderChannel::Edi), 1);
        assert_eq!(r.safety("B", "L2", OrderChannel::Crm), 2);
        assert_eq!(r.safety("A", "L2", OrderChannel::Ecommerce), 20);
        assert_eq!(r.safety("B", "L1", OrderChannel::Edi), 3);
        assert_eq!(r.safety("A", "L1", OrderChannel::Http), 1);
        assert_eq!(r.safety("A", "L1", OrderChannel::Ecommerce), 20);
        assert_eq!(r.safety("A", "L2", OrderChannel::Unknown), 20);
        assert!(parse_channel_units("FAX=1").is_err());
        assert!(
            SafetyRules::new(&defaults, Some(("x", r#"{"rules":[{"channels":{}}]}"#))).is_err()
        );
    }
}
