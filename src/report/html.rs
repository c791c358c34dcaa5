//! `report --format html`: one self-contained page an auditor can read,
//! print and archive. No network access and no external assets: the styles
//! and the one small script (table sorting, a self-check of the totals) are
//! inline; the charts are SVG drawn here, so they print without a script.
//!
//! Everything from a manifest is HTML-escaped (file names may hold `<`).
//! Manifests never hold a full PAN, so neither does the page.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::Result;
use serde_json::Value;

use super::tally::{SAMPLE_FILES, SAMPLE_FINDINGS};
use super::{path_text, Collected};
use crate::record::{FileRecord, FileStatus, FindingRecord, Record};

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}th.sort{cursor:pointer}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.totals td:first-child{font-weight:600}
.status-error{color:#a00}.status-reported{color:#a60}.status-truncated{color:#060}
code{font-family:ui-monospace,monospace;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:2em}
.note{color:#555}
@media print{th.sort{cursor:auto}.noprint{display:none}}
";

/// Sorts a table by a clicked header, and checks on load that the per-file
/// findings add up to the total shown (the result goes into
/// `data-check` on `<body>`, which the browser test reads).
const SCRIPT: &str = r#"
(function(){
  function key(td){var v=td.getAttribute('data-v');if(v!==null){return parseFloat(v);}return td.textContent;}
  document.querySelectorAll('table.sortable').forEach(function(t){
    t.querySelectorAll('th').forEach(function(th,i){
      th.classList.add('sort');
      th.addEventListener('click',function(){
        var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
        var dir=th.getAttribute('data-dir')==='asc'?-1:1;th.setAttribute('data-dir',dir===1?'asc':'desc');
        rows.sort(function(a,b){var x=key(a.cells[i]),y=key(b.cells[i]);return (x>y?1:x<y?-1:0)*dir;});
        rows.forEach(function(r){body.appendChild(r);});
      });
    });
  });
  var total=document.querySelector('[data-total="findings"]');
  var listed=document.querySelector('#files')?document.querySelector('#files').getAttribute('data-complete')==='true':false;
  var sum=0;document.querySelectorAll('#files tbody tr').forEach(function(r){sum+=parseInt(r.getAttribute('data-findings'),10);});
  document.body.setAttribute('data-check',!listed||!total||parseInt(total.textContent,10)===sum?'ok':'mismatch');
})();
"#;

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A horizontal bar chart of `(label, count)` rows as inline SVG.
fn bar_chart(title: &str, rows: &Value) -> String {
    let rows: Vec<(String, u64)> = rows
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r[0].as_str().unwrap_or("").to_string(),
                r[1].as_u64().unwrap_or(0),
            )
        })
        .take(12)
        .collect();
    let mut s = format!("<figure><figcaption>{}</figcaption>", esc(title));
    if rows.is_empty() {
        s.push_str("<p class=\"note\">none</p></figure>");
        return s;
    }
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    let (label_w, bar_w, h) = (220, 260, 20);
    let _ = write!(
        s,
        "<svg role=\"img\" aria-label=\"{}\" width=\"{}\" height=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(title),
        label_w + bar_w + 60,
        rows.len() * h + 4
    );
    for (i, (label, n)) in rows.iter().enumerate() {
        let y = i * h + 2;
        let w = (*n as f64 / max as f64 * bar_w as f64).max(1.0);
        let shown: String = if label.chars().count() > 34 {
            let tail: String = label.chars().rev().take(33).collect();
            format!("…{}", tail.chars().rev().collect::<String>())
        } else {
            label.clone()
        };
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"12\">{}</text><rect x=\"{}\" y=\"{}\" width=\"{w:.1}\" height=\"{}\" fill=\"#4a78b5\"><title>{}: {n}</title></rect><text x=\"{}\" y=\"{}\" font-size=\"12\">{n}</text>",
            label_w - 6,
            y + 14,
            esc(&shown),
            label_w,
            y + 3,
            h - 6,
            esc(label),
            label_w as f64 + w + 4.0,
            y + 14
        );
    }
    s.push_str("</svg></figure>");
    s
}

fn status_name(s: FileStatus) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Where a finding is, for people: line and column, CSV row and field,
/// JSON path or Parquet column and row.
fn location(f: &FindingRecord) -> String {
    let mut parts = Vec::new();
    if let Some(m) = &f.member {
        parts.push(format!("member {m}"));
    }
    if let (Some(l), Some(c)) = (f.line, f.column) {
        parts.push(format!("line {l}, col {c}"));
    }
    if let Some(r) = f.row {
        parts.push(format!("row {r}"));
    }
    if let Some(x) = &f.field {
        parts.push(format!("field {x}"));
    }
    if let Some(x) = &f.record_id {
        parts.push(format!("Id {x}"));
    }
    if let Some(x) = &f.column_path {
        parts.push(format!("column {x}"));
    }
    if let Some(x) = &f.json_path {
        parts.push(x.clone());
    }
    parts.push(format!("offset {}", f.offset));
    parts.join("; ")
}

fn file_row(s: &mut String, f: &FileRecord) {
    let status = status_name(f.status);
    let _ = write!(
        s,
        "<tr data-findings=\"{}\"><td><code>{}</code></td><td>{}</td><td class=\"n\" data-v=\"{}\">{}</td><td class=\"status-{status}\">{status}</td><td class=\"n\" data-v=\"{}\">{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
        f.findings,
        esc(&path_text(&f.path)),
        esc(&f.format),
        f.size,
        f.size,
        f.findings,
        f.findings,
        esc(f.sha256_before.as_deref().unwrap_or("")),
        esc(f.sha256_after.as_deref().unwrap_or("")),
        esc(f.reason.as_deref().unwrap_or(""))
    );
}

/// Writes the page. The tables of files and findings are the samples kept
/// while reading; the table of errors and skipped inputs lists them all,
/// read again from the manifests.
pub fn write_html(c: &Collected, r: &Value, out: &mut dyn Write) -> Result<()> {
    let n = |k: &str| r[k].as_u64().unwrap_or(0);
    let mut s = String::with_capacity(64 * 1024);
    s.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    s.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">");
    s.push_str("<title>panscrub evidence report</title><style>");
    s.push_str(STYLE);
    s.push_str("</style></head><body><h1>panscrub evidence report</h1>");

    s.push_str("<h2>Runs</h2><table><thead><tr><th>tool</th><th>mode</th><th>started</th><th>roots</th><th>output directory</th><th>shard</th><th>policy</th><th>IIN table</th><th>state</th></tr></thead><tbody>");
    for run in r["run_list"].as_array().into_iter().flatten() {
        let t = |k: &str| esc(run[k].as_str().unwrap_or(""));
        let roots: Vec<String> = run["roots"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(esc)
            .collect();
        let _ = write!(
            s,
            "<tr><td>{} {}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>keep {}, mask <code>{}</code></td><td>{}</td><td>{}</td></tr>",
            t("tool"),
            t("version"),
            t("mode"),
            t("started"),
            roots.join("<br>"),
            t("out"),
            t("shard"),
            t("keep"),
            t("mask_char"),
            t("iin_table_version"),
            if run["complete"] == true {
                "complete"
            } else {
                "interrupted (no summary)"
            }
        );
    }
    s.push_str("</tbody></table>");
    let _ = write!(
        s,
        "<p>Duration: {:.3} s (the longest run){}.</p>",
        r["elapsed_seconds"].as_f64().unwrap_or(0.0),
        match r["interrupted_by"].as_array() {
            Some(v) if !v.is_empty() => format!(
                "; stopped by {}",
                esc(&v
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
            ),
            _ => String::new(),
        }
    );
    s.push_str("<table><thead><tr><th>manifest</th><th>sha256</th></tr></thead><tbody>");
    for m in r["manifests"].as_array().into_iter().flatten() {
        let _ = write!(
            s,
            "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>",
            esc(m["path"].as_str().unwrap_or("")),
            esc(m["sha256"].as_str().unwrap_or(""))
        );
    }
    s.push_str("</tbody></table>");
    if n("unreadable_lines") > 0 {
        let _ = write!(
            s,
            "<p class=\"status-error\">{} unreadable manifest line(s) skipped (a run cut short mid-write).</p>",
            n("unreadable_lines")
        );
    }

    s.push_str("<h2>Totals</h2><table class=\"totals\"><tbody>");
    for (key, label) in [
        ("files", "files"),
        ("bytes", "bytes"),
        ("files_with_findings", "files with findings"),
        ("findings", "findings"),
        ("truncated", "truncated"),
        ("reported", "left in place"),
        ("allowed", "allowed"),
        ("errors", "errors"),
        ("skipped", "skipped"),
    ] {
        let _ = write!(
            s,
            "<tr><td>{label}</td><td class=\"n\" data-total=\"{key}\">{}</td></tr>",
            n(key)
        );
    }
    s.push_str("</tbody></table>");

    s.push_str("<h2>Findings by type, brand and place</h2><div class=\"charts\">");
    s.push_str(&bar_chart("By type", &r["by_type"]));
    s.push_str(&bar_chart("By brand", &r["by_brand"]));
    s.push_str(&bar_chart(
        "By directory or Salesforce object",
        &r["by_place"],
    ));
    s.push_str("</div>");

    if let Some(list) = r["attachments"].as_array().filter(|l| !l.is_empty()) {
        s.push_str("<h2>Salesforce attachments by record Id</h2><table class=\"sortable\"><thead><tr><th>record Id</th><th>findings</th><th>truncated</th><th>reported</th><th>where</th><th>not inspected</th></tr></thead><tbody>");
        for a in list {
            let places: Vec<&str> = a["where"]
                .as_array()
                .map(|w| w.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let _ = write!(
                s,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(a["id"].as_str().unwrap_or("")),
                a["findings"],
                a["truncated"],
                a["reported"],
                esc(&places.join(", ")),
                esc(a["not_inspected"].as_str().unwrap_or(""))
            );
        }
        s.push_str("</tbody></table>");
    }

    // Files: every file that is not clean, then clean ones, up to a cap.
    let seen = &c.seen;
    let complete = seen.all_files_sampled();
    // The page checks its own sums only where they must agree: every file
    // listed, every run finished, no line lost.
    let checkable = complete && c.complete.iter().all(|d| *d) && c.bad_lines == 0;
    let _ = write!(
        s,
        "<h2>Files</h2><p class=\"note\">{} file record(s){}. Click a column to sort.</p><table id=\"files\" class=\"sortable\" data-complete=\"{checkable}\"><thead><tr><th>path</th><th>format</th><th>size</th><th>status</th><th>findings</th><th>sha256 before</th><th>sha256 after</th><th>reason</th></tr></thead><tbody>",
        seen.file_records,
        if complete {
            String::new()
        } else {
            format!("; the first {SAMPLE_FILES} listed (all with findings or problems first); `report --format csv --files` lists all")
        }
    );
    for f in seen.sample_files() {
        file_row(&mut s, f);
    }
    s.push_str("</tbody></table>");

    let _ = write!(
        s,
        "<h2>Findings</h2><p class=\"note\">{} finding(s), masked as written to the manifest{}.</p><table id=\"findings\" class=\"sortable\"><thead><tr><th>path</th><th>location</th><th>type</th><th>brand</th><th>masked</th><th>action</th></tr></thead><tbody>",
        seen.counted.findings,
        if seen.counted.findings as usize > SAMPLE_FINDINGS {
            format!("; the first {SAMPLE_FINDINGS} listed, `report --format csv` lists all")
        } else {
            String::new()
        }
    );
    for f in &seen.sample_findings {
        let action = serde_json::to_value(f.action).unwrap_or_default();
        let _ = write!(
            s,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            esc(&path_text(&f.path)),
            esc(&location(f)),
            esc(&f.kind),
            esc(f.brand.as_deref().unwrap_or("")),
            esc(&f.masked),
            esc(action.as_str().unwrap_or(""))
        );
    }
    s.push_str("</tbody></table>");

    s.push_str("<h2>Errors and skipped inputs</h2>");
    if seen.errors + seen.skipped == 0 {
        s.push_str("<p>None.</p>");
        out.write_all(s.as_bytes())?;
    } else {
        s.push_str("<table id=\"problems\"><thead><tr><th>status</th><th>path</th><th>reason</th></tr></thead><tbody>");
        out.write_all(s.as_bytes())?;
        c.replay(&mut |r| match r {
            Record::File(f) if matches!(f.status, FileStatus::Error | FileStatus::Skipped) => {
                let status = status_name(f.status);
                write!(
                    out,
                    "<tr><td class=\"status-{status}\">{status}</td><td><code>{}</code></td><td>{}</td></tr>",
                    esc(&path_text(&f.path)),
                    esc(f.reason.as_deref().unwrap_or(""))
                )
            }
            _ => Ok(()),
        })?;
        out.write_all(b"</tbody></table>")?;
    }
    let mut s = String::new();
    s.push_str("<script>");
    s.push_str(SCRIPT);
    s.push_str("</script></body></html>\n");
    Ok(out.write_all(s.as_bytes())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_a_manifest_is_escaped() {
        assert_eq!(
            esc("<img src=x onerror=alert(1)> & \"'"),
            "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;&#39;"
        );
        let chart = bar_chart("t", &serde_json::json!([["<dir>", 3]]));
        assert!(chart.contains("&lt;dir&gt;") && !chart.contains("<dir>"));
    }
}
