//! Counts and capped samples over a manifest's records, kept while the
//! records stream past once: memory holds the counts per brand, type and
//! directory (or Salesforce object), the top files, and a few thousand
//! sample rows for the HTML page, never every record.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::path::Path;

use super::path_text;
use crate::record::{Action, FileRecord, FileStatus, FindingRecord, Totals};

/// Findings listed on the HTML page (the CSV export has them all).
pub const SAMPLE_FINDINGS: usize = 5000;
/// File rows listed on the HTML page: those with findings or problems
/// first, most findings first.
pub const SAMPLE_FILES: usize = 5000;
/// Files that are errors or skipped, listed in the JSON summary (the text
/// and HTML forms list them all, read again from the manifests).
pub const SAMPLE_PROBLEMS: usize = 1000;
/// Files in the "top files" table.
const TOP_FILES: usize = 10;

/// The `k` greatest entries by key, in a heap of at most `k`.
pub struct Best<K: Ord, V> {
    k: usize,
    heap: BinaryHeap<Reverse<Keyed<K, V>>>,
}

struct Keyed<K, V>(K, V);

impl<K: Ord, V> PartialEq for Keyed<K, V> {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl<K: Ord, V> Eq for Keyed<K, V> {}
impl<K: Ord, V> PartialOrd for Keyed<K, V> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<K: Ord, V> Ord for Keyed<K, V> {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.cmp(&o.0)
    }
}

impl<K: Ord, V> Best<K, V> {
    pub fn new(k: usize) -> Self {
        Best {
            k,
            heap: BinaryHeap::new(),
        }
    }

    pub fn offer(&mut self, key: K, value: V) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() == self.k {
            match self.heap.peek() {
                Some(Reverse(least)) if least.0 < key => {
                    self.heap.pop();
                }
                _ => return,
            }
        }
        self.heap.push(Reverse(Keyed(key, value)));
    }

    /// The entries, greatest key first.
    pub fn sorted(&self) -> Vec<&V> {
        let mut v: Vec<&Keyed<K, V>> = self.heap.iter().map(|Reverse(e)| e).collect();
        v.sort_by(|a, b| b.0.cmp(&a.0));
        v.into_iter().map(|e| &e.1).collect()
    }
}

/// Adds one finding to a run's totals, as the run itself counts it.
pub fn count_finding(t: &mut Totals, f: &FindingRecord) {
    t.findings += 1;
    match f.action {
        Action::Truncated => t.truncated += 1,
        Action::Reported => t.reported += 1,
        Action::Allowed => t.allowed += 1,
    }
    if let Some(b) = &f.brand {
        *t.by_brand.entry(b.clone()).or_default() += 1;
    }
    *t.by_type.entry(f.kind.clone()).or_default() += 1;
}

/// Adds one file record to a run's totals, as the run itself counts it.
pub fn count_file(t: &mut Totals, f: &FileRecord) {
    match f.status {
        FileStatus::Skipped => t.skipped += 1,
        status => {
            t.files += 1;
            t.bytes += f.size;
            // An error a merge found superseded is no longer counted.
            if status == FileStatus::Error && f.superseded_by.is_none() {
                t.errors += 1;
            }
        }
    }
    if f.findings > 0 {
        t.files_with_findings += 1;
    }
}

/// Counts and samples over every finding and file record read.
pub struct Aggregate {
    /// File records, of any status.
    pub file_records: u64,
    pub bytes: u64,
    pub files_with_findings: u64,
    pub errors: u64,
    pub skipped: u64,
    /// Files whose status is not `clean`.
    pub not_clean: u64,
    /// Findings counted as a run counts them (the action, brand and type
    /// fields; its file fields are not used here).
    pub counted: Totals,
    /// Per directory, or per Salesforce object for export findings.
    pub by_place: HashMap<String, u64>,
    /// Files by their findings (then path, A first).
    top_files: Best<(u64, Reverse<String>), (String, u64)>,
    /// The first findings read.
    pub sample_findings: Vec<FindingRecord>,
    /// File rows for the page: not clean first, most findings first, then
    /// in manifest order.
    sample_files: Best<(bool, u64, Reverse<u64>), FileRecord>,
    /// The first error and skipped files read.
    pub sample_problems: Vec<FileRecord>,
    /// Salesforce attachments, by record Id.
    pub attachments: super::attachments::Attachments,
}

impl Default for Aggregate {
    fn default() -> Self {
        Aggregate {
            file_records: 0,
            bytes: 0,
            files_with_findings: 0,
            errors: 0,
            skipped: 0,
            not_clean: 0,
            counted: Totals::default(),
            by_place: HashMap::new(),
            top_files: Best::new(TOP_FILES),
            sample_findings: Vec::new(),
            sample_files: Best::new(SAMPLE_FILES),
            sample_problems: Vec::new(),
            attachments: Default::default(),
        }
    }
}

/// Where a finding is, at the level the report groups by: its Salesforce
/// object, or the directory of its file.
fn place(f: &FindingRecord) -> String {
    if let Some(o) = &f.object {
        return format!("object {o}");
    }
    let p = path_text(&f.path);
    Path::new(&p)
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default()
}

impl Aggregate {
    pub fn finding(&mut self, f: FindingRecord) {
        count_finding(&mut self.counted, &f);
        self.attachments.finding(&f);
        *self.by_place.entry(place(&f)).or_default() += 1;
        if self.sample_findings.len() < SAMPLE_FINDINGS {
            self.sample_findings.push(f);
        }
    }

    pub fn file(&mut self, f: FileRecord) {
        let seq = self.file_records;
        self.file_records += 1;
        self.attachments.file(&f);
        self.bytes += f.size;
        match f.status {
            FileStatus::Error if f.superseded_by.is_none() => self.errors += 1,
            FileStatus::Skipped => self.skipped += 1,
            _ => {}
        }
        if f.findings > 0 {
            self.files_with_findings += 1;
            let path = path_text(&f.path);
            self.top_files
                .offer((f.findings, Reverse(path.clone())), (path, f.findings));
        }
        let clean = f.status == FileStatus::Clean;
        if !clean {
            self.not_clean += 1;
        }
        if matches!(f.status, FileStatus::Error | FileStatus::Skipped)
            && f.superseded_by.is_none()
            && self.sample_problems.len() < SAMPLE_PROBLEMS
        {
            self.sample_problems.push(f.clone());
        }
        self.sample_files
            .offer((!clean, f.findings, Reverse(seq)), f);
    }

    /// Files with the most findings, most first.
    pub fn top_files(&self) -> Vec<(String, u64)> {
        self.top_files.sorted().into_iter().cloned().collect()
    }

    /// The file rows kept for the page, in the order they are listed.
    pub fn sample_files(&self) -> Vec<&FileRecord> {
        self.sample_files.sorted()
    }

    /// Whether every file record is among the sampled rows.
    pub fn all_files_sampled(&self) -> bool {
        self.file_records as usize <= SAMPLE_FILES
    }
}

/// Counts as `(key, count)` rows, most first, then by key.
pub fn ranked<'a, K: ToString + 'a>(
    counts: impl IntoIterator<Item = (&'a K, &'a u64)>,
) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts
        .into_iter()
        .map(|(k, n)| (k.to_string(), *n))
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_keeps_the_greatest_keys_in_order() {
        let mut b = Best::new(3);
        for (k, v) in [(5, 'a'), (1, 'b'), (9, 'c'), (7, 'd'), (3, 'e'), (9, 'f')] {
            b.offer(k, v);
        }
        let got: Vec<char> = b.sorted().into_iter().copied().collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], 'd');
        assert!(got[..2].contains(&'c') && got[..2].contains(&'f'));
    }

    #[test]
    fn best_ties_keep_the_first_offered_when_the_key_says_so() {
        // Keys carrying Reverse(sequence) keep the earliest of equals.
        let mut b = Best::new(2);
        for seq in 0..10u64 {
            b.offer((1u64, Reverse(seq)), seq);
        }
        let got: Vec<u64> = b.sorted().into_iter().copied().collect();
        assert_eq!(got, vec![0, 1]);
    }
}
