//! The card network table (issuer identification number prefixes and
//! lengths), as data in one place.
//!
//! Each entry is a prefix range of a fixed number of leading digits plus the
//! set of PAN lengths the network issues, and carries a Luhn-valid example
//! that must match and a Luhn-valid counter-example that must not (checked
//! by the unit tests below). Where entries overlap, the brand reported is
//! the one with the longest matching prefix (docs/policy.md).

use std::fmt;

/// Version of this table, recorded in the manifest's `run` policy.
pub const IIN_TABLE_VERSION: &str = "2026-11-23";

/// A card network (brand).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Network {
    Visa,
    Mastercard,
    Amex,
    Discover,
    Jcb,
    Diners,
    UnionPay,
    Maestro,
    Mir,
    RuPay,
    Dankort,
    Verve,
    Elo,
    Troy,
}

impl Network {
    /// Stable lower-case name used in the manifest and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Visa => "visa",
            Network::Mastercard => "mastercard",
            Network::Amex => "amex",
            Network::Discover => "discover",
            Network::Jcb => "jcb",
            Network::Diners => "diners",
            Network::UnionPay => "unionpay",
            Network::Maestro => "maestro",
            Network::Mir => "mir",
            Network::RuPay => "rupay",
            Network::Dankort => "dankort",
            Network::Verve => "verve",
            Network::Elo => "elo",
            Network::Troy => "troy",
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One prefix range of one network.
#[derive(Clone, Copy, Debug)]
pub struct IinRange {
    /// The network this range belongs to.
    pub network: Network,
    /// Lowest prefix value, inclusive (e.g. 2221).
    pub lo: u32,
    /// Highest prefix value, inclusive (e.g. 2720).
    pub hi: u32,
    /// How many leading digits `lo` and `hi` describe (1 to 6).
    pub prefix_digits: u8,
    /// Bit `n` set when the network issues PANs of `n` digits.
    pub lengths: u32,
    /// A Luhn-valid number that matches this entry.
    pub example: &'static str,
    /// A Luhn-valid number with the same leading digits that matches no entry.
    pub counter_example: &'static str,
}

const fn lengths(list: &[u8]) -> u32 {
    let mut mask = 0;
    let mut i = 0;
    while i < list.len() {
        mask |= 1 << list[i];
        i += 1;
    }
    mask
}

const fn entry(
    network: Network,
    lo: u32,
    hi: u32,
    prefix_digits: u8,
    lens: &[u8],
    example: &'static str,
    counter_example: &'static str,
) -> IinRange {
    IinRange {
        network,
        lo,
        hi,
        prefix_digits,
        lengths: lengths(lens),
        example,
        counter_example,
    }
}

const L16_19: &[u8] = &[16, 17, 18, 19];
const L14_19: &[u8] = &[14, 15, 16, 17, 18, 19];
const L13_19: &[u8] = &[13, 14, 15, 16, 17, 18, 19];

/// The default network table: exactly the table of docs/policy.md.
pub const DEFAULT_TABLE: &[IinRange] = {
    use Network::*;
    &[
        entry(
            Visa,
            4,
            4,
            1,
            &[13, 16, 19],
            "4111111111119",
            "41111111111114",
        ),
        entry(
            Mastercard,
            51,
            55,
            2,
            &[16],
            "5111111111111118",
            "5111111111118",
        ),
        entry(
            Mastercard,
            2221,
            2720,
            4,
            &[16],
            "2221111111111112",
            "2221111111118",
        ),
        entry(Amex, 34, 34, 2, &[15], "341111111111111", "3411111111114"),
        entry(Amex, 37, 37, 2, &[15], "371111111111114", "3711111111117"),
        entry(
            Discover,
            6011,
            6011,
            4,
            L16_19,
            "6011111111111117",
            "6011111111119",
        ),
        entry(
            Discover,
            644,
            649,
            3,
            L16_19,
            "6441111111111117",
            "6441111111118",
        ),
        entry(
            Discover,
            65,
            65,
            2,
            L16_19,
            "6511111111111112",
            "6511111111118",
        ),
        entry(
            Jcb,
            3528,
            3589,
            4,
            L16_19,
            "3528111111111110",
            "3528111111115",
        ),
        entry(
            Diners,
            300,
            305,
            3,
            L14_19,
            "30011111111119",
            "3001111111113",
        ),
        entry(
            Diners,
            3095,
            3095,
            4,
            L14_19,
            "30951111111116",
            "3095111111115",
        ),
        entry(Diners, 36, 36, 2, L14_19, "36111111111111", "3611111111119"),
        entry(Diners, 38, 39, 2, L14_19, "38111111111119", "3811111111115"),
        entry(
            UnionPay,
            62,
            62,
            2,
            L16_19,
            "6211111111111115",
            "6211111111115",
        ),
        entry(
            UnionPay,
            81,
            81,
            2,
            L16_19,
            "8111111111111112",
            "8111111111115",
        ),
        entry(
            Maestro,
            5018,
            5018,
            4,
            L13_19,
            "5018111111115",
            "5019111111113",
        ),
        entry(
            Maestro,
            5020,
            5020,
            4,
            L13_19,
            "5020111111111",
            "5021111111119",
        ),
        entry(
            Maestro,
            5038,
            5038,
            4,
            L13_19,
            "5038111111113",
            "5039111111111",
        ),
        entry(
            Maestro,
            5893,
            5893,
            4,
            L13_19,
            "5893111111111",
            "5894111111119",
        ),
        entry(
            Maestro,
            6304,
            6304,
            4,
            L13_19,
            "6304111111118",
            "6305111111115",
        ),
        entry(
            Maestro,
            6759,
            6759,
            4,
            L13_19,
            "6759111111113",
            "6760111111111",
        ),
        entry(
            Maestro,
            6761,
            6763,
            4,
            L13_19,
            "6761111111119",
            "6764111111113",
        ),
        entry(
            Mir,
            2200,
            2204,
            4,
            L16_19,
            "2200111111111117",
            "2200111111112",
        ),
        entry(RuPay, 60, 60, 2, &[16], "6022111111111114", "6022111111116"),
        entry(
            RuPay,
            508,
            508,
            3,
            &[16],
            "5081111111111114",
            "5081111111113",
        ),
        entry(
            RuPay,
            353,
            353,
            3,
            &[16],
            "3531111111111115",
            "3531111111119",
        ),
        entry(
            RuPay,
            356,
            356,
            3,
            &[16],
            "3561111111111118",
            "3561111111116",
        ),
        entry(RuPay, 82, 82, 2, &[16], "8211111111111111", "8211111111113"),
        entry(
            Dankort,
            5019,
            5019,
            4,
            &[16],
            "5019111111111111",
            "5019111111113",
        ),
        entry(
            Verve,
            506099,
            506198,
            6,
            &[16, 18, 19],
            "5060991111111114",
            "5060991111112",
        ),
        entry(
            Verve,
            507865,
            507964,
            6,
            &[16, 18, 19],
            "5078651111111114",
            "5078651111115",
        ),
        entry(
            Verve,
            650002,
            650027,
            6,
            &[16, 18, 19],
            "6500021111111116",
            "6500021111110",
        ),
        entry(
            Elo,
            504175,
            504175,
            6,
            &[16],
            "5041751111111116",
            "5041751111112",
        ),
        entry(
            Elo,
            506699,
            506778,
            6,
            &[16],
            "5066991111111118",
            "5066991111119",
        ),
        entry(
            Elo,
            509000,
            509999,
            6,
            &[16],
            "5090001111111116",
            "5090001111117",
        ),
        entry(
            Elo,
            636297,
            636297,
            6,
            &[16],
            "6362971111111119",
            "6362971111115",
        ),
        entry(
            Elo,
            636368,
            636368,
            6,
            &[16],
            "6363681111111113",
            "6363681111114",
        ),
        entry(
            Troy,
            9792,
            9792,
            4,
            &[16],
            "9792111111111116",
            "9792111111111",
        ),
    ]
};

/// Powers of ten used to cut a 6-digit prefix down to `k` digits.
const POW10: [u32; 7] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];

/// A network table ready for lookups.
#[derive(Clone, Debug)]
pub struct IinTable {
    entries: Vec<IinRange>,
    /// Per entry: (lowest, highest) 6-digit prefix it covers, and lengths;
    /// precomputed so that a lookup needs no division.
    scaled: Vec<(u32, u32, u32, u8)>,
    /// Bit `d` set when some entry starts with digit `d`: a cheap first reject.
    first_digits: u16,
    /// Indexes into `scaled` of the entries that can start with digit `d`.
    by_first: [Vec<u8>; 10],
}

impl Default for IinTable {
    fn default() -> Self {
        IinTable::new(DEFAULT_TABLE.to_vec())
    }
}

impl IinTable {
    /// Builds a table from entries.
    pub fn new(entries: Vec<IinRange>) -> IinTable {
        let mut first_digits = 0u16;
        for e in &entries {
            let first = e.lo / POW10[e.prefix_digits as usize - 1];
            let last = e.hi / POW10[e.prefix_digits as usize - 1];
            for d in first..=last {
                first_digits |= 1 << d;
            }
        }
        let scaled = entries
            .iter()
            .map(|e| {
                let scale = POW10[6 - e.prefix_digits as usize];
                (
                    e.lo * scale,
                    (e.hi + 1) * scale - 1,
                    e.lengths,
                    e.prefix_digits,
                )
            })
            .collect();
        let mut by_first: [Vec<u8>; 10] = Default::default();
        for (i, e) in entries.iter().enumerate() {
            let div = POW10[e.prefix_digits as usize - 1];
            for d in (e.lo / div)..=(e.hi / div) {
                by_first[d as usize].push(i as u8);
            }
        }
        IinTable {
            entries,
            scaled,
            first_digits,
            by_first,
        }
    }

    /// The entries of this table.
    pub fn entries(&self) -> &[IinRange] {
        &self.entries
    }

    /// Returns the network of a PAN given as ASCII digits (13 to 19 of
    /// them): the entry with the longest prefix among those matching both
    /// prefix and length, or `None`.
    #[inline]
    pub fn lookup(&self, digits: &[u8]) -> Option<Network> {
        debug_assert!(digits.len() >= 6 && digits.len() < 32);
        if self.first_digits & (1 << (digits[0] - b'0')) == 0 {
            return None;
        }
        let mut prefix6 = 0u32;
        for &b in &digits[..6] {
            prefix6 = prefix6 * 10 + (b - b'0') as u32;
        }
        let len_bit = 1u32 << digits.len();
        let mut best: Option<(u8, usize)> = None;
        for &i in &self.by_first[(digits[0] - b'0') as usize] {
            let i = i as usize;
            let (lo6, hi6, lens, k) = self.scaled[i];
            if lens & len_bit != 0
                && prefix6 >= lo6
                && prefix6 <= hi6
                && best.is_none_or(|(bk, _)| k > bk)
            {
                best = Some((k, i));
            }
        }
        best.map(|(_, i)| self.entries[i].network)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::luhn;

    #[test]
    fn every_entry_example_matches_and_counter_example_does_not() {
        let table = IinTable::default();
        for e in table.entries() {
            let ex = e.example.as_bytes();
            let ce = e.counter_example.as_bytes();
            assert!(luhn::is_valid(ex), "example of {:?} must be Luhn-valid", e);
            assert!(luhn::is_valid(ce), "counter of {:?} must be Luhn-valid", e);
            assert!(table.lookup(ex).is_some(), "example of {:?} must match", e);
            assert_eq!(table.lookup(ce), None, "counter of {:?} must not match", e);
            // The example sits inside this very entry's range and lengths.
            let k = e.prefix_digits as usize;
            let p: u32 = e.example[..k].parse().unwrap();
            assert!(p >= e.lo && p <= e.hi);
            assert!(e.lengths & (1 << ex.len()) != 0);
        }
    }

    #[test]
    fn longest_prefix_names_the_brand() {
        let t = IinTable::default();
        // 6011… is both RuPay (60) and Discover (6011): Discover wins.
        assert_eq!(t.lookup(b"6011000400000000"), Some(Network::Discover));
        // 650002… is Discover (65) and Verve (650002–650027): Verve wins.
        assert_eq!(t.lookup(b"6500021111111116"), Some(Network::Verve));
        // 3531… is RuPay (353) and JCB (3528–3589): JCB wins.
        assert_eq!(t.lookup(b"3531111111111115"), Some(Network::Jcb));
        // 5019 16 digits is Dankort; 5018 is Maestro.
        assert_eq!(t.lookup(b"5019717010103742"), Some(Network::Dankort));
        assert_eq!(t.lookup(b"4111111111111111"), Some(Network::Visa));
        assert_eq!(t.lookup(b"371449635398431"), Some(Network::Amex));
        assert_eq!(t.lookup(b"2221000000000009"), Some(Network::Mastercard));
    }

    #[test]
    fn uatp_and_unknown_prefixes_do_not_match() {
        let t = IinTable::default();
        assert_eq!(t.lookup(b"122000000000003"), None);
        assert_eq!(t.lookup(b"7000000000000000"), None);
        assert_eq!(t.lookup(b"0000000000000000"), None);
    }
}
