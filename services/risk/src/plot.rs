//! Line charts as PNG with readable text, for the reports in `docs/`: the
//! risk model's ROC and precision-recall curves and the ledger's scaling
//! plot. plotters draws the lines; text is drawn pixel by pixel from the
//! public-domain 8×8 bitmap font of `font8x8`, because plotters' own text
//! needs a TrueType font, which the build does not ship.

use std::path::Path;

use font8x8::legacy::BASIC_LEGACY;
use plotters::coord::Shift;
use plotters::prelude::*;

pub use plotters::style::RGBColor;

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("plot {path}: {reason}")]
pub struct PlotError {
    pub path: String,
    pub reason: String,
}

/// One axis: its range, whether it is logarithmic, and labelled ticks.
#[derive(Clone, Debug)]
pub struct Axis {
    pub label: String,
    pub min: f64,
    pub max: f64,
    pub log: bool,
    pub ticks: Vec<(f64, String)>,
}

impl Axis {
    /// A linear axis with ticks at `step` intervals, labelled with `decimals`.
    pub fn linear(label: &str, min: f64, max: f64, step: f64, decimals: usize) -> Self {
        let count = ((max - min) / step).round() as usize;
        let ticks = (0..=count)
            .map(|k| {
                let v = min + step * k as f64;
                (v, format!("{v:.decimals$}"))
            })
            .collect();
        Self {
            label: label.into(),
            min,
            max,
            log: false,
            ticks,
        }
    }

    /// A base-10 logarithmic axis with the given labelled ticks.
    pub fn log(label: &str, min: f64, max: f64, ticks: Vec<(f64, String)>) -> Self {
        Self {
            label: label.into(),
            min,
            max,
            log: true,
            ticks,
        }
    }

    fn to_chart(&self, v: f64) -> f64 {
        if self.log {
            v.max(f64::MIN_POSITIVE).log10()
        } else {
            v
        }
    }
}

/// A named line of points, drawn with markers.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
    pub markers: bool,
}

/// One chart of a figure.
#[derive(Clone, Debug)]
pub struct Panel {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
}

const GLYPH: i32 = 8;

/// Draws `text` with its top-left corner at `(x, y)`, each font pixel a
/// `scale`×`scale` square.
fn draw_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    text: &str,
    scale: i32,
    color: &RGBColor,
) {
    for (n, ch) in text.chars().enumerate() {
        let glyph = BASIC_LEGACY[(ch as usize).min(127)];
        let left = x + n as i32 * GLYPH * scale;
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..GLYPH {
                if bits & (1 << col) != 0 {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            let at = (left + col * scale + dx, y + row as i32 * scale + dy);
                            // A pixel outside the area is clipped, not an error.
                            let _ = area.draw_pixel(at, color);
                        }
                    }
                }
            }
        }
    }
}

fn text_width(text: &str, scale: i32) -> i32 {
    text.chars().count() as i32 * GLYPH * scale
}

/// Draws the panels side by side into a PNG of `size` pixels.
pub fn draw(path: &Path, size: (u32, u32), panels: &[Panel]) -> Result<(), PlotError> {
    let fail = |reason: String| PlotError {
        path: path.display().to_string(),
        reason,
    };
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    for (area, panel) in areas.iter().zip(panels) {
        draw_panel(area, panel).map_err(fail)?;
    }
    root.present().map_err(|e| fail(e.to_string()))
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let (width, _) = area.dim_in_pixel();
    let title_x = (width as i32 - text_width(&panel.title, 2)) / 2;
    draw_text(area, (title_x.max(0), 8), &panel.title, 2, &BLACK);
    draw_text(area, (12, 32), &panel.y.label, 1, &BLACK);
    let plot_area = area.margin(48, 52, 84, 24);
    let (x, y) = (&panel.x, &panel.y);
    let mut chart = ChartBuilder::on(&plot_area)
        .build_cartesian_2d(
            x.to_chart(x.min)..x.to_chart(x.max),
            y.to_chart(y.min)..y.to_chart(y.max),
        )
        .map_err(|e| err(&e))?;
    let grey = RGBColor(225, 225, 225);
    let (x0, x1) = (x.to_chart(x.min), x.to_chart(x.max));
    let (y0, y1) = (y.to_chart(y.min), y.to_chart(y.max));
    for (v, _) in &x.ticks {
        let v = x.to_chart(*v);
        chart
            .draw_series(LineSeries::new([(v, y0), (v, y1)], grey))
            .map_err(|e| err(&e))?;
    }
    for (v, _) in &y.ticks {
        let v = y.to_chart(*v);
        chart
            .draw_series(LineSeries::new([(x0, v), (x1, v)], grey))
            .map_err(|e| err(&e))?;
    }
    chart
        .draw_series(LineSeries::new(
            [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)],
            BLACK,
        ))
        .map_err(|e| err(&e))?;
    for series in &panel.series {
        let points: Vec<(f64, f64)> = series
            .points
            .iter()
            .map(|&(a, b)| (x.to_chart(a), y.to_chart(b)))
            .collect();
        chart
            .draw_series(LineSeries::new(
                points.clone(),
                series.color.stroke_width(2),
            ))
            .map_err(|e| err(&e))?;
        if series.markers {
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|&p| Circle::new(p, 4, series.color.filled())),
                )
                .map_err(|e| err(&e))?;
        }
    }
    // Tick labels and the legend, in the panel's pixel coordinates.
    let (offset_x, offset_y) = area.get_base_pixel();
    let to_panel = |(px, py): (i32, i32)| (px - offset_x, py - offset_y);
    for (v, label) in &x.ticks {
        let (px, py) = to_panel(chart.backend_coord(&(x.to_chart(*v), y0)));
        draw_text(
            area,
            (px - text_width(label, 1) / 2, py + 6),
            label,
            1,
            &BLACK,
        );
    }
    for (v, label) in &y.ticks {
        let (px, py) = to_panel(chart.backend_coord(&(x0, y.to_chart(*v))));
        draw_text(
            area,
            (px - text_width(label, 1) - 6, py - 4),
            label,
            1,
            &BLACK,
        );
    }
    let (_, bottom) = to_panel(chart.backend_coord(&(x0, y0)));
    let label_x = (width as i32 - text_width(&x.label, 1)) / 2;
    draw_text(area, (label_x.max(0), bottom + 24), &x.label, 1, &BLACK);
    let (left, top) = to_panel(chart.backend_coord(&(x0, y1)));
    for (n, series) in panel.series.iter().enumerate() {
        let row = top + 10 + 14 * n as i32;
        let line = [(left + 10, row + 4), (left + 30, row + 4)];
        area.draw(&PathElement::new(line, series.color.stroke_width(3)))
            .map_err(|e| err(&e))?;
        draw_text(area, (left + 36, row), &series.name, 1, &BLACK);
    }
    Ok(())
}
