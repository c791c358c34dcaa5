//! OpenDocument files (`.odt`, `.ods`, `.odp`) written by odfpy and by
//! LibreOffice itself, and LibreOffice opening every scrubbed document,
//! OpenDocument and OOXML alike (`soffice --headless --convert-to`): a card
//! is found where a person sees it, located by sheet and cell, paragraph,
//! slide; masked so the document still opens and shows the mask.
//! `scripts/test.sh` installs odfpy and LibreOffice (Debian's `-nogui`
//! packages) and sets `PANSCRUB_REQUIRE_TOOLS`, under which their absence
//! fails.

use super::office::{changed_members, luhn_valid, make_docs, members, read_back, scrub, DOCS};
use super::*;

/// Writes `form.odt` and `payments.ods` with odfpy into `dir`.
fn make_odf(dir: &Path) -> bool {
    let o = Command::new("python3")
        .args([DOCS, "make-odf"])
        .arg(dir)
        .output()
        .unwrap();
    if !o.status.success() {
        assert!(
            std::env::var_os("PANSCRUB_REQUIRE_TOOLS").is_none(),
            "odfpy is required: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        eprintln!("skipped: cannot write OpenDocument files (pip install odfpy)");
        return false;
    }
    true
}

/// LibreOffice, headless, with its own profile under `work` (runs at once
/// never share one): converts each of `files` to `to` (a file extension,
/// or `ext:filter`) into `outdir`; returns the converted files. Fails the
/// test if a document does not open. `None` when LibreOffice is not
/// installed and not required.
pub(crate) fn libreoffice(
    work: &Path,
    to: &str,
    outdir: &Path,
    files: &[PathBuf],
) -> Option<Vec<PathBuf>> {
    let profile = work.join("lo-profile");
    let run = Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.display()
        ))
        .args(["--headless", "--norestore", "--convert-to", to, "--outdir"])
        .arg(outdir)
        .args(files)
        .output();
    let o = match run {
        Ok(o) => o,
        Err(e) => {
            assert!(
                std::env::var_os("PANSCRUB_REQUIRE_TOOLS").is_none(),
                "LibreOffice (soffice) is required: {e}"
            );
            eprintln!("skipped: LibreOffice is not installed");
            return None;
        }
    };
    let ext = to.split(':').next().unwrap();
    let converted: Vec<PathBuf> = files
        .iter()
        .map(|f| outdir.join(f.with_extension(ext).file_name().unwrap()))
        .collect();
    for c in &converted {
        assert!(
            c.exists(),
            "LibreOffice could not open a document ({}): {}{}",
            c.display(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    Some(converted)
}

/// Whether a zip's first member is `mimetype`, stored: what an
/// OpenDocument reader looks for before anything else.
fn mimetype_first_and_stored(file: &Path) -> bool {
    let mut ar = zip::ZipArchive::new(fs::File::open(file).unwrap()).unwrap();
    let first = ar.by_index(0).unwrap();
    first.name().unwrap() == "mimetype" && first.compression() == zip::CompressionMethod::Stored
}

/// A card split over a bold span, one in a link's target and one before a
/// footnote are found in their paragraphs and masked; LibreOffice opens
/// the scrubbed document and shows the masks; only `content.xml` changed.
#[test]
fn an_odt_card_over_a_span_in_a_link_and_before_a_footnote_is_found_and_masked() {
    let d = tmp();
    if !make_odf(d.path()) {
        return;
    }
    let doc = d.path().join("form.odt");
    let original = d.path().join("original.odt");
    fs::copy(&doc, &original).unwrap();
    let recs = scrub(d.path(), &doc);
    let mut found: Vec<(u64, String)> = kind(&recs, "finding")
        .iter()
        .map(|f| {
            assert_eq!(f["member"], "content.xml");
            (
                f["paragraph"].as_u64().unwrap(),
                f["masked"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            (2, "411111******1111".to_string()),
            (3, "555555******4444".to_string()),
            (4, "378282*****0005".to_string()),
        ]
    );
    let after = read_back(&doc);
    assert_eq!(
        after["paragraphs"][1],
        "Card on file: 4111 11** **** 1111 exp 12/28"
    );
    assert_eq!(
        after["paragraphs"][5], "Reference 1234 5678 9012 3456 is not a card.",
        "not a card: kept"
    );
    let content = String::from_utf8(members(&doc)["content.xml"].clone()).unwrap();
    assert!(
        content.contains("pan=555555******4444"),
        "the link is masked"
    );
    assert_eq!(changed_members(&original, &doc), vec!["content.xml"]);
    assert!(mimetype_first_and_stored(&doc));
    let out = d.path().join("lo");
    let Some(txt) = libreoffice(d.path(), "txt", &out, std::slice::from_ref(&doc)) else {
        return;
    };
    let shown = fs::read(&txt[0]).unwrap();
    assert_no_pan("LibreOffice's text of the scrubbed document", &shown);
    let shown = String::from_utf8_lossy(&shown);
    assert!(
        shown.contains("Card on file: 4111 11** **** 1111 exp 12/28"),
        "{shown}"
    );
    assert!(shown.contains("Amex 3782 82**** *0005"), "{shown}");
    assert_exit(&panscrub(&["scan", "-q", doc.to_str().unwrap()]), 0);
}

/// A card column of numbers below two repeated empty rows: each cell is
/// located by sheet and reference, masked as a number in its value and in
/// the text it shows, and stays a number.
#[test]
fn an_ods_card_column_of_numbers_stays_numbers_located_by_sheet_and_cell() {
    let d = tmp();
    if !make_odf(d.path()) {
        return;
    }
    let book = d.path().join("payments.ods");
    let recs = scrub(d.path(), &book);
    let mut places: Vec<(String, String)> = kind(&recs, "finding")
        .iter()
        .map(|f| {
            (
                format!(
                    "{}!{}",
                    f["sheet"].as_str().unwrap(),
                    f["cell"].as_str().unwrap()
                ),
                f["masked_as"].as_str().unwrap_or("text").to_string(),
            )
        })
        .collect();
    places.sort();
    let want = [
        ("Payments!B4", "number"),
        ("Payments!B5", "number"),
        ("Payments!B6", "number"),
        ("Payments!C5", "text"),
    ];
    assert_eq!(places, want.map(|(a, b)| (a.to_string(), b.to_string())));
    let after = read_back(&book);
    let rows = &after["Payments"];
    for (row, card) in [
        (3, "4111111111111111"),
        (4, "5555555555554444"),
        (5, "6011111111111117"),
    ] {
        let value = rows[row][1].as_str().unwrap();
        assert_eq!(value.len(), card.len());
        assert_eq!((&value[..6], &value[12..]), (&card[..6], &card[12..]));
        assert!(value.bytes().all(|b| b.is_ascii_digit()), "still a number");
        assert!(!luhn_valid(value), "{value} is still a card number");
    }
    assert_eq!(rows[4][2], "card 3782 82**** *0005 on file");
    assert_eq!(rows[5][2], "invoice 1234567890123");
    let out = d.path().join("lo");
    let Some(csv) = libreoffice(d.path(), "csv", &out, std::slice::from_ref(&book)) else {
        return;
    };
    let shown = fs::read(&csv[0]).unwrap();
    assert_no_pan("LibreOffice's CSV of the scrubbed sheet", &shown);
    let shown = String::from_utf8_lossy(&shown);
    assert!(
        shown.contains("Ann,4111110000001111,paid by card,12.5"),
        "{shown}"
    );
}

/// Documents as LibreOffice writes them (the OOXML test documents saved as
/// `.odt`, `.ods`, `.odp` by LibreOffice) are found and located; every
/// scrubbed document, OOXML and OpenDocument, opens in LibreOffice again
/// and shows masks where the cards were, never a card.
#[test]
fn libreoffice_opens_every_scrubbed_document_and_shows_the_masks() {
    let d = tmp();
    if !make_docs(d.path()) {
        return;
    }
    let src = |n: &str| d.path().join(n);
    let native = d.path().join("native");
    let (Some(odt), Some(ods), Some(odp)) = (
        libreoffice(d.path(), "odt", &native, &[src("form.docx")]),
        libreoffice(d.path(), "ods", &native, &[src("payments.xlsx")]),
        libreoffice(d.path(), "odp", &native, &[src("deck.pptx")]),
    ) else {
        return;
    };
    let (odt, ods, odp) = (odt[0].clone(), ods[0].clone(), odp[0].clone());
    for f in [&odt, &ods, &odp] {
        assert!(mimetype_first_and_stored(f));
    }
    let found = |recs: &[Value]| -> Vec<String> {
        let mut v: Vec<String> = kind(recs, "finding")
            .iter()
            .map(|f| {
                let mut at = String::new();
                for k in ["sheet", "cell", "slide", "paragraph"] {
                    if !f[k].is_null() {
                        at.push_str(&format!(
                            "{k}={} ",
                            f[k].as_str().map_or(f[k].to_string(), str::to_string)
                        ));
                    }
                }
                at + f["masked"].as_str().unwrap()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        found(&scrub(d.path(), &ods)),
        vec![
            "sheet=Notes cell=A1 400005******5556",
            "sheet=Payments cell=B2 4111110000001111",
            "sheet=Payments cell=B3 5555550000004444",
            "sheet=Payments cell=B4 6011110000001117",
            "sheet=Payments cell=C3 378282*****0005",
        ]
    );
    assert_eq!(
        found(&scrub(d.path(), &odt)),
        vec![
            "paragraph=2 411111******1111",
            "paragraph=5 555555******4444",
        ]
    );
    assert_eq!(
        found(&scrub(d.path(), &odp)),
        vec!["slide=2 paragraph=3 371449*****8431"]
    );
    for f in ["form.docx", "payments.xlsx", "deck.pptx"] {
        scrub(d.path(), &src(f));
    }
    // Each scrubbed document opened by LibreOffice and saved as what a
    // person reads: text, a sheet's CSV, a deck as PowerPoint.
    let out = d.path().join("opened");
    let texts = libreoffice(d.path(), "txt", &out, &[src("form.docx")]).unwrap();
    let odt_text = libreoffice(d.path(), "txt", &out.join("odt"), &[odt]).unwrap();
    let sheets = libreoffice(d.path(), "csv", &out, &[src("payments.xlsx")]).unwrap();
    let ods_sheet = libreoffice(d.path(), "csv", &out.join("ods"), &[ods]).unwrap();
    let decks = libreoffice(d.path(), "pptx", &out.join("odp"), &[odp]).unwrap();
    let deck_again = libreoffice(d.path(), "odp", &out, &[src("deck.pptx")]).unwrap();
    for t in [&texts[0], &odt_text[0]] {
        let shown = fs::read(t).unwrap();
        assert_no_pan("LibreOffice's text of a scrubbed document", &shown);
        let shown = String::from_utf8_lossy(&shown);
        assert!(
            shown.contains("Card on file: 4111 11** **** 1111 exp 12/28"),
            "{shown}"
        );
        assert!(shown.contains("5555 55** **** 4444"), "{shown}");
    }
    for c in [&sheets[0], &ods_sheet[0]] {
        let shown = fs::read(c).unwrap();
        assert_no_pan("LibreOffice's CSV of a scrubbed sheet", &shown);
        let shown = String::from_utf8_lossy(&shown);
        assert!(
            shown.contains("Ann,4111110000001111,paid by card,12.5"),
            "{shown}"
        );
        assert!(shown.contains("card 3782 82**** *0005 on file"), "{shown}");
    }
    let deck = read_back(&decks[0]);
    assert_eq!(deck["slides"][1][1], "Case 17\nCard 3714 49**** *8431");
    // Saved again by LibreOffice, the scrubbed decks hold no card.
    for f in [&decks[0], &deck_again[0]] {
        assert_exit(&panscrub(&["scan", "-q", f.to_str().unwrap()]), 0);
    }
}
