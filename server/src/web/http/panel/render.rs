//! The Delivery panel's fragment: the relay's recent past
//! ([`crate::metrics::series`]) as HTML with inline SVG charts. Pure: a
//! series in, text out. Every text in it is the relay's own.

use std::fmt::Write;

use crate::metrics::series::{Point, Series, KEPT_POINTS, SAMPLE_SECS};
use crate::metrics::Stage;

/// Chart size, in SVG units.
const WIDTH: f64 = 240.0;
const HEIGHT: f64 = 48.0;

/// How each stage is named on the panel, in `Stage` order.
fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::KafkaToRelay => "Kafka → relay",
        Stage::RelayToSocket => "Relay → socket",
        Stage::RelayToBrowser => "Relay → browser",
    }
}

/// The panel: one chart per stage (p99 and p50), then connections,
/// reconnects, consumer lag and rejected messages.
pub fn render(series: &Series) -> String {
    let points: Vec<&Point> = series.points().collect();
    let mut out = String::with_capacity(8 * 1024);
    let minutes = KEPT_POINTS as u64 * SAMPLE_SECS / 60;
    let _ = write!(
        out,
        "<section class=\"delivery\" aria-label=\"Delivery\"><h2>Delivery</h2>\
         <p class=\"delivery-note\">Last {minutes} minutes, one point every {SAMPLE_SECS} s, \
         from this relay's own measurements."
    );
    if points.is_empty() {
        let _ = write!(
            out,
            " No sample yet: the first comes {SAMPLE_SECS}–{} s after the relay starts.</p></section>",
            2 * SAMPLE_SECS
        );
        return out;
    }
    out.push_str("</p><div class=\"charts\">");
    for (index, stage) in <Stage as strum::VariantArray>::VARIANTS.iter().enumerate() {
        let p99: Vec<Option<f64>> = points
            .iter()
            .map(|p| p.stages.get(index).copied().flatten().map(|q| q.p99))
            .collect();
        let p50: Vec<Option<f64>> = points
            .iter()
            .map(|p| p.stages.get(index).copied().flatten().map(|q| q.p50))
            .collect();
        let latest = points
            .iter()
            .rev()
            .find_map(|p| p.stages.get(index).copied().flatten());
        let caption = match latest {
            Some(q) => format!(
                "p99 <b>{}</b> · p50 {} · {}/s",
                duration(q.p99),
                duration(q.p50),
                rate(q.count)
            ),
            None => "no event in this window".to_owned(),
        };
        chart(
            &mut out,
            stage_name(*stage),
            &caption,
            Unit::Seconds,
            &[("p99", &p99), ("p50", &p50)],
        );
    }
    let last = points[points.len() - 1];
    let connections: Vec<Option<f64>> = points.iter().map(|p| Some(p.connections as f64)).collect();
    chart(
        &mut out,
        "Connections",
        &format!("<b>{}</b> open", last.connections),
        Unit::Count,
        &[("count", &connections)],
    );
    let reconnects: Vec<Option<f64>> = points.iter().map(|p| Some(p.reconnects as f64)).collect();
    let total: u64 = points.iter().map(|p| p.reconnects).sum();
    chart(
        &mut out,
        "Reconnects",
        &format!("<b>{total}</b> reported by browsers in this window"),
        Unit::Count,
        &[("count", &reconnects)],
    );
    let lag: Vec<Option<f64>> = points.iter().map(|p| Some(p.lag as f64)).collect();
    chart(
        &mut out,
        "Consumer lag",
        &format!("<b>{}</b> messages behind", last.lag),
        Unit::Count,
        &[("count", &lag)],
    );
    out.push_str("</div>");
    rejected(&mut out, &points);
    out.push_str("</section>");
    out
}

/// How a chart's values read: a duration in seconds, or a count.
#[derive(Clone, Copy)]
enum Unit {
    Seconds,
    Count,
}

impl Unit {
    fn show(self, value: f64) -> String {
        match self {
            Unit::Seconds => duration(value),
            Unit::Count => format!("{value:.0}"),
        }
    }
}

/// One small chart: a caption, the scale, then one line per series over the
/// points kept so far, oldest at the left, newest at the right edge; a gap
/// where a point has no value, a dot for a value alone between gaps.
fn chart(
    out: &mut String,
    title: &str,
    caption: &str,
    unit: Unit,
    lines: &[(&str, &[Option<f64>])],
) {
    let top = lines
        .iter()
        .flat_map(|(_, values)| values.iter().flatten())
        .fold(0.0f64, |a, b| a.max(*b));
    let points = lines.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    let since = points as u64 * SAMPLE_SECS;
    let span = if since >= 120 {
        format!("{} min", since / 60)
    } else {
        format!("{since} s")
    };
    let _ = write!(
        out,
        "<figure class=\"chart\"><figcaption><span>{title}</span> {caption}</figcaption>\
         <svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" preserveAspectRatio=\"none\" aria-hidden=\"true\">\
         <line class=\"axis\" x1=\"0\" y1=\"{base}\" x2=\"{WIDTH}\" y2=\"{base}\"/>",
        base = HEIGHT - 1.0
    );
    let step = if points > 1 {
        WIDTH / (points - 1) as f64
    } else {
        0.0
    };
    for (class, values) in lines {
        let at = |i: usize| -> Option<(f64, f64)> {
            let value = (*values.get(i)?)?;
            let x = if points > 1 { i as f64 * step } else { WIDTH };
            let y = if top > 0.0 {
                HEIGHT - 2.0 - (value / top) * (HEIGHT - 4.0)
            } else {
                HEIGHT - 2.0
            };
            Some((x, y))
        };
        let (mut path, mut dots) = (String::new(), String::new());
        for i in 0..values.len() {
            let Some((x, y)) = at(i) else { continue };
            let joined = i > 0 && at(i - 1).is_some();
            let alone = !joined && at(i + 1).is_none();
            let _ = match (joined, alone) {
                (true, _) => write!(path, " L{x:.1},{y:.1}"),
                // A round cap on a tiny, thick stroke: a dot.
                (false, true) => write!(dots, " M{x:.1},{y:.1} h0.1"),
                (false, false) => write!(path, " M{x:.1},{y:.1}"),
            };
        }
        for (d, extra) in [(path, ""), (dots, " dot")] {
            if !d.is_empty() {
                let _ = write!(
                    out,
                    "<path class=\"{class}{extra}\" d=\"{}\"/>",
                    d.trim_start()
                );
            }
        }
    }
    let _ = write!(
        out,
        "</svg><p class=\"scale\">last {span} · top {}</p></figure>",
        unit.show(top)
    );
}

/// The rejected Kafka messages of the window, by reason.
fn rejected(out: &mut String, points: &[&Point]) {
    let mut totals: Vec<(&'static str, u64)> = Vec::new();
    for (reason, n) in points.iter().flat_map(|p| p.rejected.iter()) {
        match totals.iter_mut().find(|(r, _)| r == reason) {
            Some((_, total)) => *total += n,
            None => totals.push((reason, *n)),
        }
    }
    if totals.is_empty() {
        out.push_str("<p class=\"delivery-note\">No Kafka message rejected in this window.</p>");
        return;
    }
    totals.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    out.push_str("<table class=\"rejected\"><caption>Rejected Kafka messages</caption><tr><th scope=\"col\">Reason</th><th scope=\"col\">Messages</th></tr>");
    for (reason, n) in totals {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{n}</td></tr>",
            reason.replace('_', " ")
        );
    }
    out.push_str("</table>");
}

/// A duration in seconds, as a person reads it.
fn duration(secs: f64) -> String {
    if secs < 0.001 {
        format!("{:.0} µs", secs * 1e6)
    } else if secs < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{secs:.2} s")
    }
}

/// Events in one interval, per second.
fn rate(count: u64) -> String {
    let per_sec = count as f64 / SAMPLE_SECS as f64;
    if per_sec >= 10.0 {
        format!("{per_sec:.0}")
    } else {
        format!("{per_sec:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::series::{Buckets, Reading};

    fn reading(n: u64) -> Reading {
        let stage = Buckets {
            bounds: vec![0.001, 0.01],
            cumulative: vec![n / 2, n],
            count: n,
        };
        Reading {
            stages: vec![stage.clone(), stage, Buckets::default()],
            connections: 12,
            lag: 3,
            reconnects: n / 100,
            rejected: vec![("invalid_json", n / 50)],
        }
    }

    #[test]
    fn with_no_sample_it_says_when_the_first_comes() {
        let html = render(&Series::default());
        assert!(html.contains("No sample yet"), "{html}");
        assert!(!html.contains("<svg"));
    }

    #[test]
    fn it_charts_every_stage_and_says_which_had_nothing() {
        let mut series = Series::default();
        for i in 0..5 {
            series.record(reading(i * 100), i as i64 * 10_000);
        }
        let html = render(&series);
        for title in [
            "Kafka → relay",
            "Relay → socket",
            "Relay → browser",
            "Connections",
            "Consumer lag",
        ] {
            assert!(html.contains(title), "{title}");
        }
        assert!(html.contains("p99 <b>"), "{html}");
        assert!(
            html.contains("no event in this window"),
            "the browser stage had none"
        );
        assert!(html.contains("<b>12</b> open"));
        assert!(html.contains("<td>invalid json</td><td>8</td>"), "{html}");
        assert_eq!(html.matches("<svg").count(), 6);
        assert!(html.contains("class=\"p99\" d=\"M"));
    }

    #[test]
    fn durations_read_in_their_unit() {
        assert_eq!(duration(0.000_25), "250 µs");
        assert_eq!(duration(0.0123), "12.3 ms");
        assert_eq!(duration(2.5), "2.50 s");
    }
}
