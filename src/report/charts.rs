//! Charts for the Markdown and HTML reports, as SVG text (plotters' SVG backend, no fonts
//! needed): royalties reported vs recomputed per period, and the account balance as stated
//! vs as corrected by the findings. Chart coordinates are display values (f64); every
//! figure in the text of a report stays exact.

use plotters::prelude::*;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::engine::Audit;

type Series<'a> = (&'a str, RGBColor, Vec<Option<Decimal>>);

fn line_chart(title: &str, periods: &[String], series: &[Series], zero_line: bool) -> Option<String> {
    if periods.is_empty() {
        return None;
    }
    let values: Vec<f64> = series.iter().flat_map(|s| s.2.iter().flatten().filter_map(|v| v.to_f64())).collect();
    if values.is_empty() {
        return None;
    }
    let (mut lo, mut hi) = values.iter().fold((0f64, 0f64), |(a, b), v| (a.min(*v), b.max(*v)));
    let pad = ((hi - lo) * 0.1).max(1.0);
    lo -= if lo < 0.0 { pad } else { 0.0 };
    hi += pad;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 340)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let n = periods.len() as i32;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)
            .ok()?;
        let labels = periods.to_vec();
        chart
            .configure_mesh()
            .x_labels(periods.len())
            .x_label_formatter(&move |x| {
                let i = x.round();
                if (x - i).abs() < 1e-9 && i >= 0.0 { labels.get(i as usize).cloned().unwrap_or_default() } else { String::new() }
            })
            .y_label_formatter(&|y| format!("{y:.0}"))
            .disable_x_mesh()
            .draw()
            .ok()?;
        if zero_line && lo < 0.0 {
            chart.draw_series(LineSeries::new(vec![(-0.5, 0.0), (n as f64 - 0.5, 0.0)], BLACK.mix(0.4))).ok()?;
        }
        for (name, color, points) in series {
            let pts: Vec<(f64, f64)> =
                points.iter().enumerate().filter_map(|(i, v)| v.and_then(|v| v.to_f64()).map(|v| (i as f64, v))).collect();
            let c = *color;
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                .ok()?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
            chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, c.filled()))).ok()?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

/// Reported vs recomputed royalties per accounting period.
pub fn royalties_by_period(a: &Audit) -> Option<String> {
    let periods: Vec<String> = a.periods.iter().map(|p| p.period.clone()).collect();
    line_chart(
        &format!("Royalties per period ({}): paid vs recomputed", a.currency),
        &periods,
        &[
            ("reported by the label", RGBColor(200, 60, 40), a.periods.iter().map(|p| Some(p.reported_royalties)).collect()),
            ("recomputed under the contract", RGBColor(30, 100, 180), a.periods.iter().map(|p| Some(p.recomputed_royalties)).collect()),
        ],
        false,
    )
}

/// The account balance over time, as stated and as corrected.
pub fn balance_over_time(a: &Audit) -> Option<String> {
    if a.periods.iter().all(|p| p.closing_stated.is_none()) {
        return None;
    }
    let periods: Vec<String> = a.periods.iter().map(|p| p.period.clone()).collect();
    line_chart(
        &format!("Recoupment balance ({}): stated vs corrected", a.currency),
        &periods,
        &[
            ("closing balance as stated", RGBColor(200, 60, 40), a.periods.iter().map(|p| p.closing_stated).collect()),
            ("corrected by the findings", RGBColor(30, 100, 180), a.periods.iter().map(|p| p.closing_corrected).collect()),
        ],
        true,
    )
}
