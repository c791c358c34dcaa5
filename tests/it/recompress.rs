//! Rebuilt compressed files, recompressed on every worker: each stream the
//! system's gzip, zstd, xz and bzip2 wrote (several chunks long) is
//! scrubbed with one worker and with two; the tool tests the result, it
//! decodes to the masked text, a reader that stops after the first stream
//! or member reads it whole, and the gzip and bzip2 bytes do not depend on
//! the number of workers.

use std::io::Read;

use super::*;

const TOOLS: [(&str, &str); 4] = [
    ("gzip", "gz"),
    ("zstd -q", "zst"),
    ("xz", "xz"),
    ("bzip2", "bz2"),
];

/// About 3.5 MB of log lines with a test card every ~10 KB: several gzip
/// (1 MiB) and bzip2 (719,000-byte) chunks.
fn log_text() -> String {
    let mut s = String::new();
    let mut i = 0u64;
    while s.len() < 3_500_000 {
        if i.is_multiple_of(100) {
            s.push_str(&format!("{i} POST /pay card=4111111111111111 200\n"));
        } else {
            let id = i.wrapping_mul(2_654_435_761) % 1_000_003;
            s.push_str(&format!("{i} GET /api/orders/{id} 200 {} ms\n", i % 997));
        }
        i += 1;
    }
    s
}

/// What a reader that stops at the end of the first gzip member or bzip2
/// stream sees.
fn first_stream(ext: &str, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match ext {
        "gz" => flate2::read::GzDecoder::new(bytes).read_to_end(&mut out),
        "bz2" => bzip2::read::BzDecoder::new(bytes).read_to_end(&mut out),
        _ => return None,
    }
    .unwrap();
    Some(out)
}

#[test]
fn recompressed_streams_are_one_stream_valid_for_their_tool_whatever_the_workers() {
    let text = log_text();
    let masked = text.replace("4111111111111111", "411111******1111");
    let d = tmp();
    write(&d.path().join("app.log"), text.as_bytes());
    for (tool, ext) in TOOLS {
        sh_output(d.path(), &format!("{tool} -c app.log > app.log.{ext}"));
    }
    std::fs::remove_file(d.path().join("app.log")).unwrap();
    let mut by_workers = Vec::new();
    for workers in ["1", "2"] {
        let tree = d.path().join(format!("j{workers}"));
        std::fs::create_dir(&tree).unwrap();
        for (_, ext) in TOOLS {
            std::fs::copy(
                d.path().join(format!("app.log.{ext}")),
                tree.join(format!("app.log.{ext}")),
            )
            .unwrap();
        }
        let m = d.path().join(format!("j{workers}.jsonl"));
        let o = panscrub(&[
            "scrub",
            "-q",
            "-j",
            workers,
            "--manifest",
            m.to_str().unwrap(),
            tree.to_str().unwrap(),
        ]);
        assert_exit(&o, 0);
        let s = summary(&manifest(&m)).clone();
        let cards = text.matches("4111111111111111").count();
        assert_eq!(
            (&s["truncated"], &s["errors"]),
            (&Value::from(4 * cards), &Value::from(0)),
            "{s}"
        );
        for (tool, ext) in TOOLS {
            let name = format!("app.log.{ext}");
            let tool = tool.split(' ').next().unwrap();
            sh_output(&tree, &format!("{tool} -t {name}"));
            let decoded = sh_output(&tree, &format!("{tool} -dc {name}"));
            assert!(
                decoded == masked.as_bytes(),
                "{name}, -j{workers}: decodes to other bytes"
            );
            let bytes = std::fs::read(tree.join(&name)).unwrap();
            if let Some(first) = first_stream(ext, &bytes) {
                assert!(
                    first == masked.as_bytes(),
                    "{name}, -j{workers}: more than one stream"
                );
            }
        }
        by_workers.push(tree);
    }
    for ext in ["gz", "bz2"] {
        let name = format!("app.log.{ext}");
        assert!(
            std::fs::read(by_workers[0].join(&name)).unwrap()
                == std::fs::read(by_workers[1].join(&name)).unwrap(),
            "{name}: -j1 and -j2 wrote different bytes"
        );
    }
}
