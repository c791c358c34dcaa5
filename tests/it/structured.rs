//! Structured text: CSV rows and fields, JSON and SQL numbers that stay
//! valid, malformed files.

use super::*;

/// Salesforce-style CSVs written by Python's csv module
/// (`scripts/make_fixtures.py`): exact locations, and after scrub the same
/// module reads back the same rows and fields, only PAN values changed.
#[test]
fn csv_locations_and_structure_after_scrub() {
    let d = tmp();
    copy_tree(&testdata().join("export"), d.path());
    let m = scrub_ok(d.path());
    let man = manifest(&m);
    let mut locs: Vec<(String, u64, String, String)> = kind(&man, "finding")
        .iter()
        .map(|f| {
            (
                f["object"].as_str().unwrap().to_string(),
                f["row"].as_u64().unwrap(),
                f["field"].as_str().unwrap().to_string(),
                f["record_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    locs.sort();
    let own =
        |a: &str, r: u64, f: &str, id: &str| (a.to_string(), r, f.to_string(), id.to_string());
    assert_eq!(
        locs,
        vec![
            own("Case", 1, "Détails", "5005g00000Cas01AAA"),
            own("Contact", 1, "Description", "0035g00000ABCdeAAA"),
            own("Contact", 3, "Description", "0035g00000ABCdgAAC"),
            own("Opportunity", 1, "Description", "0065g00000Opp01AAA"),
            own("Opportunity", 3, "Description", "0065g00000Opp03AAA"),
        ]
    );
    // Read back with Python's csv module when available.
    let py = r#"
import csv, sys
def rows(p, enc):
    with open(p, encoding=enc, newline="") as f:
        return list(csv.reader(f))
for name, enc in (("Opportunity.csv", "utf-8-sig"), ("Case.csv", "iso-8859-1"), ("Contact.csv", "utf-8-sig")):
    a = rows(sys.argv[1] + "/" + name, enc)
    b = rows(sys.argv[2] + "/" + name, enc)
    assert len(a) == len(b), name
    for ra, rb in zip(a, b):
        assert len(ra) == len(rb), name
        for x, y in zip(ra, rb):
            if x != y:
                assert len(x) == len(y) and "*" in y, (name, y)
print("ok")
"#;
    let Ok(o) = Command::new("python3")
        .args([
            "-c",
            py,
            testdata().join("export").to_str().unwrap(),
            d.path().to_str().unwrap(),
        ])
        .output()
    else {
        return;
    };
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "ok");
}

/// A CSV large enough to be scanned in 8 MiB pieces, with quoted fields
/// holding newlines that straddle the piece edges (a piece then starts
/// inside quotes): every finding gets the row, field and Id it was written
/// in, with one or two jobs, and an unclosed quote at the end is an error.
#[test]
fn csv_rows_are_exact_across_piece_edges() {
    const PIECE: usize = 8 << 20;
    let d = tmp();
    let mut data = b"\xef\xbb\xbf\"Id\",\"Name\",\"Description\"\r\n".to_vec();
    let mut expect = Vec::new();
    let mut row = 0u64;
    while data.len() < 3 * PIECE + (1 << 20) {
        row += 1;
        let id = format!("0035g{row:013}");
        let to_edge = PIECE - data.len() % PIECE;
        let desc = if to_edge < 300_000 {
            // A long note with newlines and doubled quotes across the
            // edge, a PAN on each side of it.
            let mut t = String::from("call notes: card 4111 1111 1111 1111\n");
            while t.len() < to_edge + 200_000 {
                t.push_str("said \"hello\", then\r\nmore, more\n");
            }
            t.push_str("paid with 5555555555554444 at last");
            expect.push((row, id.clone()));
            expect.push((row, id.clone()));
            t
        } else if row.is_multiple_of(997) {
            expect.push((row, id.clone()));
            format!("renewal, card 378282246310005 on file\nline two {row}")
        } else {
            format!("renewal {row}, invoice {}\nnote", 100000 + row)
        };
        // RFC 4180: a quote inside a quoted field is doubled.
        let desc = desc.replace('"', "\"\"");
        data.extend_from_slice(format!("\"{id}\",\"Account {row}\",\"{desc}\"\r\n").as_bytes());
    }
    let p = d.path().join("Contact.csv");
    write(&p, &data);
    for jobs in ["1", "2"] {
        let m = d.path().join(format!("m{jobs}.jsonl"));
        let out = panscrub(&[
            "scan",
            "-q",
            "-j",
            jobs,
            "-m",
            m.to_str().unwrap(),
            p.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1));
        let man = manifest(&m);
        let got: Vec<(u64, String)> = kind(&man, "finding")
            .iter()
            .map(|f| {
                assert_eq!(f["field"], "Description", "-j{jobs}: {f}");
                assert_eq!(f["object"], "Contact");
                (
                    f["row"].as_u64().unwrap(),
                    f["record_id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(got.len(), expect.len(), "-j{jobs}");
        assert_eq!(got, expect, "-j{jobs}");
        assert_eq!(kind(&man, "file")[0]["status"], "reported");
    }
    // An unclosed quote in the last record: the locations after it cannot
    // be trusted, so the input is an error.
    data.extend_from_slice(b"\"0035gBROKEN\",\"x\",\"never closed\r\n");
    write(&p, &data);
    let m = d.path().join("broken.jsonl");
    let out = panscrub(&["scan", "-q", "-m", m.to_str().unwrap(), p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let file = &kind(&manifest(&m), "file")[0].clone();
    assert_eq!(file["status"], "error");
    assert!(file["reason"].as_str().unwrap().contains("malformed CSV"));
}

/// A PAN written as a bare JSON number or SQL numeric literal is masked with
/// digits (the file still parses, the value is no longer a PAN); PANs in
/// strings get the mask character. Checked by Python's json and sqlite3.
#[test]
fn json_numbers_and_sql_literals_stay_valid() {
    let d = tmp();
    let json = d.path().join("events.ndjson");
    write(
        &json,
        b"{\"card\": 4111111111111111, \"note\": \"card 5555555555554444\"}\n{\"cards\":[378282246310005,-6011111111111117]}\n",
    );
    let sql = d.path().join("dump.sql");
    write(
        &sql,
        b"CREATE TABLE p (id INTEGER, pan INTEGER, note TEXT);\nINSERT INTO p VALUES (1, 4111111111111111, 'card 5555 5555 5555 4444');\nINSERT INTO p VALUES (2,378282246310005,'x');\n",
    );
    let m = scrub_ok(d.path());
    let j = fs::read_to_string(&json).unwrap();
    assert!(j.contains("\"card 555555******4444\""), "{j}");
    assert!(
        !j.contains('*') || j.matches('*').count() == 6,
        "only the string PAN got '*': {j}"
    );
    let s = fs::read_to_string(&sql).unwrap();
    assert!(s.contains("'card 5555 55** **** 4444'"), "{s}");
    assert_eq!(
        panscrub(&["scan", "-q", d.path().to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let man = manifest(&m);
    let numbers = kind(&man, "finding")
        .iter()
        .filter(|f| f.get("masked_as").is_some_and(|v| v == "number"))
        .count();
    assert_eq!(numbers, 5, "3 JSON numbers + 2 SQL literals");
    let py = r#"
import json, sqlite3, sys
for line in open(sys.argv[1]):
    json.loads(line)
db = sqlite3.connect(":memory:")
db.executescript(open(sys.argv[2]).read())
rows = db.execute("select pan from p order by id").fetchall()
assert all(isinstance(r[0], int) for r in rows), rows
print("ok")
"#;
    let Ok(o) = Command::new("python3")
        .args(["-c", py, json.to_str().unwrap(), sql.to_str().unwrap()])
        .output()
    else {
        return;
    };
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A pg_dump-style file (`COPY … FROM stdin` rows and `INSERT`s) stays
/// loadable: after scrub, every statement parses with sqlparser's
/// PostgreSQL dialect, the COPY payload keeps its rows and its tab-separated
/// fields (PostgreSQL's text format), the bigint column still holds integers
/// or `\N`, and a second scan finds nothing.
#[test]
fn sql_dump_with_copy_rows_stays_loadable() {
    use sqlparser::ast::{Expr, SetExpr, Statement, Value};
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;
    let d = tmp();
    let dump = d.path().join("payments.sql");
    let original = "--\n-- PostgreSQL database dump\n--\n\
SET statement_timeout = 0;\n\
CREATE TABLE public.payments (id integer NOT NULL, pan bigint, note text);\n\
COPY public.payments (id, pan, note) FROM stdin;\n\
1\t4111111111111111\tcard 5555 5555 5555 4444 on file\n\
2\t\\N\tpaid with 378282246310005, thanks\n\
3\t6011111111111117\tinvoice 2024-03-01\n\
\\.\n\
INSERT INTO public.payments VALUES (4, 5555555555554444, 'card 4111-1111-1111-1111');\n";
    write(&dump, original.as_bytes());
    scrub_ok(d.path());
    let after = fs::read_to_string(&dump).unwrap();
    assert_no_pan("scrubbed dump", after.as_bytes());
    assert_eq!(after.len(), original.len(), "same length");
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, &after).expect("dump still parses");
    let mut copy_rows = Vec::new();
    let mut insert_pan = None;
    for st in &statements {
        match st {
            Statement::Copy {
                payload: Some(p), ..
            } => {
                assert!(p.terminated, "the \\. line is kept");
                copy_rows = p
                    .data
                    .lines()
                    .map(|l| l.split('\t').map(str::to_string).collect::<Vec<_>>())
                    .collect();
            }
            Statement::Insert(ins) => {
                let Some(SetExpr::Values(v)) = ins.source.as_ref().map(|q| q.body.as_ref()) else {
                    panic!("VALUES expected")
                };
                insert_pan = Some(v.rows[0][1].clone());
            }
            _ => {}
        }
    }
    assert_eq!(copy_rows.len(), 3, "{after}");
    for row in &copy_rows {
        assert_eq!(row.len(), 3, "three fields per row: {row:?}");
        let pan = &row[1];
        assert!(
            pan == "\\N" || pan.bytes().all(|b| b.is_ascii_digit()),
            "bigint field: {pan}"
        );
    }
    assert_eq!(copy_rows[0][2], "card 5555 55** **** 4444 on file");
    assert_ne!(copy_rows[0][1], "4111111111111111");
    match insert_pan {
        Some(Expr::Value(v)) => assert!(matches!(v.value, Value::Number(..)), "{v:?}"),
        other => panic!("numeric literal expected, got {other:?}"),
    }
    assert_eq!(
        panscrub(&["scan", "-q", dump.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
}

/// Malformed structured inputs are an error for that input only; their
/// PANs are still truncated as text, and the other inputs are processed.
#[test]
fn malformed_csv_and_invalid_json_line_are_errors() {
    let d = tmp();
    write(
        &d.path().join("Lead.csv"),
        b"\"Id\",\"Note\"\r\n\"00Q1\",\"card 4111111111111111\"\r\n\"00Q2\",\"never closed\r\n\"00Q3\",\"x\"\r\n",
    );
    write(
        &d.path().join("events.ndjson"),
        b"{\"card\": \"5555555555554444\"}\n{\"broken\": tru}\n{\"ok\": 1}\n",
    );
    // Looks like JSON but is named .log: not held to JSON validity.
    write(
        &d.path().join("mixed.log"),
        b"{\"card\": \"4111111111111111\"}\nplain line\n",
    );
    write(
        &d.path().join("good.csv"),
        b"Id,Note\n1,\"card 378282246310005\"\n",
    );
    let (o, m) = scrub_with_manifest(d.path());
    assert_eq!(o.status.code(), Some(2));
    assert_no_pan("stderr", &o.stderr);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("malformed CSV"), "{stderr}");
    assert!(stderr.contains("invalid JSON at line 2 column"), "{stderr}");
    let recs = manifest(&m);
    let status = |name: &str| {
        kind(&recs, "file")
            .into_iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(name))
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("Lead.csv"), "error");
    assert_eq!(status("events.ndjson"), "error");
    assert_eq!(status("mixed.log"), "truncated");
    assert_eq!(status("good.csv"), "truncated");
    for f in ["Lead.csv", "events.ndjson", "mixed.log", "good.csv"] {
        assert_no_pan(f, &fs::read(d.path().join(f)).unwrap());
    }
    let summary = kind(&recs, "summary")[0];
    assert_eq!(summary["errors"], 2);
}
