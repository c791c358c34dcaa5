//! Salesforce attachments in a report: a weekly export names each file
//! attached to a record by its record Id (`Attachments/00P5g00000XyZ01EAE`,
//! no extension; `Attachment.csv` gives its parent record). The report
//! lists, per attachment Id, what was found in it and where (sheet and
//! cell, page, paragraph, slide), what was done, and whether it was a
//! picture nobody read, so the owner of each record can be told.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::record::{Action, FileRecord, FindingRecord};

/// At most this many attachments are listed (the counts stay whole).
const MAX_LISTED: usize = 10_000;

/// What the report says of one attachment.
#[derive(Default)]
struct Attachment {
    findings: u64,
    truncated: u64,
    reported: u64,
    allowed: u64,
    /// Where its findings are, as a person finds them.
    places: BTreeSet<String>,
    /// Why it was not inspected (a picture), if it was not.
    not_inspected: Option<String>,
}

/// Attachments by record Id.
#[derive(Default)]
pub struct Attachments(BTreeMap<String, Attachment>);

/// The record Id of the attachment a member path names: the file under an
/// `Attachments` (or `ContentVersion`, `Documents`) folder whose name has
/// the shape of a Salesforce Id (15 or 18 letters and digits).
pub fn record_id(member: &str) -> Option<&str> {
    let file = member.split('!').next()?;
    let mut parts = file.rsplit('/');
    let id = parts.next()?;
    let folder = parts.next()?;
    let is_id = matches!(id.len(), 15 | 18) && id.bytes().all(|b| b.is_ascii_alphanumeric());
    let folder_ok = matches!(folder, "Attachments" | "ContentVersion" | "Documents");
    (is_id && folder_ok).then_some(id)
}

impl Attachments {
    fn entry(&mut self, id: &str) -> Option<&mut Attachment> {
        if !self.0.contains_key(id) && self.0.len() >= MAX_LISTED {
            return None;
        }
        Some(self.0.entry(id.to_string()).or_default())
    }

    /// Counts a finding in an attachment.
    pub fn finding(&mut self, f: &FindingRecord) {
        let Some(id) = f.member.as_deref().and_then(record_id) else {
            return;
        };
        let Some(a) = self.entry(id) else { return };
        a.findings += 1;
        match f.action {
            Action::Truncated => a.truncated += 1,
            Action::Reported => a.reported += 1,
            Action::Allowed => a.allowed += 1,
        }
        let place = match (&f.sheet, &f.cell, f.page, f.slide, f.paragraph) {
            (Some(s), Some(c), ..) => format!("{s}!{c}"),
            (_, _, Some(p), ..) => format!("page {p}"),
            (_, _, _, Some(s), Some(p)) => format!("slide {s} paragraph {p}"),
            (_, _, _, Some(s), None) => format!("slide {s}"),
            (_, _, _, None, Some(p)) => format!("paragraph {p}"),
            _ => match f.member.as_deref().and_then(|m| m.split_once('!')) {
                Some((_, part)) => part.to_string(),
                None => format!("offset {}", f.offset),
            },
        };
        if a.places.len() < 20 {
            a.places.insert(place);
        }
    }

    /// Notes the pictures among a file's members.
    pub fn file(&mut self, f: &FileRecord) {
        for note in &f.not_inspected {
            let Some((member, why)) = note.split_once(": ") else {
                continue;
            };
            if let Some(id) = record_id(member) {
                // A picture inside the attachment (a document's
                // thumbnail) is named by its part.
                let why = match member.split_once('!') {
                    Some((_, part)) => format!("{part}: {why}"),
                    None => why.to_string(),
                };
                if let Some(a) = self.entry(id) {
                    a.not_inspected = Some(match a.not_inspected.take() {
                        Some(before) => format!("{before}; {why}"),
                        None => why,
                    });
                }
            }
        }
    }

    /// The list for the report: one object per attachment, by Id.
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|(id, a)| {
                    json!({
                        "id": id,
                        "findings": a.findings,
                        "truncated": a.truncated,
                        "reported": a.reported,
                        "allowed": a.allowed,
                        "where": a.places.iter().collect::<Vec<_>>(),
                        "not_inspected": a.not_inspected,
                    })
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_are_known_by_their_folder_and_id() {
        assert_eq!(
            record_id("Attachments/00P5g00000XyZ01EAE!xl/worksheets/sheet1.xml"),
            Some("00P5g00000XyZ01EAE")
        );
        assert_eq!(
            record_id("export/Attachments/00P5g00000XyZ01"),
            Some("00P5g00000XyZ01")
        );
        assert_eq!(record_id("Attachments/notes.txt"), None);
        assert_eq!(record_id("Contact.csv"), None);
    }
}
