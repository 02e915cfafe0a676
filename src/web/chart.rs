//! Charts drawn on the server as SVG (plotters), meant to read in black and white: series are
//! told apart by fill — solid black, mid grey, white with a black outline — and named in a
//! legend, never by colour alone. Amounts stay integer fen; the axis labels format them.

use chrono::NaiveDate;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use crate::money::format_minor;

/// The chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("chart: {0}")]
pub struct ChartError(String);

/// One stacked series: a label and one value (fen) per day.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// One value per day, in fen; never negative in a collections chart.
    pub values: Vec<i64>,
}

/// Fill of the `i`th series (black, grey, white) and whether it needs an outline.
fn fill(i: usize) -> RGBColor {
    match i % 3 {
        0 => RGBColor(20, 20, 20),
        1 => RGBColor(150, 150, 150),
        _ => RGBColor(255, 255, 255),
    }
}

/// A stacked bar per day (`days` in order), the series stacked bottom-up in the order given.
// Long: one plotters drawing, whose builder and mesh types do not split cleanly into parts.
pub fn stacked_daily(
    days: &[NaiveDate],
    series: &[Series],
    y_label: &str,
    size: (u32, u32),
) -> Result<String, ChartError> {
    let n = days.len() as u32;
    let totals: Vec<i64> = (0..days.len())
        .map(|d| {
            series
                .iter()
                .map(|s| s.values.get(d).copied().unwrap_or(0).max(0))
                .sum()
        })
        .collect();
    // Headroom above the tallest bar, in whole yuan steps.
    let top = (totals.iter().copied().max().unwrap_or(0) * 11 / 10).max(10_000);
    let err = |e: &dyn std::fmt::Display| ChartError(e.to_string());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(84)
            .build_cartesian_2d((0u32..n.max(1)).into_segmented(), 0i64..top)
            .map_err(|e| err(&e))?;
        let every = (n / 10).max(1);
        let label_of = |v: &SegmentValue<u32>| match v {
            SegmentValue::CenterOf(i) if i % every == 0 || *i + 1 == n => days
                .get(*i as usize)
                .map(|d| d.format("%m-%d").to_string())
                .unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(190, 190, 190))
            .x_labels(n as usize + 1)
            .x_label_formatter(&label_of)
            .y_labels(6)
            .y_label_formatter(&|v| super::table::grouped(&format_minor(*v)))
            .y_desc(y_label)
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(|e| err(&e))?;
        let mut base = vec![0i64; days.len()];
        for (i, s) in series.iter().enumerate() {
            let color = fill(i);
            let spans: Vec<(u32, i64, i64)> = (0..days.len())
                .filter_map(|d| {
                    let v = s.values.get(d).copied().unwrap_or(0).max(0);
                    let bottom = base[d];
                    base[d] += v;
                    (v > 0).then_some((d as u32, bottom, bottom + v))
                })
                .collect();
            let rect = |(d, bottom, top): (u32, i64, i64), style: ShapeStyle| {
                let mut r = Rectangle::new(
                    [
                        (SegmentValue::Exact(d), bottom),
                        (SegmentValue::Exact(d + 1), top),
                    ],
                    style,
                );
                r.set_margin(0, 0, 3, 3);
                r
            };
            let bars: Vec<_> = spans.iter().map(|sp| rect(*sp, color.filled())).collect();
            let outlines: Vec<_> = spans
                .iter()
                .map(|sp| rect(*sp, BLACK.stroke_width(1)))
                .collect();
            chart
                .draw_series(bars)
                .map_err(|e| err(&e))?
                .label(s.label.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled())
                });
            chart.draw_series(outlines).map_err(|e| err(&e))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(("sans-serif", 16))
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_an_svg_with_a_bar_per_day_with_money_and_labels() {
        let days: Vec<NaiveDate> = (0..30)
            .map(|i| NaiveDate::from_ymd_opt(2026, 11, 1).unwrap() + chrono::Duration::days(i))
            .collect();
        let series = vec![
            Series {
                label: "银行卡".into(),
                values: (0..30).map(|i| i * 10_000).collect(),
            },
            Series {
                label: "一卡通".into(),
                values: vec![5_000; 30],
            },
        ];
        let svg = stacked_daily(&days, &series, "元", (800, 300)).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..50]);
        assert!(svg.contains("银行卡") && svg.contains("一卡通"));
        assert!(svg.contains("11-01") && svg.contains("11-30"));
        // 29 bank-card bars (day 0 is empty) and 30 one-card bars, each filled and outlined.
        assert!(svg.matches("<rect").count() >= 2 * (29 + 30));
        // The y axis speaks yuan: the tallest bar is 2,900.00 + 50.00.
        assert!(svg.contains(".00"));
    }

    #[test]
    fn an_empty_month_still_draws() {
        let days = vec![NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()];
        let svg = stacked_daily(&days, &[], "元", (400, 200)).unwrap();
        assert!(svg.contains("</svg>"));
    }
}
