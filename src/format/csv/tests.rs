//! Unit tests of the CSV locator.

use super::*;

fn locs(data: &[u8], offsets: &[u64]) -> Vec<Option<CsvLocation>> {
    let mut l = CsvLocator::new(data, b',');
    offsets.iter().map(|&o| l.locate(o).unwrap()).collect()
}

fn loc(row: u64, field: &str, id: Option<&str>) -> Option<CsvLocation> {
    Some(CsvLocation {
        row,
        field: field.into(),
        record_id: id.map(Into::into),
    })
}

#[test]
fn salesforce_shape() {
    let data = b"\xef\xbb\xbf\"Id\",\"Name\",\"Description\"\r\n\"003A\",\"Ada \"\"A\"\"\",\"card\n4111111111111111\"\r\n\"003B\",\"Bob\",\"x 5555555555554444\"\r\n";
    let p1 = data.windows(4).position(|w| w == b"4111").unwrap() as u64;
    let p2 = data.windows(4).position(|w| w == b"5555").unwrap() as u64;
    let p0 = data.windows(3).position(|w| w == b"Ada").unwrap() as u64;
    assert_eq!(
        locs(data, &[p0, p1, p2]),
        vec![
            loc(1, "Name", Some("003A")),
            loc(1, "Description", Some("003A")),
            loc(2, "Description", Some("003B"))
        ]
    );
}

#[test]
fn id_after_the_field_and_no_final_newline() {
    let data = b"Pan,Id\n4111111111111111,a01\n5555555555554444,a02";
    let p1 = 7;
    let p2 = data.windows(4).position(|w| w == b"5555").unwrap() as u64;
    assert_eq!(
        locs(data, &[p1, p2]),
        vec![loc(1, "Pan", Some("a01")), loc(2, "Pan", Some("a02"))]
    );
}

#[test]
fn no_id_column_and_latin1_header() {
    let data = b"Num\xe9ro,Carte\n1,4111111111111111\n";
    let p = data.windows(4).position(|w| w == b"4111").unwrap() as u64;
    assert_eq!(locs(data, &[p]), vec![loc(1, "Carte", None)]);
    let data = b"N\xc3\xa9,Carte\n1,4111111111111111\n";
    let p = data.windows(4).position(|w| w == b"4111").unwrap() as u64;
    assert_eq!(locs(data, &[p]), vec![loc(1, "Carte", None)]);
    let l = locs(b"N\xe9\n4111111111111111\n", &[4]);
    assert_eq!(l, vec![loc(1, "N\u{e9}", None)]);
}

#[test]
fn long_non_ascii_id_is_cut_on_a_character() {
    let id = "\u{20ac}".repeat(300); // 3 bytes each: byte 256 is mid-character
    let data = format!("Id,Pan\n{id},4111111111111111\n");
    let p = data.find("4111").unwrap() as u64;
    let got = locs(data.as_bytes(), &[p]);
    assert_eq!(
        got[0]
            .as_ref()
            .unwrap()
            .record_id
            .as_ref()
            .unwrap()
            .chars()
            .count(),
        MAX_ID
    );
}

#[test]
fn doubled_quotes_in_header_and_id() {
    let data = b"\"Id \"\"x\"\"\",\"B\"\n\"a\"\"1\",\"4111111111111111\"\n";
    let p = data.windows(4).position(|w| w == b"4111").unwrap() as u64;
    assert_eq!(locs(data, &[p]), vec![loc(1, "B", None)]);
    let data = b"\"Id\",\"B\"\n\"a\"\"1\",\"4111111111111111\"\n";
    let p = data.windows(4).position(|w| w == b"4111").unwrap() as u64;
    assert_eq!(locs(data, &[p]), vec![loc(1, "B", Some("a\"1"))]);
}

/// A plainly written reference: split into records and fields byte by
/// byte, then look offsets up.
fn naive(data: &[u8], offsets: &[u64]) -> Vec<Option<CsvLocation>> {
    let mut records: Vec<Vec<(usize, usize)>> = vec![];
    let mut fields = vec![];
    let mut start = 0;
    let mut q = false;
    for (i, &b) in data.iter().enumerate() {
        if b == b'"' {
            q = !q;
        } else if !q && (b == b',' || b == b'\n') {
            fields.push((start, i));
            start = i + 1;
            if b == b'\n' {
                records.push(std::mem::take(&mut fields));
            }
        }
    }
    fields.push((start, data.len()));
    records.push(fields);
    let text = |r: (usize, usize)| {
        let raw: Vec<u8> = data[r.0..r.1]
            .iter()
            .copied()
            .filter(|&b| b != b'\r')
            .collect();
        let inner = match raw.as_slice() {
            [b'"', m @ .., b'"'] => m.to_vec(),
            o => o.to_vec(),
        };
        String::from_utf8_lossy(&inner).replace("\"\"", "\"")
    };
    let header: Vec<String> = records[0].iter().map(|&r| text(r)).collect();
    let id = header.iter().position(|h| h == "Id");
    offsets
        .iter()
        .map(|&o| {
            let o = o as usize;
            let (ri, rec) = records
                .iter()
                .enumerate()
                .find(|(_, r)| o >= r[0].0 && o <= r.last().unwrap().1)?;
            if ri == 0 {
                return Some(CsvLocation {
                    row: 0,
                    field: String::new(),
                    record_id: None,
                });
            }
            let k = rec.iter().rposition(|f| f.0 <= o).unwrap();
            Some(CsvLocation {
                row: ri as u64,
                field: header
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| (k + 1).to_string()),
                record_id: id.and_then(|i| rec.get(i).map(|&r| text(r))),
            })
        })
        .collect()
}

proptest::proptest! {
    #[test]
    fn sweep_agrees_with_naive_lexer(
        body in proptest::collection::vec(proptest::sample::select(vec![
            &b"\""[..], b",", b"\n", b"\r\n", b"ab", b"4111", b"\"\"", b"x,y", b"\"q,\nq\"",
        ]), 0..600),
        idx in 0usize..3,
        picks in proptest::collection::vec(0usize..10_000, 1..6),
    ) {
        let headers: [&[u8]; 3] = [b"Id,Name,Pan\n", b"\"Name\",\"Id\"\r\n", b"A,B\n"];
        let mut data = headers[idx].to_vec();
        for b in &body {
            data.extend_from_slice(b);
        }
        // Quotes must balance for a well-formed file; close any open one.
        if data.iter().filter(|&&b| b == b'"').count() % 2 == 1 {
            data.push(b'"');
        }
        let mut offs: Vec<u64> = picks.iter().map(|p| (p % data.len()) as u64).collect();
        offs.sort();
        offs.dedup();
        // Offsets on digits only (findings start on digits).
        offs.retain(|&o| data[o as usize].is_ascii_digit());
        let want = naive(&data, &offs);
        let mut l = CsvLocator::new(&data[..], b',');
        proptest::prop_assert_eq!(l.locate_all(&offs).unwrap(), want.clone());
        let mut l = CsvLocator::new(&data[..], b',');
        let one_by_one: Vec<_> = offs.iter().map(|&o| l.locate(o).unwrap()).collect();
        proptest::prop_assert_eq!(one_by_one, want.clone());
        // Skipping records by quote parity wherever a block allows.
        let mut l = CsvLocator::new(&data[..], b',').with_skip_min(0);
        proptest::prop_assert_eq!(l.locate_all(&offs).unwrap(), want.clone());
        let mut l = CsvLocator::new(&data[..], b',').with_skip_min(0);
        let one_by_one: Vec<_> = offs.iter().map(|&o| l.locate(o).unwrap()).collect();
        proptest::prop_assert_eq!(one_by_one, want);
    }
}

#[test]
fn unbalanced_quote_is_detected_after_locating() {
    let data = b"Id,Note\n1,\"card 4111111111111111\"\n2,\"never closed\n3,x\n";
    let mut l = CsvLocator::new(&data[..], b',');
    assert!(l.locate(14).unwrap().is_some());
    assert!(!l.quotes_balanced().unwrap());
    let good = b"Id,Note\n1,\"a \"\"b\"\" 4111111111111111\"\n2,\"x\ny\"\n";
    let mut l = CsvLocator::new(&good[..], b',');
    assert!(l.locate(20).unwrap().is_some());
    assert!(l.quotes_balanced().unwrap());
}

#[test]
fn extensions() {
    assert_eq!(delimiter_for(Path::new("a/Contact.CSV")), Some(b','));
    assert_eq!(delimiter_for(Path::new("x.tsv")), Some(b'\t'));
    assert_eq!(delimiter_for(Path::new("x.log")), None);
    assert_eq!(
        object_name(Path::new("dir/Contact.csv")).as_deref(),
        Some("Contact")
    );
}

#[test]
fn a_header_over_the_bound_gives_no_names_and_ends_where_it_ends() {
    let mut data = vec![b'a'; 3 * MAX_HEADER];
    data.extend_from_slice(b",b\n1,2\n");
    let mut r = std::io::BufReader::new(&data[..]);
    let (names, len) = read_header(&mut r, b',').unwrap().unwrap();
    assert!(names.is_empty());
    assert_eq!(len as usize, 3 * MAX_HEADER + 3);
    let short = b"Id,Card\n1,2\n";
    let mut r = std::io::BufReader::new(&short[..]);
    let (names, _) = read_header(&mut r, b',').unwrap().unwrap();
    assert_eq!(names, vec!["Id", "Card"]);
}
