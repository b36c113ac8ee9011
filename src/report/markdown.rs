//! The report as Markdown, for chat and wikis: charts are referenced as
//! `charts/<stem>.png` beside the file.

use std::fmt::Write as _;

use super::document::{Block, Inline};

/// A table cell cannot hold `|` or a line break.
fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A text sparkline (▁ to █); a space for no data.
pub fn text_sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().flatten().cloned().fold(0.0, f64::max);
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if max <= 0.0 => BARS[0],
            Some(v) => BARS[((v / max) * 7.0).round() as usize],
        })
        .collect()
}

/// Inline content; `in_table` escapes what would break a table row.
fn inline(out: &mut String, parts: &[Inline], in_table: bool) {
    let esc = |s: &str| {
        if in_table { escape(s) } else { s.to_string() }
    };
    for part in parts {
        match part {
            Inline::Text(s) | Inline::Level(s) | Inline::Note(s) => out.push_str(&esc(s)),
            Inline::Strong(s) => {
                let _ = write!(out, "**{}**", esc(s));
            }
            Inline::Code(s) => {
                let _ = write!(out, "`{s}`");
            }
            Inline::Range(s) => {
                let _ = write!(out, "({})", esc(s));
            }
            Inline::Sparkline(values) => {
                let _ = write!(out, "`{}`", text_sparkline(values));
            }
            Inline::Link(content, url) => {
                out.push('[');
                inline(out, content, in_table);
                let _ = write!(out, "]({url})");
            }
            Inline::Space | Inline::Break => out.push(' '),
        }
    }
}

fn row(out: &mut String, cells: impl IntoIterator<Item = String>) {
    let cells: Vec<String> = cells.into_iter().collect();
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

/// Blocks separated by a blank line.
pub fn render(doc: &[Block]) -> String {
    let mut md = String::new();
    for (i, block) in doc.iter().enumerate() {
        if i > 0 {
            md.push('\n');
        }
        match block {
            Block::Title(title) => {
                let _ = writeln!(md, "# {title}");
            }
            Block::Heading(heading) => {
                let _ = writeln!(md, "## {heading}");
            }
            Block::Paragraph(parts) | Block::Summary(parts) => {
                inline(&mut md, parts, false);
                md.push('\n');
            }
            Block::Table { header, rows } => {
                row(&mut md, header.iter().map(|h| escape(h)));
                let _ = writeln!(md, "|{}", "---|".repeat(header.len()));
                for cells in rows {
                    row(
                        &mut md,
                        cells.iter().map(|cell| {
                            let mut s = String::new();
                            inline(&mut s, cell, true);
                            s
                        }),
                    );
                }
            }
            Block::Charts(charts) => {
                for c in charts {
                    let _ = writeln!(md, "![{}](charts/{}.png)", c.title, c.stem);
                }
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(md, "- {item}");
                }
            }
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_largest_value() {
        assert_eq!(text_sparkline(&[Some(0.0), Some(7.0), None]), "▁█ ");
        assert_eq!(text_sparkline(&[Some(0.0), Some(0.0)]), "▁▁");
    }

    #[test]
    fn blocks_are_separated_by_one_blank_line_and_cells_escaped() {
        let md = render(&[
            Block::Title("T".into()),
            Block::Table {
                header: vec!["a".into(), "b".into()],
                rows: vec![vec![
                    vec![Inline::Text("x|y".into())],
                    vec![
                        Inline::Link(
                            vec![
                                Inline::Text("r".into()),
                                Inline::Space,
                                Inline::Code("s".into()),
                            ],
                            "https://e/".into(),
                        ),
                        Inline::Break,
                        Inline::Range("1–2".into()),
                    ],
                ]],
            },
            Block::List(vec!["one".into()]),
        ]);
        assert_eq!(
            md,
            "# T\n\n| a | b |\n|---|---|\n| x\\|y | [r `s`](https://e/) (1–2) |\n\n- one\n"
        );
    }
}
