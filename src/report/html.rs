//! The report as one self-contained HTML page: charts inline, no external
//! requests, readable on a phone (tables become labelled cards under 600 px)
//! and printable.

use std::fmt::Write as _;

use super::document::{Block, Inline};

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Makes a plotters SVG scale to its container (phones) and print: its
/// fixed width and height give way to the viewBox.
pub fn responsive(svg: &str) -> String {
    let Some(open_end) = svg.find('>') else {
        return svg.to_string();
    };
    let (open, rest) = svg.split_at(open_end);
    let mut out = String::from("<svg class=\"chart\"");
    for attr in open
        .trim_start_matches("<svg")
        .split(' ')
        .filter(|a| !a.is_empty())
    {
        if attr.starts_with("width=") {
            out.push_str(&format!(" data-{attr}"));
        } else if !attr.starts_with("height=") {
            out.push(' ');
            out.push_str(attr);
        }
    }
    out.push_str(rest);
    out
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1100px;padding:12px;color:#111;line-height:1.4}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}\
.wrap{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.9em}\
th,td{border-bottom:1px solid #e3e3e3;padding:4px 6px;text-align:left;vertical-align:top}\
th{background:#f4f4f4}.range{color:#555;font-size:.85em}.small{color:#8a5a00}\
.level-elite{color:#00734d}.level-high{color:#2b6a00}.level-medium{color:#8a5a00}.level-low{color:#a3262a}\
figure{margin:1em 0}svg.chart{width:100%;height:auto;max-width:640px}.summary{background:#f2f7fb;padding:8px 12px;border-left:4px solid #0072B2}\
@media print{body{max-width:none}h2{break-after:avoid}table,svg{break-inside:avoid}}\
@media (max-width:600px){.wrap{overflow-x:visible}.wrap table,.wrap tbody,.wrap tr,.wrap td{display:block;width:auto}\
.wrap tr:first-child{display:none}.wrap tr{border-bottom:2px solid #ddd;padding:4px 0}\
.wrap td{border:none;padding:1px 0}.wrap td[data-label]::before{content:attr(data-label) \": \";font-weight:600;color:#444}}";

fn inline(out: &mut String, parts: &[Inline]) {
    for part in parts {
        match part {
            Inline::Text(s) => out.push_str(&escape(s)),
            Inline::Strong(s) => {
                let _ = write!(out, "<strong>{}</strong>", escape(s));
            }
            Inline::Code(s) => {
                let _ = write!(out, "<code>{}</code>", escape(s));
            }
            Inline::Range(s) => {
                let _ = write!(out, "<span class=\"range\">{}</span>", escape(s));
            }
            Inline::Level(s) => {
                // The class is a fixed word ("elite" … "low"); anything else
                // ("–") gets no colour.
                let class: String = s.chars().filter(char::is_ascii_alphabetic).collect();
                let _ = write!(out, "<span class=\"level-{class}\">{}</span>", escape(s));
            }
            Inline::Note(s) => {
                let _ = write!(out, "<span class=\"small\">{}</span>", escape(s));
            }
            Inline::Sparkline(values) => out.push_str(&crate::render::plot::sparkline(values)),
            Inline::Link(content, url) => {
                let _ = write!(out, "<a href=\"{}\">", escape(url));
                inline(out, content);
                out.push_str("</a>");
            }
            Inline::Space => out.push(' '),
            Inline::Break => out.push_str("<br>"),
        }
    }
}

pub fn render(doc: &[Block]) -> String {
    let title = doc
        .iter()
        .find_map(|b| match b {
            Block::Title(t) => Some(t.as_str()),
            _ => None,
        })
        .unwrap_or("Delivery report");
    let mut h = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body>\n",
        escape(title)
    );
    for block in doc {
        match block {
            Block::Title(t) => {
                let _ = writeln!(h, "<h1>{}</h1>", escape(t));
            }
            Block::Heading(t) => {
                let _ = writeln!(h, "<h2>{}</h2>", escape(t));
            }
            Block::Paragraph(parts) => {
                h.push_str("<p>");
                inline(&mut h, parts);
                h.push_str("</p>\n");
            }
            Block::Summary(parts) => {
                h.push_str("<p class=\"summary\">");
                inline(&mut h, parts);
                h.push_str("</p>\n");
            }
            Block::Table { header, rows } => {
                // Every cell is labelled with its column's header, so a
                // narrow screen can show each row as a card of
                // `header: value` lines.
                h.push_str("<div class=\"wrap\"><table><tr>");
                for title in header {
                    let _ = write!(h, "<th>{}</th>", escape(title));
                }
                h.push_str("</tr>");
                for cells in rows {
                    h.push_str("<tr>");
                    for (i, cell) in cells.iter().enumerate() {
                        let label = header.get(i).map(String::as_str).unwrap_or("");
                        let _ = write!(h, "<td data-label=\"{}\">", escape(label));
                        inline(&mut h, cell);
                        h.push_str("</td>");
                    }
                    h.push_str("</tr>");
                }
                h.push_str("</table></div>\n");
            }
            Block::Charts(charts) => {
                for c in charts {
                    let _ = writeln!(
                        h,
                        "<figure aria-label=\"{}\">{}</figure>",
                        escape(&c.title),
                        responsive(&c.svg)
                    );
                }
            }
            Block::List(items) => {
                h.push_str("<ul>");
                for item in items {
                    let _ = write!(h, "<li>{}</li>", escape(item));
                }
                h.push_str("</ul>\n");
            }
        }
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cells_carry_their_header_for_the_phone_layout() {
        let html = render(&[
            Block::Title("R <1>".into()),
            Block::Table {
                header: vec!["team".into(), "lead time".into()],
                rows: vec![vec![
                    vec![Inline::Text("a&b".into())],
                    vec![
                        Inline::Text("1 h".into()),
                        Inline::Break,
                        Inline::Level("elite".into()),
                    ],
                ]],
            },
        ]);
        assert!(html.contains("<title>R &lt;1&gt;</title>"), "{html}");
        assert!(html.contains(
            "<tr><td data-label=\"team\">a&amp;b</td><td data-label=\"lead time\">1 h<br><span class=\"level-elite\">elite</span></td></tr>"
        ), "{html}");
        assert!(html.ends_with("</body></html>\n"));
    }

    #[test]
    fn charts_scale_to_their_container() {
        let svg =
            "<svg width=\"800\" height=\"400\" viewBox=\"0 0 800 400\" xmlns=\"x\"><g/></svg>";
        assert_eq!(
            responsive(svg),
            "<svg class=\"chart\" data-width=\"800\" viewBox=\"0 0 800 400\" xmlns=\"x\"><g/></svg>"
        );
    }
}
