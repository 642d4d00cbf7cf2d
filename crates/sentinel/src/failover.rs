//! [`Failover`]: a service's failover as the sentinels announce it, followed step by step,
//! as plain state without I/O. The master client's shell ([`crate::master`]) feeds it what
//! the sentinels publish and does what it answers: hold the writes, move to the new
//! master, let the writes go.
//!
//! Why hold writes: replication is asynchronous, and the old master keeps acknowledging
//! writes after the replica it replicates to has been made a master (`SLAVEOF NO ONE`)
//! until the sentinels demote it, about a second later. Those writes are lost. The
//! sentinel that leads a failover announces each of its steps as it takes them, one per
//! tick of its timer: `+try-failover`, `+elected-leader`, `+failover-state-select-slave`,
//! `+selected-slave` with `+failover-state-send-slaveof-noone`, then (a tick later) the
//! promotion itself with `+failover-state-wait-promotion`, `+promoted-slave` once the
//! replica says it is a master, and at last `+switch-master`. Holding writes from the
//! first of them, at least one tick before the promotion, leaves the writes already sent
//! the time to reach the replica; the writes held go to the new master once the client is
//! there.

use std::time::{Duration, Instant};

use slotline_conn::Addr;

use slotline_resp::Frame;

use crate::replies::{entry_addr, field, parse_switch};

/// The channels a follower subscribes to on each sentinel.
pub(crate) const CHANNELS: [&str; 9] = [
    "+try-failover",
    "+elected-leader",
    "+failover-state-select-slave",
    "+selected-slave",
    "+failover-state-send-slaveof-noone",
    "+failover-state-wait-promotion",
    "+promoted-slave",
    "+switch-master",
    "+failover-end-for-timeout",
];

/// The pattern of the channels that say a failover was given up
/// (`-failover-abort-not-elected`, `-failover-abort-no-good-slave`,
/// `-failover-abort-slave-timeout`).
pub(crate) const ABORTS: &str = "-failover-abort-*";

/// A failover not heard of for this long is checked with the sentinel that announced it.
pub(crate) const QUIET: Duration = Duration::from_secs(2);

/// Checks of a held failover that found no sentinel to answer, after which the writes
/// go (to whichever node the usual rules find).
const UNANSWERED_CHECKS: u32 = 3;

/// What a sentinel announced about a failover of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum News {
    /// A sentinel tries to fail over (the master named is the old one); it may not be
    /// the one elected to lead.
    Started,
    /// The sentinel that sent this leads the failover (`+elected-leader`,
    /// `+failover-state-select-slave`: only the leader announces them).
    Leading,
    /// This replica was chosen, or is being promoted.
    Promoting(Addr),
    /// This node is the master now (`+promoted-slave`, `+switch-master`).
    Promoted(Addr),
    /// The failover was given up: the master stays.
    Aborted,
}

/// Reads a sentinel's message on `channel`: the service it is about and what it says;
/// `None` for a message of no concern or one that cannot be read.
///
/// Payloads: `master <name> <ip> <port>` for the master's steps, `slave <ip:port> <ip>
/// <port> @ <name> <master ip> <master port>` for the replica's, `<name> <old ip> <old
/// port> <new ip> <new port>` for `+switch-master`.
pub(crate) fn parse_news(channel: &[u8], payload: &[u8]) -> Option<(String, News)> {
    if channel == b"+switch-master" {
        let switch = parse_switch(payload)?;
        return Some((switch.service, News::Promoted(switch.new)));
    }
    let text = std::str::from_utf8(payload).ok()?;
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    let (service, replica) = match words.as_slice() {
        ["master", name, ..] => (*name, None),
        ["slave", _, ip, port, "@", name, ..] => (*name, Some(Addr::tcp(*ip, port.parse().ok()?))),
        _ => return None,
    };
    let news = match (channel, replica) {
        (b"+try-failover", _) => News::Started,
        (b"+elected-leader" | b"+failover-state-select-slave", _) => News::Leading,
        // The timeout of the replicas' reconfiguration: the switch follows.
        (b"+failover-end-for-timeout", _) => return None,
        (
            b"+selected-slave"
            | b"+failover-state-send-slaveof-noone"
            | b"+failover-state-wait-promotion",
            Some(replica),
        ) => News::Promoting(replica),
        (b"+promoted-slave", Some(replica)) => News::Promoted(replica),
        (c, _) if c.starts_with(b"-failover-abort-") => News::Aborted,
        _ => return None,
    };
    Some((service.to_string(), news))
}

/// What the shell does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Nothing changes.
    Nothing,
    /// Hold writes from now on (reads go on).
    HoldWrites,
    /// Move the client to this node, the master now, once the requests in flight on the
    /// old one are answered; keep holding writes until it is there
    /// ([`Failover::arrived`]).
    MoveTo(Addr),
    /// Let the held writes go.
    Release,
}

/// What a check of a quiet failover found (`SENTINEL MASTER <service>` on the sentinel
/// that announced it, or any other).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Checked {
    /// The failover is still under way.
    UnderWay,
    /// No failover is under way; this node is the master.
    Over(Addr),
    /// No sentinel answered.
    Unanswered,
}

/// What `SENTINEL MASTER <service>` says of a failover: under way while its flags say
/// `failover_in_progress` (on the sentinel that leads it), else over, with the master it
/// names; an error or an unreadable reply counts as no answer.
pub(crate) fn read_master_state(reply: &Frame) -> Checked {
    let in_progress = field(reply, "flags")
        .is_some_and(|flags| flags.split(',').any(|f| f == "failover_in_progress"));
    match entry_addr(reply) {
        _ if in_progress => Checked::UnderWay,
        Some(master) => Checked::Over(master),
        None => Checked::Unanswered,
    }
}

/// Where the failover of one service stands, as far as this client knows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// No failover under way: writes go.
    Steady,
    /// A failover is under way: writes are held.
    UnderWay {
        /// The sentinel that announced it, or the one that leads it once known (asked when
        /// it goes quiet; only its abort counts).
        by: Addr,
        /// When it was last heard of.
        heard: Instant,
        /// Checks that found no sentinel to answer.
        unanswered: u32,
    },
    /// The new master is known and the client is moving there: writes are held until it
    /// has arrived.
    Moving { to: Addr },
}

/// The failover of one service, followed from the sentinels' announcements.
#[derive(Debug, Clone)]
pub(crate) struct Failover {
    phase: Phase,
}

impl Default for Failover {
    fn default() -> Self {
        Failover {
            phase: Phase::Steady,
        }
    }
}

impl Failover {
    /// Whether writes are held now.
    pub(crate) fn holds_writes(&self) -> bool {
        !matches!(self.phase, Phase::Steady)
    }

    /// The node the client is moving to, if it is: the master, though the sentinels may
    /// still name the old one until `+switch-master`.
    pub(crate) fn moving_to(&self) -> Option<&Addr> {
        match &self.phase {
            Phase::Moving { to } => Some(to),
            _ => None,
        }
    }

    /// `news` from the sentinel at `by`, heard at `now`, while the client is connected to
    /// `current` (or was last).
    pub(crate) fn hear(&mut self, news: News, by: &Addr, current: &Addr, now: Instant) -> Action {
        match (&mut self.phase, news) {
            (Phase::Steady, News::Started | News::Leading | News::Promoting(_)) => {
                self.phase = Phase::UnderWay {
                    by: by.clone(),
                    heard: now,
                    unanswered: 0,
                };
                Action::HoldWrites
            }
            (Phase::UnderWay { heard, .. }, News::Started) => {
                *heard = now;
                Action::Nothing
            }
            // Only the sentinel that leads the failover announces these: it is the one to
            // ask, and the one whose abort counts.
            (
                Phase::UnderWay {
                    by: leader, heard, ..
                },
                News::Leading | News::Promoting(_),
            ) => {
                *leader = by.clone();
                *heard = now;
                Action::Nothing
            }
            // Already there: a sentinel that learned of the switch later, or a failover
            // back to where the client is.
            (Phase::Steady, News::Promoted(new)) if new == *current => Action::Nothing,
            (Phase::UnderWay { .. }, News::Promoted(new)) if new == *current => {
                self.phase = Phase::Steady;
                Action::Release
            }
            (Phase::Moving { to }, News::Promoted(new)) if new == *to => Action::Nothing,
            (_, News::Promoted(new)) => {
                self.phase = Phase::Moving { to: new.clone() };
                Action::MoveTo(new)
            }
            (Phase::UnderWay { by: leader, .. }, News::Aborted) if *leader == *by => {
                self.phase = Phase::Steady;
                Action::Release
            }
            // A sentinel that tried and was not elected: another one leads.
            (Phase::UnderWay { .. }, News::Aborted) => Action::Nothing,
            // An abort after a promotion was seen is not one (the promotion stands).
            (Phase::Moving { .. } | Phase::Steady, News::Aborted) => Action::Nothing,
            (Phase::Moving { .. }, News::Started | News::Leading | News::Promoting(_)) => {
                Action::Nothing
            }
        }
    }

    /// The sentinels, asked again (a subscription came back: a switch may have been
    /// missed), name `master` while the client is at `current`. While a failover is under
    /// way they still name the old master until the switch: only a steady client moves.
    pub(crate) fn resolved(&mut self, master: Addr, current: &Addr) -> Action {
        match self.phase {
            Phase::Steady if master != *current => {
                self.phase = Phase::Moving { to: master.clone() };
                Action::MoveTo(master)
            }
            _ => Action::Nothing,
        }
    }

    /// The client has a new connection: the move is over (at the new master, or wherever
    /// the sentinels sent it if that could not be reached).
    pub(crate) fn arrived(&mut self) -> Action {
        match &self.phase {
            Phase::Moving { .. } => {
                self.phase = Phase::Steady;
                Action::Release
            }
            _ => Action::Nothing,
        }
    }

    /// The sentinel to ask whether a failover not heard of for [`QUIET`] is still under
    /// way (a leader that died or was cut off announces nothing more); `None` when no
    /// check is due.
    pub(crate) fn check_due(&self, now: Instant) -> Option<Addr> {
        match &self.phase {
            Phase::UnderWay { by, heard, .. } if now.duration_since(*heard) >= QUIET => {
                Some(by.clone())
            }
            _ => None,
        }
    }

    /// What a check found, at `now`, with the client at `current`.
    pub(crate) fn checked(&mut self, found: Checked, current: &Addr, now: Instant) -> Action {
        let Phase::UnderWay {
            heard, unanswered, ..
        } = &mut self.phase
        else {
            return Action::Nothing;
        };
        match found {
            Checked::UnderWay => {
                *heard = now;
                *unanswered = 0;
                Action::Nothing
            }
            Checked::Over(master) if master == *current => {
                self.phase = Phase::Steady;
                Action::Release
            }
            Checked::Over(master) => {
                self.phase = Phase::Moving { to: master.clone() };
                Action::MoveTo(master)
            }
            Checked::Unanswered => {
                *heard = now;
                *unanswered += 1;
                if *unanswered >= UNANSWERED_CHECKS {
                    self.phase = Phase::Steady;
                    return Action::Release;
                }
                Action::Nothing
            }
        }
    }
}

#[cfg(test)]
#[path = "failover_tests.rs"]
mod tests;
