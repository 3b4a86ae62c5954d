//! The membership watchdog: a consumer-group member checks, through the coordinator's own
//! description of the group, that the group really covers its partitions, and leaves and
//! rejoins when it does not. It also decides the member's readiness.
//!
//! Why (see [`crate::quirks`], item 5): a group coordinator may complete a generation in which
//! no member owns some partitions and then never tell anyone to rejoin. tansu 0.6.0 does this
//! when a member is killed and a new one joins within the session timeout: the dead member is
//! still the leader, and when its session expires between the new member's JoinGroup and
//! SyncGroup, the coordinator accepts the follower's empty SyncGroup as the generation's
//! assignment. The only member then owns nothing, heartbeats succeed, and it stays that way.
//!
//! The rules ([`assess`]), from what the coordinator reports:
//! * the group is not `Stable`, or does not list this member, for longer than a rebalance
//!   takes (`long_grace`, more than the session timeout): rejoin;
//! * every member's assignment is known (Apache Kafka reports them) and some partition of the
//!   subscription is in none: rejoin;
//! * assignments are not reported (tansu): this member is alone and does not own every
//!   partition, or owns fewer than any assignor gives a member of a group this size
//!   (`sum(floor(partitions_t / members))`): rejoin after `short_grace`.
//!
//! Rejoins back off (`long_grace`, doubled each time up to `max_backoff`) so a group whose
//! members disagree about their subscriptions is not churned. The member is ready only while the
//! group is healthy by these rules.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::group_probe::Reader;

type Tp = (String, i32);

/// A consumer group as the coordinator describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupView {
    /// The coordinator's state name (`Stable`, `PreparingRebalance`, ...).
    pub state: String,
    /// The members.
    pub members: Vec<MemberView>,
}

/// One member of a [`GroupView`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    /// Member id (brokers prefix it with the client id).
    pub member_id: String,
    /// Client id, where the broker reports it.
    pub client_id: String,
    /// Assigned partitions, where the broker reports them.
    pub assignment: Option<Vec<Tp>>,
}

/// Decodes a consumer-protocol assignment (version, `[topic, [partition]]`, user data); `None`
/// when empty or not decodable.
pub fn decode_assignment(bytes: &[u8]) -> Option<Vec<Tp>> {
    if bytes.is_empty() {
        return None;
    }
    let mut r = Reader::new(bytes);
    let _version = r.i16().ok()?;
    let topics = r.i32().ok()?;
    let mut out = Vec::new();
    for _ in 0..topics.max(0) {
        let topic = r.string().ok()?;
        let n = r.i32().ok()?;
        for _ in 0..n.max(0) {
            out.push((topic.clone(), r.i32().ok()?));
        }
    }
    if !r.is_empty() {
        let _user_data = r.bytes().ok()?;
    }
    Some(out)
}

/// Why a member considers its group unhealthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The coordinator does not list this member.
    NotAMember,
    /// The group is between generations.
    Rebalancing {
        /// The coordinator's state name.
        state: String,
    },
    /// Partitions no member owns (every member's assignment is known).
    Unowned {
        /// The partitions.
        partitions: Vec<Tp>,
    },
    /// This member is alone in the group and does not own every partition.
    AloneWithoutAll {
        /// Partitions owned here.
        owned: usize,
        /// Partitions of the subscription.
        total: usize,
    },
    /// Fewer partitions than any assignor gives a member of a group this size.
    BelowFairShare {
        /// Partitions owned here.
        owned: usize,
        /// The least any member gets.
        minimum: usize,
        /// Members in the group.
        members: usize,
    },
}

impl Problem {
    /// Stable label value (metrics, logs).
    pub fn label(&self) -> &'static str {
        match self {
            Problem::NotAMember => "not_a_member",
            Problem::Rebalancing { .. } => "rebalancing",
            Problem::Unowned { .. } => "unowned_partitions",
            Problem::AloneWithoutAll { .. } => "alone_without_all",
            Problem::BelowFairShare { .. } => "below_fair_share",
        }
    }

    /// Whether the broker is expected to resolve it by itself within a rebalance.
    fn may_resolve_itself(&self) -> bool {
        matches!(self, Problem::NotAMember | Problem::Rebalancing { .. })
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::NotAMember => f.write_str("the coordinator does not list this member"),
            Problem::Rebalancing { state } => write!(f, "the group is in state {state}"),
            Problem::Unowned { partitions } => {
                write!(f, "{} partitions owned by no member: ", partitions.len())?;
                let shown: Vec<String> = partitions
                    .iter()
                    .take(8)
                    .map(|(t, p)| format!("{t}/{p}"))
                    .collect();
                f.write_str(&shown.join(", "))
            }
            Problem::AloneWithoutAll { owned, total } => write!(
                f,
                "alone in the group but owning {owned} of {total} partitions"
            ),
            Problem::BelowFairShare {
                owned,
                minimum,
                members,
            } => write!(
                f,
                "owning {owned} partitions where any assignor gives each of {members} members at least {minimum}"
            ),
        }
    }
}

/// The verdict of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The group covers its partitions as far as can be told; the detail is for `/readyz`.
    Healthy(String),
    /// Something is wrong.
    Suspect(Problem),
}

/// Judges `view` from the point of view of the member whose client id is `client_id`, which
/// owns `owned` of the subscription's partitions (`partitions`: topic -> count).
pub fn assess(
    view: &GroupView,
    client_id: &str,
    owned: &HashSet<Tp>,
    partitions: &HashMap<String, i32>,
) -> Health {
    let prefix = format!("{client_id}-");
    let me = view
        .members
        .iter()
        .any(|m| m.client_id == client_id || m.member_id.starts_with(&prefix));
    if !me {
        return Health::Suspect(Problem::NotAMember);
    }
    if view.state != "Stable" {
        return Health::Suspect(Problem::Rebalancing {
            state: view.state.clone(),
        });
    }
    let total: usize = partitions.values().map(|n| (*n).max(0) as usize).sum();
    let members = view.members.len();
    if view.members.iter().all(|m| m.assignment.is_some()) {
        let covered: HashSet<&Tp> = view
            .members
            .iter()
            .flat_map(|m| m.assignment.iter().flatten())
            .collect();
        let unowned: BTreeSet<Tp> = partitions
            .iter()
            .flat_map(|(t, n)| (0..*n).map(move |p| (t.clone(), p)))
            .filter(|tp| !covered.contains(tp))
            .collect();
        if !unowned.is_empty() {
            return Health::Suspect(Problem::Unowned {
                partitions: unowned.into_iter().collect(),
            });
        }
    } else if members == 1 && owned.len() < total {
        return Health::Suspect(Problem::AloneWithoutAll {
            owned: owned.len(),
            total,
        });
    } else {
        let minimum: usize = partitions
            .values()
            .map(|n| (*n).max(0) as usize / members.max(1))
            .sum();
        if owned.len() < minimum {
            return Health::Suspect(Problem::BelowFairShare {
                owned: owned.len(),
                minimum,
                members,
            });
        }
    }
    Health::Healthy(format!(
        "{} of {total} partitions owned here; group stable with {members} member{}",
        owned.len(),
        if members == 1 { "" } else { "s" }
    ))
}

/// Timing of the watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchdogConfig {
    /// How often the group is described.
    pub interval: Duration,
    /// How long a problem the broker will not fix by itself must last before a rejoin.
    pub short_grace: Duration,
    /// How long a rebalance may take before a rejoin (more than the session timeout).
    pub long_grace: Duration,
    /// Longest wait between two rejoins.
    pub max_backoff: Duration,
}

impl WatchdogConfig {
    /// Timings for a group with `session_timeout`.
    pub fn for_session_timeout(session_timeout: Duration) -> Self {
        Self {
            interval: Duration::from_secs(1),
            short_grace: Duration::from_secs(3),
            long_grace: session_timeout + Duration::from_secs(5),
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// What the watchdog asks the poll loop to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing.
    Nothing,
    /// Leave the group and join again, for this reason.
    Rejoin(Problem),
}

/// The decision over time: a problem must outlast its grace (counted from the later of its
/// first sighting and the last rebalance this member went through) before a rejoin, and rejoins
/// back off.
#[derive(Debug, Clone)]
pub struct Watchdog {
    config: WatchdogConfig,
    suspect_since: Option<Instant>,
    last_rejoin: Option<Instant>,
    rejoins_in_a_row: u32,
}

impl Watchdog {
    /// A watchdog with `config`.
    pub fn new(config: WatchdogConfig) -> Self {
        Self {
            config,
            suspect_since: None,
            last_rejoin: None,
            rejoins_in_a_row: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &WatchdogConfig {
        &self.config
    }

    fn backoff(&self) -> Duration {
        if self.rejoins_in_a_row == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32 << (self.rejoins_in_a_row - 1).min(16);
        self.config
            .long_grace
            .saturating_mul(factor)
            .min(self.config.max_backoff)
    }

    /// Takes one verdict at `now`; `last_rebalance` is when this member last finished an
    /// assignment or revocation.
    pub fn observe(&mut self, now: Instant, health: &Health, last_rebalance: Instant) -> Action {
        let problem = match health {
            Health::Healthy(_) => {
                self.suspect_since = None;
                self.rejoins_in_a_row = 0;
                return Action::Nothing;
            }
            Health::Suspect(p) => p,
        };
        let since = *self.suspect_since.get_or_insert(now);
        let from = since.max(last_rebalance);
        let grace = if problem.may_resolve_itself() {
            self.config.long_grace
        } else {
            self.config.short_grace
        };
        if now.saturating_duration_since(from) < grace {
            return Action::Nothing;
        }
        if let Some(last) = self.last_rejoin {
            if now.saturating_duration_since(last) < self.backoff() {
                return Action::Nothing;
            }
        }
        self.suspect_since = None;
        self.last_rejoin = Some(now);
        self.rejoins_in_a_row = self.rejoins_in_a_row.saturating_add(1);
        Action::Rejoin(problem.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, assignment: Option<Vec<(&str, i32)>>) -> MemberView {
        MemberView {
            member_id: id.into(),
            client_id: String::new(),
            assignment: assignment.map(|a| a.into_iter().map(|(t, p)| (t.into(), p)).collect()),
        }
    }

    fn view(state: &str, members: Vec<MemberView>) -> GroupView {
        GroupView {
            state: state.into(),
            members,
        }
    }

    fn owned(ps: &[i32]) -> HashSet<Tp> {
        ps.iter().map(|p| ("t".to_owned(), *p)).collect()
    }

    fn six() -> HashMap<String, i32> {
        HashMap::from([("t".to_owned(), 6)])
    }

    #[test]
    fn a_lone_member_without_its_partitions_is_suspect() {
        // What tansu left after kill -9 and a quick restart: one member, nothing owned.
        let v = view("Stable", vec![member("me-1234", None)]);
        assert_eq!(
            assess(&v, "me", &owned(&[]), &six()),
            Health::Suspect(Problem::AloneWithoutAll { owned: 0, total: 6 })
        );
        assert!(matches!(
            assess(&v, "me", &owned(&[0, 1, 2, 3, 4, 5]), &six()),
            Health::Healthy(_)
        ));
    }

    #[test]
    fn a_member_not_listed_or_a_group_in_rebalance_is_suspect() {
        let v = view("Stable", vec![member("other-1", None)]);
        assert_eq!(
            assess(&v, "me", &owned(&[]), &six()),
            Health::Suspect(Problem::NotAMember)
        );
        let v = view("Assigning", vec![member("me-1", None), member("x-2", None)]);
        assert!(matches!(
            assess(&v, "me", &owned(&[0, 1, 2]), &six()),
            Health::Suspect(Problem::Rebalancing { .. })
        ));
    }

    #[test]
    fn known_assignments_must_cover_every_partition() {
        let v = view(
            "Stable",
            vec![
                member("me-1", Some(vec![("t", 0), ("t", 1), ("t", 2)])),
                member("x-2", Some(vec![("t", 3)])),
            ],
        );
        assert_eq!(
            assess(&v, "me", &owned(&[0, 1, 2]), &six()),
            Health::Suspect(Problem::Unowned {
                partitions: vec![("t".into(), 4), ("t".into(), 5)]
            })
        );
        // Others owning everything: a member with nothing is fine (more members than
        // partitions, or a sticky assignor).
        let v = view(
            "Stable",
            vec![
                member("me-1", Some(vec![])),
                member("x-2", Some((0..6).map(|p| ("t", p)).collect())),
            ],
        );
        assert!(matches!(
            assess(&v, "me", &owned(&[]), &six()),
            Health::Healthy(_)
        ));
    }

    #[test]
    fn unknown_assignments_fall_back_to_the_fair_share() {
        let two = vec![member("me-1", None), member("x-2", None)];
        assert!(matches!(
            assess(
                &view("Stable", two.clone()),
                "me",
                &owned(&[0, 1, 2]),
                &six()
            ),
            Health::Healthy(_)
        ));
        assert_eq!(
            assess(&view("Stable", two), "me", &owned(&[]), &six()),
            Health::Suspect(Problem::BelowFairShare {
                owned: 0,
                minimum: 3,
                members: 2
            })
        );
        // Seven members, six partitions: owning nothing is a legitimate share.
        let seven: Vec<MemberView> = (0..7)
            .map(|i| member(&format!("{}-{i}", if i == 0 { "me" } else { "x" }), None))
            .collect();
        assert!(matches!(
            assess(&view("Stable", seven), "me", &owned(&[]), &six()),
            Health::Healthy(_)
        ));
    }

    #[test]
    fn assignments_decode_from_the_consumer_protocol() {
        let mut b = 1i16.to_be_bytes().to_vec();
        b.extend_from_slice(&1i32.to_be_bytes());
        b.extend_from_slice(&1i16.to_be_bytes());
        b.push(b't');
        b.extend_from_slice(&2i32.to_be_bytes());
        b.extend_from_slice(&0i32.to_be_bytes());
        b.extend_from_slice(&4i32.to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes()); // null user data
        assert_eq!(
            decode_assignment(&b),
            Some(vec![("t".into(), 0), ("t".into(), 4)])
        );
        assert_eq!(decode_assignment(&[]), None);
        assert_eq!(decode_assignment(&b[..5]), None);
    }

    #[test]
    fn the_watchdog_waits_out_the_grace_and_backs_off() {
        let cfg = WatchdogConfig::for_session_timeout(Duration::from_secs(10));
        let mut w = Watchdog::new(cfg);
        let t0 = Instant::now();
        let lone = Health::Suspect(Problem::AloneWithoutAll { owned: 0, total: 6 });
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(w.observe(at(0), &lone, t0), Action::Nothing);
        assert_eq!(w.observe(at(2), &lone, t0), Action::Nothing);
        assert!(matches!(w.observe(at(3), &lone, t0), Action::Rejoin(_)));
        // Still wrong after the rejoin: the next one waits the back-off (long grace), and
        // the grace restarts from the rebalance the rejoin caused.
        assert_eq!(w.observe(at(5), &lone, at(4)), Action::Nothing);
        assert_eq!(w.observe(at(10), &lone, at(4)), Action::Nothing);
        assert!(matches!(w.observe(at(18), &lone, at(4)), Action::Rejoin(_)));
        assert_eq!(w.observe(at(40), &lone, at(19)), Action::Nothing);
        assert!(matches!(
            w.observe(at(49), &lone, at(19)),
            Action::Rejoin(_)
        ));
        // Healthy resets everything.
        assert_eq!(
            w.observe(at(50), &Health::Healthy(String::new()), at(49)),
            Action::Nothing
        );
        assert_eq!(w.observe(at(51), &lone, at(49)), Action::Nothing);
        assert!(matches!(
            w.observe(at(54), &lone, at(49)),
            Action::Rejoin(_)
        ));
    }

    #[test]
    fn a_rebalance_gets_the_long_grace() {
        let cfg = WatchdogConfig::for_session_timeout(Duration::from_secs(10));
        let mut w = Watchdog::new(cfg);
        let t0 = Instant::now();
        let r = Health::Suspect(Problem::Rebalancing {
            state: "PreparingRebalance".into(),
        });
        assert_eq!(w.observe(t0, &r, t0), Action::Nothing);
        assert_eq!(
            w.observe(t0 + Duration::from_secs(14), &r, t0),
            Action::Nothing
        );
        assert!(matches!(
            w.observe(t0 + Duration::from_secs(15), &r, t0),
            Action::Rejoin(_)
        ));
    }
}
