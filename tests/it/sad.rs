//! Sensitive authentication data (issue: beyond the PAN): verification
//! codes next to their keywords and track data, found, masked in place,
//! typed in the manifest; look-alikes untouched.

use super::*;

/// A POS-style log: every kind, and look-alikes that must stay.
const LOG: &str = "\
2026-11-01 auth card=4111111111111111 cvv=123 ok
2026-11-01 auth {\"pan\": \"5555555555554444\", \"cvv2\": \"4567\"}
2026-11-01 swipe ;4012888888881881=25121010000000000000?
2026-11-01 swipe %B5105105105105100^DOE/JOHN^2512101000000123000?
2026-11-01 keep cvv_version=1234 invoice=123 cvv=12 decision=456 price=123.45
2026-11-01 xml <payment><cvc>321</cvc></payment>
";

const SCRUBBED: &str = "\
2026-11-01 auth card=411111******1111 cvv=*** ok
2026-11-01 auth {\"pan\": \"555555******4444\", \"cvv2\": \"****\"}
2026-11-01 swipe ;401288******1881=********************?
2026-11-01 swipe %B510510******5100^DOE/JOHN^*******************?
2026-11-01 keep cvv_version=1234 invoice=123 cvv=12 decision=456 price=123.45
2026-11-01 xml <payment><cvc>***</cvc></payment>
";

#[test]
fn codes_and_tracks_are_masked_in_place_and_typed() {
    let d = tmp();
    let p = d.path().join("pos.log");
    write(&p, LOG.as_bytes());
    let m = d.path().join("scan.jsonl");
    let o = panscrub(&["scan", "-m", m.to_str().unwrap(), p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_no_pan("stdout", &o.stdout);
    assert_no_pan("stderr", &o.stderr);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        !stdout.contains("25121010000000000000"),
        "track data on stdout"
    );
    let man = manifest(&m);
    let types: Vec<(&str, &str, u64)> = kind(&man, "finding")
        .iter()
        .map(|f| {
            (
                f["type"].as_str().unwrap(),
                f["masked"].as_str().unwrap(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        types,
        vec![
            ("pan", "411111******1111", 1),
            ("cvv", "***", 1),
            ("pan", "555555******4444", 2),
            ("cvv", "****", 2),
            ("track2", "401288******1881", 3),
            ("track1", "510510******5100", 4),
            ("cvv", "***", 6),
        ]
    );
    for f in kind(&man, "finding") {
        // Codes have no brand; everything holding a PAN has one.
        assert_eq!(f["brand"].is_null(), f["type"] == "cvv");
    }
    let track1 = kind(&man, "finding")[5];
    // The region remediated: PAN, name, and the data after it up to `?`.
    assert_eq!(track1["length"], 16 + 10 + 19);
    let text = fs::read_to_string(&m).unwrap();
    assert_no_pan("manifest", text.as_bytes());
    assert!(
        !text.contains("2512101000000123000"),
        "track data in manifest"
    );
    let summary = kind(&man, "summary")[0];
    assert_eq!(summary["by_type"]["cvv"], 3);
    assert_eq!(summary["by_type"]["track1"], 1);
    assert_eq!(summary["by_type"]["pan"], 2);

    let m = scrub_ok(&p);
    assert_eq!(fs::read_to_string(&p).unwrap(), SCRUBBED);
    let actions: Vec<Value> = kind(&manifest(&m), "finding")
        .iter()
        .map(|f| f["action"].clone())
        .collect();
    assert!(actions.iter().all(|a| a == "truncated"), "{actions:?}");
    // Idempotent: nothing left to find.
    let o = panscrub(&["scan", "-q", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn bare_json_number_code_stays_valid_json() {
    let d = tmp();
    let p = d.path().join("orders.json");
    write(
        &p,
        br#"{"orders": [{"card": "4111111111111111", "cvv": 123, "qty": 2}, {"CVC2":4567}]}"#,
    );
    let m = scrub_ok(&p);
    let after = fs::read_to_string(&p).unwrap();
    let v: Value = serde_json::from_str(&after).expect("still JSON");
    assert_eq!(v["orders"][0]["cvv"], 0);
    assert_eq!(v["orders"][1]["CVC2"], 0);
    assert_eq!(v["orders"][0]["qty"], 2);
    let codes: Vec<Value> = kind(&manifest(&m), "finding")
        .iter()
        .filter(|f| f["type"] == "cvv")
        .map(|f| f["masked_as"].clone())
        .collect();
    assert_eq!(codes, vec![Value::from("number"), Value::from("number")]);
}

#[test]
fn pan_only_leaves_codes_and_track_data() {
    let d = tmp();
    let p = d.path().join("pos.log");
    write(&p, LOG.as_bytes());
    let o = panscrub(&["scrub", "-q", "--pan-only", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let after = fs::read_to_string(&p).unwrap();
    assert!(after.contains("cvv=123 ok"));
    assert!(after.contains(";401288******1881=25121010000000000000?"));
}

#[test]
fn csv_column_named_for_codes_is_masked_and_stays_csv() {
    let d = tmp();
    let p = d.path().join("Payment__c.csv");
    let original = "\u{feff}Id,Name,Card_Number__c,Card_CVV__c,Description\r\n\
        a01000000000001AAA,\"Doe, John\",4111111111111111,123,\"multi\nline\"\r\n\
        a01000000000002AAA,Jane,,\"0456\",cvv=789 in a note\r\n\
        a01000000000003AAA,Bob,,12,version 1234\r\n";
    write(&p, original.as_bytes());
    let m = scrub_ok(&p);
    let found: Vec<(String, u64, String, String, u64)> = kind(&manifest(&m), "finding")
        .iter()
        .map(|f| {
            (
                f["type"].as_str().unwrap().to_string(),
                f["row"].as_u64().unwrap(),
                f["field"].as_str().unwrap().to_string(),
                f["record_id"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    let row = |t: &str, r: u64, field: &str, id: &str, line: u64| {
        (t.to_string(), r, field.to_string(), id.to_string(), line)
    };
    assert_eq!(
        found,
        vec![
            row("pan", 1, "Card_Number__c", "a01000000000001AAA", 2),
            row("cvv", 1, "Card_CVV__c", "a01000000000001AAA", 2),
            row("cvv", 2, "Card_CVV__c", "a01000000000002AAA", 4),
            row("cvv", 2, "Description", "a01000000000002AAA", 4),
        ]
    );
    let after = fs::read_to_string(&p).unwrap();
    let mut rd = csv::Reader::from_reader(after.as_bytes());
    let rows: Vec<Vec<String>> = rd
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(rows[0][3], "***");
    assert_eq!(rows[0][4], "multi\nline");
    assert_eq!(rows[1][3], "****");
    assert_eq!(rows[1][4], "cvv=*** in a note");
    assert_eq!(rows[2][3], "12", "not a code: left alone");
    assert_eq!(after.len(), original.len());
}
