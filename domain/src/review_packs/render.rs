//! Turns the data of a pack into its two files: one self-contained HTML
//! report (inline styles, no scripts, no external requests) and a ZIP with
//! every table as CSV and JSON plus a manifest. Pure: no database, no disk.

use super::Section;
use std::io::Write;

/// The HTML report lists at most this many rows per table; the ZIP has all.
pub const HTML_ROW_LIMIT: usize = 500;

pub struct PackData {
    pub tenant_name: String,
    pub microsoft_tenant_id: String,
    pub workspace_name: String,
    pub generated_at: i64,
    /// The requester's time zone (None: UTC); times are in it, with UTC.
    pub zone: Option<String>,
    pub sections: Vec<SectionData>,
}

pub struct SectionData {
    pub section: Section,
    /// Headline numbers, in order.
    pub facts: Vec<(String, String)>,
    /// Shown when the section has no data yet.
    pub empty: Option<String>,
    pub tables: Vec<Table>,
}

pub struct Table {
    /// File stem inside the ZIP.
    pub file: &'static str,
    pub title: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// Escapes text for HTML content and quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#111827}
h1{font-size:1.6rem;margin-bottom:.25rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #e5e7eb;padding-bottom:.25rem}
h3{font-size:1rem;margin-top:1.25rem}.muted{color:#4b5563}dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
dt{font-weight:600}table{border-collapse:collapse;width:100%;font-size:.875rem;margin-top:.5rem}
th,td{border:1px solid #e5e7eb;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f9fafb}
@media print{body{margin:0}h2{page-break-after:avoid}}";

pub fn html(data: &PackData) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    h.push_str(&format!(
        "<title>Review pack · {}</title><style>{STYLE}</style></head><body>",
        esc(&data.tenant_name)
    ));
    h.push_str(&format!(
        "<header><h1>Review pack: {}</h1><p class=\"muted\">Microsoft tenant {} · {} · generated {}</p></header>",
        esc(&data.tenant_name),
        esc(&data.microsoft_tenant_id),
        esc(&data.workspace_name),
        esc(&crate::time_zones::format_with_utc(data.generated_at, data.zone.as_deref())),
    ));
    h.push_str("<nav aria-label=\"Sections\"><ul>");
    for s in &data.sections {
        h.push_str(&format!(
            "<li><a href=\"#{}\">{}</a></li>",
            s.section.as_str(),
            esc(s.section.label())
        ));
    }
    h.push_str("</ul></nav><main>");
    for s in &data.sections {
        h.push_str(&format!(
            "<section id=\"{}\"><h2>{}</h2>",
            s.section.as_str(),
            esc(s.section.label())
        ));
        if !s.facts.is_empty() {
            h.push_str("<dl>");
            for (k, v) in &s.facts {
                h.push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(k), esc(v)));
            }
            h.push_str("</dl>");
        }
        if let Some(e) = &s.empty {
            h.push_str(&format!("<p class=\"muted\">{}</p>", esc(e)));
        }
        for t in &s.tables {
            h.push_str(&format!("<h3>{}</h3>", esc(t.title)));
            if t.rows.is_empty() {
                h.push_str("<p class=\"muted\">None.</p>");
                continue;
            }
            h.push_str("<table><thead><tr>");
            for c in &t.columns {
                h.push_str(&format!("<th scope=\"col\">{}</th>", esc(c)));
            }
            h.push_str("</tr></thead><tbody>");
            for row in t.rows.iter().take(HTML_ROW_LIMIT) {
                h.push_str("<tr>");
                for cell in row {
                    h.push_str(&format!("<td>{}</td>", esc(cell)));
                }
                h.push_str("</tr>");
            }
            h.push_str("</tbody></table>");
            if t.rows.len() > HTML_ROW_LIMIT {
                h.push_str(&format!(
                    "<p class=\"muted\">Showing {HTML_ROW_LIMIT} of {} rows; data.zip ({}.csv) has all of them.</p>",
                    t.rows.len(),
                    t.file
                ));
            }
        }
        h.push_str("</section>");
    }
    h.push_str("</main></body></html>\n");
    h
}

/// One CSV field: quoted when needed; a leading `= + - @` (a formula when
/// opened in a spreadsheet) is neutralised with an apostrophe.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub fn csv(t: &Table) -> String {
    let mut out = t
        .columns
        .iter()
        .map(|c| csv_field(c))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    for row in &t.rows {
        out.push_str(
            &row.iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}

fn json_rows(t: &Table) -> serde_json::Value {
    serde_json::Value::Array(
        t.rows
            .iter()
            .map(|row| {
                serde_json::Value::Object(
                    t.columns
                        .iter()
                        .zip(row)
                        .map(|(c, v)| (c.to_string(), serde_json::Value::String(v.clone())))
                        .collect(),
                )
            })
            .collect(),
    )
}

pub fn zip(data: &PackData) -> std::io::Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let manifest = serde_json::json!({
        "tenant": data.tenant_name,
        "microsoft_tenant_id": data.microsoft_tenant_id,
        "workspace": data.workspace_name,
        "generated_at": crate::time_zones::format_with_utc(data.generated_at, data.zone.as_deref()),
        "time_zone": data.zone.as_deref().unwrap_or("UTC"),
        "sections": data.sections.iter().map(|s| serde_json::json!({
            "section": s.section.as_str(),
            "facts": s.facts.iter().map(|(k, v)| serde_json::json!({"name": k, "value": v})).collect::<Vec<_>>(),
            "files": s.tables.iter().flat_map(|t| [format!("{}.csv", t.file), format!("{}.json", t.file)]).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    let io = |e: zip::result::ZipError| std::io::Error::other(e.to_string());
    w.start_file("manifest.json", options).map_err(io)?;
    w.write_all(
        serde_json::to_string_pretty(&manifest)
            .map_err(std::io::Error::other)?
            .as_bytes(),
    )?;
    for s in &data.sections {
        for t in &s.tables {
            w.start_file(format!("{}.csv", t.file), options)
                .map_err(io)?;
            w.write_all(csv(t).as_bytes())?;
            w.start_file(format!("{}.json", t.file), options)
                .map_err(io)?;
            w.write_all(
                serde_json::to_string_pretty(&json_rows(t))
                    .map_err(std::io::Error::other)?
                    .as_bytes(),
            )?;
        }
    }
    Ok(w.finish().map_err(io)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PackData {
        PackData {
            tenant_name: "Contoso <Ltd>".into(),
            microsoft_tenant_id: "t".into(),
            workspace_name: "Acme".into(),
            generated_at: 0,
            zone: None,
            sections: vec![SectionData {
                section: Section::Inventory,
                facts: vec![("Policies".into(), "2".into())],
                empty: None,
                tables: vec![Table {
                    file: "inventory",
                    title: "Items",
                    columns: vec!["name", "note"],
                    rows: vec![
                        vec!["<script>x</script>".into(), "=cmd|' /C calc'!A0".into()],
                        vec!["a,b".into(), "say \"hi\"".into()],
                    ],
                }],
            }],
        }
    }

    #[test]
    fn html_escapes_everything_it_prints() {
        let h = html(&sample());
        assert!(h.contains("Contoso &lt;Ltd&gt;"));
        assert!(h.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(!h.contains("<script>"));
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let c = csv(&sample().sections[0].tables[0]);
        let lines: Vec<&str> = c.split("\r\n").collect();
        assert_eq!(lines[0], "name,note");
        assert_eq!(lines[1], "<script>x</script>,'=cmd|' /C calc'!A0");
        assert_eq!(lines[2], "\"a,b\",\"say \"\"hi\"\"\"");
    }

    #[test]
    fn zip_holds_manifest_and_both_formats() {
        let bytes = zip(&sample()).expect("zip");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("read zip");
        let names: Vec<String> = archive
            .file_names()
            .filter_map(|n| n.ok().map(|c| c.to_string()))
            .collect();
        for n in ["manifest.json", "inventory.csv", "inventory.json"] {
            assert!(names.contains(&n.to_string()), "{names:?}");
        }
        let mut s = String::new();
        std::io::Read::read_to_string(
            &mut archive.by_name("inventory.json").expect("json"),
            &mut s,
        )
        .expect("read");
        let v: serde_json::Value = serde_json::from_str(&s).expect("valid json");
        assert_eq!(v[1]["name"], "a,b");
    }
}
