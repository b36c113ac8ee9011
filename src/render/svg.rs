//! What is done with a drawn SVG: rendered to PNG with the bundled font
//! (so PNG and SVG look the same with no system font), and read back by
//! tests (its texts, its series colours).

use std::sync::Arc;

use super::plot::{FAMILY, FONT, PALETTE, chart_error};
use crate::error::Result;

/// The text elements of an SVG, trimmed (what a reader sees; for tests).
pub fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_string())
        })
        .collect()
}

/// How many palette colours an SVG draws lines in: its series count (for
/// tests; black is left out, the axes use it).
pub fn series_colours(svg: &str) -> usize {
    PALETTE[..PALETTE.len() - 1]
        .iter()
        .filter(|c| {
            let hex = format!("stroke=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
            svg.contains(&hex)
        })
        .count()
}

/// Renders an SVG to PNG with the bundled font.
pub fn png(svg: &str) -> Result<Vec<u8>> {
    let mut fonts = resvg::usvg::fontdb::Database::new();
    fonts.load_font_data(FONT.to_vec());
    fonts.set_sans_serif_family(FAMILY);
    let options = resvg::usvg::Options {
        font_family: FAMILY.into(),
        fontdb: Arc::new(fonts),
        ..Default::default()
    };
    let tree = resvg::usvg::Tree::from_str(svg, &options).map_err(chart_error)?;
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| chart_error("empty chart"))?;
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().map_err(chart_error)
}
