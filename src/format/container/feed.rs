//! The findings a rebuild masks and its check expects, pulled one at a
//! time in scan order: from the list the scan kept, or from a second scan
//! running beside the rebuild when there were too many to keep (see
//! `run/rebuilt.rs`). Either way nothing here holds more than one finding.

use sha2::{Digest, Sha256};

use super::*;

/// Whether a finding is to be masked (the run's policy, asked again for
/// each finding as it comes: the answer is a function of the finding).
pub type Decide<'d> = dyn Fn(&Hit) -> bool + Sync + 'd;

/// Hands out the next finding in scan order, or `None` at the end.
pub type Source<'a> = Box<dyn FnMut() -> Result<Option<MemberFinding>, InputError> + Send + 'a>;

/// The findings of one file in scan order: the ones to mask are handed out
/// ([`Feed::peek`], [`Feed::pop`]); the ones meant to stay are counted into
/// [`Feed::kept`] as they go past.
pub struct Feed<'a> {
    source: Source<'a>,
    decide: &'a Decide<'a>,
    next: Option<MemberFinding>,
    /// The findings meant to stay (allowed or report-only), as places.
    pub kept: Places,
}

impl<'a> Feed<'a> {
    /// A feed over `source`, split by `decide`.
    pub fn new(source: Source<'a>, decide: &'a Decide<'a>) -> Feed<'a> {
        Feed {
            source,
            decide,
            next: None,
            kept: Places::default(),
        }
    }

    /// The next finding to mask, without taking it.
    pub fn peek(&mut self) -> Result<Option<&MemberFinding>, InputError> {
        while self.next.is_none() {
            let Some(m) = (self.source)()? else {
                return Ok(None);
            };
            if (self.decide)(&m.hit) {
                self.next = Some(m);
            } else {
                self.kept.add(&m);
            }
        }
        Ok(self.next.as_ref())
    }

    /// Takes the finding [`Feed::peek`] showed.
    pub fn pop(&mut self) -> Option<MemberFinding> {
        self.next.take()
    }

    /// The next finding to mask if it lies in the stream `route` (zip
    /// member indexes from the top) and starts before `end`.
    pub fn pop_in(
        &mut self,
        route: &[usize],
        end: u64,
    ) -> Result<Option<MemberFinding>, InputError> {
        Ok(match self.peek()? {
            Some(m) if in_stream(m, route) && m.hit.finding.offset < end => self.pop(),
            _ => None,
        })
    }

    /// Whether the next finding to mask lies under member `index` of the
    /// archive at `route`.
    pub fn has_in_member(&mut self, route: &[usize], index: usize) -> Result<bool, InputError> {
        Ok(self.peek()?.is_some_and(|m| {
            m.route.len() > route.len()
                && in_stream_prefix(m, route)
                && m.route[route.len()].index == index
        }))
    }

    /// Reads the rest: every finding to mask must have been handed out (a
    /// rebuild that missed one would leave a PAN behind).
    pub fn finish(&mut self) -> Result<(), InputError> {
        match self.peek()? {
            Some(_) => Err(InputError::Changed(
                "a finding was not reached by the rebuild".into(),
            )),
            None => Ok(()),
        }
    }
}

/// A feed over findings already held, in scan order.
pub fn held<'a>(found: &'a [MemberFinding], decide: &'a Decide<'a>) -> Feed<'a> {
    let mut it = found.iter();
    Feed::new(Box::new(move || Ok(it.next().cloned())), decide)
}

fn in_stream_prefix(m: &MemberFinding, route: &[usize]) -> bool {
    m.route.len() >= route.len() && m.route.iter().zip(route).all(|(h, i)| h.index == *i)
}

/// Whether `m` lies in the decoded stream reached by `route`.
pub fn in_stream(m: &MemberFinding, route: &[usize]) -> bool {
    m.route.len() == route.len() && in_stream_prefix(m, route)
}

/// A set of finding places (route, member name, offset) kept as a count and
/// a sum of hashes: two sets are equal when both are (any order, nothing
/// held, whatever their size).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Places {
    /// How many places were added.
    pub count: u64,
    sum: u128,
}

impl Places {
    /// Adds the place of `m`.
    pub fn add(&mut self, m: &MemberFinding) {
        let mut h = Sha256::new();
        for hop in &m.route {
            h.update((hop.index as u64).to_le_bytes());
        }
        h.update([0xff]);
        if let Some(member) = &m.hit.at.member {
            h.update(member.as_bytes());
        }
        h.update([0]);
        h.update(m.hit.at.offset.to_le_bytes());
        let digest = h.finalize();
        let mut low = [0u8; 16];
        low.copy_from_slice(&digest[..16]);
        self.count += 1;
        self.sum = self.sum.wrapping_add(u128::from_le_bytes(low));
    }
}
