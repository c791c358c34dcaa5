//! UTF-16 text written by Python's encoder (`scripts/make_utf16_fixtures.py`):
//! found by content, offsets in bytes, masked in place as UTF-16, still
//! decodable, and only the masked characters changed.

use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/utf16")
        .join(name)
}

fn decode(bytes: &[u8], big_endian: bool) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| {
            if big_endian {
                u16::from_be_bytes([p[0], p[1]])
            } else {
                u16::from_le_bytes([p[0], p[1]])
            }
        })
        .collect();
    String::from_utf16(&units).expect("still valid UTF-16")
}

#[test]
fn utf16_le_and_be_are_scanned_and_scrubbed_in_place() {
    for (name, big_endian) in [("log_le_bom.txt", false), ("log_be.txt", true)] {
        let d = tmp();
        let p = d.path().join(name);
        let original = fs::read(fixture(name)).unwrap();
        write(&p, &original);
        let m = d.path().join("scan.jsonl");
        let o = panscrub(&["scan", "-m", m.to_str().unwrap(), p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        assert_no_pan("stdout", &o.stdout);
        let man = manifest(&m);
        assert_eq!(kind(&man, "file")[0]["format"], "utf16");
        let found: Vec<(String, u64, u64)> = kind(&man, "finding")
            .iter()
            .map(|f| {
                (
                    f["type"].as_str().unwrap().to_string(),
                    f["offset"].as_u64().unwrap(),
                    f["length"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(found.len(), 3, "{name}: {found:?}");
        // Offsets and lengths are in bytes: they frame the encoded digits.
        for (ty, off, len) in &found {
            let region = &original[*off as usize..(*off + *len) as usize];
            let text = decode(region, big_endian);
            let first = text.chars().next().unwrap();
            assert!(first.is_ascii_digit(), "{name} {ty} starts at a digit");
        }
        assert_eq!(found[0].2, 2 * "4111 1111 1111 1111".len() as u64);

        scrub_ok(&p);
        let after = fs::read(&p).unwrap();
        assert_eq!(after.len(), original.len());
        let text = decode(&after[if big_endian { 0 } else { 2 }..], big_endian);
        assert_eq!(
            text,
            "Événement 4624 — paiement accepté\r\n\
             card 4111 11** **** 1111 paid, cvv=***\r\n\
             swipe ;555555******4444=**************?\r\n\
             order 12345678901234567 is not a card\r\n"
        );
        // Only masked characters changed, each as one whole code unit.
        let changed: Vec<usize> = (0..after.len())
            .filter(|&i| after[i] != original[i])
            .collect();
        assert!(changed.iter().all(|&i| {
            let unit = i & !1;
            let now = &after[unit..unit + 2];
            now == [b'*', 0] || now == [0, b'*']
        }));
        let o = panscrub(&["scan", "-q", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{name}: clean after scrub");
    }
}

#[test]
fn non_latin_text_and_surrogates_are_boundaries() {
    let d = tmp();
    let p = d.path().join("mixed.txt");
    write(&p, &fs::read(fixture("mixed_le_bom.txt")).unwrap());
    scrub_ok(&p);
    let text = decode(&fs::read(&p).unwrap()[2..], false);
    assert_eq!(
        text,
        "名前: 山田 カード番号 401288******1881 😀3782-82****-*0005 終わり\n"
    );
}

#[test]
fn utf16_copies_into_out_mirror_and_hashes() {
    let d = tmp();
    let src = d.path().join("in");
    let out = d.path().join("out");
    write(
        &src.join("a.txt"),
        &fs::read(fixture("log_le_bom.txt")).unwrap(),
    );
    let m = mpath();
    scrub_out_ok(&out, &src, Some(&m));
    assert_eq!(
        fs::read(src.join("a.txt")).unwrap(),
        fs::read(fixture("log_le_bom.txt")).unwrap(),
        "original untouched"
    );
    let copy = fs::read(out.join("in/a.txt")).unwrap();
    assert!(decode(&copy[2..], false).contains("card 4111 11** **** 1111 paid, cvv=***"));
    let file = kind(&manifest(&m), "file")[0].clone();
    assert_eq!(file["status"], "truncated");
    assert!(file["sha256_after"].is_string());
}

#[test]
fn large_utf16_file_pans_on_block_edges() {
    // Blocks are 1 MiB of bytes: put PANs across the first edges.
    let mut text = String::new();
    let mut placed = 0;
    while text.len() < 1_600_000 {
        let edge = (1 << 19) * (1 + text.len() / (1 << 19)); // in units
                                                             // The next round would cross the edge: pad so the PAN starts 7
                                                             // units before it.
        if text.len() + 700 > edge && text.len() + 8 <= edge {
            text.push_str(&"x".repeat(edge - text.len() - 8));
        }
        text.push_str(" 4111111111111111 ");
        placed += 1;
        text.push_str(&"log line with words\n".repeat(30));
    }
    // At least one PAN straddles each of the first block edges.
    let edges = text.len() / (1 << 19);
    assert!(edges >= 2);
    for k in 1..=edges {
        let edge = k << 19;
        let around = &text[edge - 8..edge + 12];
        assert!(
            around.contains("1111"),
            "no PAN across edge {k}: {around:?}"
        );
    }
    let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let d = tmp();
    let p = d.path().join("big.txt");
    write(&p, &bytes);
    let m = scrub_ok(&p);
    assert_eq!(kind(&manifest(&m), "finding").len(), placed);
    let after = decode(&fs::read(&p).unwrap(), false);
    assert_eq!(after.matches("411111******1111").count(), placed);
    assert_eq!(after.len(), text.len());
}

/// A Salesforce Data Export taken in UTF-16 (the admin picks the file
/// encoding): `Account.csv` written by Python's csv module as UTF-16LE with
/// a BOM, inside a zip made by `zip`, a `.gz` made by `gzip` and a tar made
/// by `tar`, and on its own. Every copy is found with its row, field and
/// record id, scrubbed as UTF-16, and read back by Python's csv module with
/// only the card cell changed.
#[test]
fn utf16_csv_exports_inside_archives_are_found_located_and_scrubbed() {
    let d = tmp();
    let t = d.path().join("t");
    fs::create_dir_all(&t).unwrap();
    let mk = r#"
import csv
rows = [["Id", "Name", "Description"],
        ["0015g00000AcmeAAA", "Société Acme", "card 4111 1111 1111 1111 on file"],
        ["0015g00000BetaAAA", "Beta", "no card here"],
        ["0015g00000GammAAA", "Gamma", "paid with 5555555555554444"]]
with open("Account.csv", "w", encoding="utf-16", newline="") as f:
    csv.writer(f).writerows(rows)
"#;
    fs::write(t.join("mk.py"), mk).unwrap();
    let run = |script: &str| {
        let st = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(&t)
            .status()
            .unwrap();
        assert!(st.success(), "{script}");
    };
    run("python3 mk.py && rm mk.py");
    assert_eq!(&fs::read(t.join("Account.csv")).unwrap()[..2], b"\xff\xfe");
    run(
        "zip -q WE_00D5g0000000001_1.ZIP Account.csv && gzip -k Account.csv \
         && mkdir x && cp Account.csv x/ && tar cf export.tar -C x Account.csv \
         && tar czf export.tgz -C x Account.csv && rm -r x",
    );
    let inputs = [
        ("Account.csv", None),
        ("WE_00D5g0000000001_1.ZIP", Some("Account.csv")),
        ("Account.csv.gz", None),
        ("export.tar", Some("Account.csv")),
        ("export.tgz", Some("Account.csv")),
    ];
    let m = mpath();
    let o = panscrub(&["scan", "-m", m.to_str().unwrap(), t.to_str().unwrap()]);
    assert_exit(&o, 1);
    assert_no_pan("stdout", &o.stdout);
    let man = manifest(&m);
    for (name, member) in inputs {
        let found: Vec<&Value> = kind(&man, "finding")
            .into_iter()
            .filter(|f| f["path"].as_str().unwrap().ends_with(name))
            .collect();
        let mut locs: Vec<(u64, String, String)> = found
            .iter()
            .map(|f| {
                (
                    f["row"].as_u64().unwrap_or(0),
                    f["field"].as_str().unwrap_or("").to_string(),
                    f["record_id"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        locs.sort();
        assert_eq!(
            locs,
            vec![
                (1, "Description".into(), "0015g00000AcmeAAA".into()),
                (3, "Description".into(), "0015g00000GammAAA".into()),
            ],
            "{name}: {found:?}"
        );
        for f in &found {
            assert_eq!(f["object"], "Account", "{name}");
            assert_eq!(f["member"].as_str(), member, "{name}");
        }
    }
    let m = scrub_ok(&t);
    assert_no_pan("manifest", &fs::read(&m).unwrap());
    let o = panscrub(&["scan", "-q", t.to_str().unwrap()]);
    assert_exit(&o, 0);
    let check = r#"
import csv, gzip, io, sys, tarfile, zipfile
def rows(data):
    assert data[:2] == b"\xff\xfe", "still UTF-16 with its BOM"
    return list(csv.reader(io.StringIO(data.decode("utf-16"), newline="")))
copies = {
    "plain": open("Account.csv", "rb").read(),
    "zip": zipfile.ZipFile("WE_00D5g0000000001_1.ZIP").read("Account.csv"),
    "gz": gzip.open("Account.csv.gz").read(),
    "tar": tarfile.open("export.tar").extractfile("Account.csv").read(),
    "tgz": tarfile.open("export.tgz").extractfile("Account.csv").read(),
}
want = [["Id", "Name", "Description"],
        ["0015g00000AcmeAAA", "Société Acme", "card 4111 11** **** 1111 on file"],
        ["0015g00000BetaAAA", "Beta", "no card here"],
        ["0015g00000GammAAA", "Gamma", "paid with 555555******4444"]]
for k, v in copies.items():
    assert rows(v) == want, (k, rows(v))
print("ok")
"#;
    fs::write(d.path().join("check.py"), check).unwrap();
    let o = Command::new("python3")
        .arg(d.path().join("check.py"))
        .current_dir(&t)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// UTF-16 JSON and a UTF-16 CSV with a verification-code column, written by
/// Python: JSON paths and CSV cells as for UTF-8, and a JSON file led by a
/// byte-order mark (UTF-8's or UTF-16's) is valid JSON.
#[test]
fn utf16_json_paths_and_csv_code_columns() {
    let d = tmp();
    let mk = r#"
import csv, json
with open("Pay.csv", "w", encoding="utf-16", newline="") as f:
    w = csv.writer(f)
    w.writerows([["Id", "Card", "CVV"], ["a1", "4111111111111111", "123"], ["a2", "none", "456"]])
doc = json.dumps({"records": [{"note": "x"}, {"card": "5555555555554444"}]})
open("events.json", "w", encoding="utf-16").write(doc)
open("bom8.json", "w", encoding="utf-8-sig").write(doc)
"#;
    fs::write(d.path().join("mk.py"), mk).unwrap();
    let st = Command::new("python3")
        .arg("mk.py")
        .current_dir(d.path())
        .status()
        .unwrap();
    assert!(st.success());
    fs::remove_file(d.path().join("mk.py")).unwrap();
    let m = mpath();
    let o = panscrub(&[
        "scan",
        "-m",
        m.to_str().unwrap(),
        d.path().to_str().unwrap(),
    ]);
    assert_exit(&o, 1);
    let man = manifest(&m);
    for f in kind(&man, "file") {
        assert_ne!(f["status"], "error", "{f}");
    }
    let mut got: Vec<String> = kind(&man, "finding")
        .iter()
        .map(|f| {
            let p = f["path"].as_str().unwrap();
            let name = &p[p.rfind('/').unwrap() + 1..];
            match f["json_path"].as_str() {
                Some(j) => format!("{name} {j}"),
                None => format!("{name} {} row {} {}", f["type"], f["row"], f["field"]),
            }
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            r#"Pay.csv "cvv" row 1 "CVV""#,
            r#"Pay.csv "cvv" row 2 "CVV""#,
            r#"Pay.csv "pan" row 1 "Card""#,
            "bom8.json $.records[1].card",
            "events.json $.records[1].card",
        ]
    );
}
