//! The SVG chart of `cargo xtask bench`: ssekit / built-in events/s per
//! event shape, one bar per framework, with the 1.0x line.

use plotters::prelude::*;

const COLOURS: [RGBColor; 4] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
];

/// Writes the chart of `(framework, shape, ratio)` rows to `path`.
///
/// # Errors
///
/// When the file cannot be written.
pub fn write(path: &str, rows: &[(String, String, f64)]) -> Result<(), String> {
    if let Some(dir) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let mut shapes: Vec<&str> = Vec::new();
    let mut frameworks: Vec<&str> = Vec::new();
    for (framework, shape, _) in rows {
        if !shapes.contains(&shape.as_str()) {
            shapes.push(shape);
        }
        if !frameworks.contains(&framework.as_str()) {
            frameworks.push(framework);
        }
    }
    let top = rows
        .iter()
        .map(|r| r.2)
        .filter(|x| x.is_finite())
        .fold(1.5_f64, f64::max)
        * 1.15;
    let root = SVGBackend::new(path, (900, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let groups = shapes.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "one stream, events/s: ssekit through the adapter / the framework's built-in SSE",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0.0..groups, 0.0..top)
        .map_err(|e| e.to_string())?;
    let labels = shapes.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(shapes.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor();
            if (x - i - 0.5).abs() < 0.01 {
                // Labels sit at `i + 0.5` for i in 0..shapes.len().
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "a small non-negative whole number (x >= 0, floored)"
                )]
                let index = i.max(0.0) as usize;
                labels.get(index).map_or(String::new(), |s| (*s).to_owned())
            } else {
                String::new()
            }
        })
        .y_desc("ratio (1.0 = as fast as the built-in)")
        .draw()
        .map_err(|e| e.to_string())?;
    let width = 0.8 / frameworks.len().max(1) as f64;
    for (f, framework) in frameworks.iter().enumerate() {
        let colour = COLOURS[f % COLOURS.len()];
        let bars: Vec<Rectangle<(f64, f64)>> = rows
            .iter()
            .filter(|r| r.0 == *framework && r.2.is_finite())
            .filter_map(|r| {
                let g = shapes.iter().position(|s| *s == r.1)? as f64;
                let x0 = g + 0.1 + f as f64 * width;
                Some(Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.9, r.2)],
                    colour.filled(),
                ))
            })
            .collect();
        chart
            .draw_series(bars)
            .map_err(|e| e.to_string())?
            .label(*framework)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    chart
        .draw_series(LineSeries::new(
            [(0.0, 1.0), (groups, 1.0)],
            BLACK.stroke_width(1),
        ))
        .map_err(|e| e.to_string())?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}
