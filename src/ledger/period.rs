//! Periods: a sale month, a quarter, a half-year, a year, a day, or an explicit date range.
//! Sale period (when the usage happened) and accounting period (what a statement covers) are
//! separate fields of a ledger line; both use this type.

use chrono::{Datelike, Months, NaiveDate};
use serde::{Serialize, Serializer};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeriodKind {
    Day,
    Month,
    Quarter,
    Half,
    Year,
    Range,
}

/// A closed date interval with the shape it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub kind: PeriodKind,
}

fn month_end(start: NaiveDate, months: u32) -> Option<NaiveDate> {
    start.checked_add_months(Months::new(months))?.pred_opt()
}

impl Period {
    pub fn day(d: NaiveDate) -> Period {
        Period { start: d, end: d, kind: PeriodKind::Day }
    }

    pub fn month(year: i32, month: u32) -> Option<Period> {
        let start = NaiveDate::from_ymd_opt(year, month, 1)?;
        Some(Period { start, end: month_end(start, 1)?, kind: PeriodKind::Month })
    }

    /// The calendar month a date falls in.
    pub fn month_of(d: NaiveDate) -> Option<Period> {
        use chrono::Datelike;
        Period::month(d.year(), d.month())
    }

    pub fn quarter(year: i32, q: u32) -> Option<Period> {
        if !(1..=4).contains(&q) {
            return None;
        }
        let start = NaiveDate::from_ymd_opt(year, (q - 1) * 3 + 1, 1)?;
        Some(Period { start, end: month_end(start, 3)?, kind: PeriodKind::Quarter })
    }

    pub fn half(year: i32, h: u32) -> Option<Period> {
        if !(1..=2).contains(&h) {
            return None;
        }
        let start = NaiveDate::from_ymd_opt(year, (h - 1) * 6 + 1, 1)?;
        Some(Period { start, end: month_end(start, 6)?, kind: PeriodKind::Half })
    }

    pub fn year(year: i32) -> Option<Period> {
        let start = NaiveDate::from_ymd_opt(year, 1, 1)?;
        Some(Period { start, end: month_end(start, 12)?, kind: PeriodKind::Year })
    }

    /// A range; recognised as a month, quarter, half or year when it is exactly one.
    pub fn range(start: NaiveDate, end: NaiveDate) -> Option<Period> {
        if end < start {
            return None;
        }
        if start == end {
            return Some(Period::day(start));
        }
        if start.day() == 1 {
            let m = start.month();
            for (months, kind) in [
                (1, PeriodKind::Month),
                (3, PeriodKind::Quarter),
                (6, PeriodKind::Half),
                (12, PeriodKind::Year),
            ] {
                let aligned = match kind {
                    PeriodKind::Quarter => (m - 1).is_multiple_of(3),
                    PeriodKind::Half => (m - 1).is_multiple_of(6),
                    PeriodKind::Year => m == 1,
                    _ => true,
                };
                if aligned && month_end(start, months) == Some(end) {
                    return Some(Period { start, end, kind });
                }
            }
        }
        Some(Period { start, end, kind: PeriodKind::Range })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let y = self.start.year();
        match self.kind {
            PeriodKind::Day => write!(f, "{}", self.start.format("%Y-%m-%d")),
            PeriodKind::Month => write!(f, "{y:04}-{:02}", self.start.month()),
            PeriodKind::Quarter => write!(f, "{y:04}-Q{}", (self.start.month() - 1) / 3 + 1),
            PeriodKind::Half => write!(f, "{y:04}-H{}", (self.start.month() - 1) / 6 + 1),
            PeriodKind::Year => write!(f, "{y:04}"),
            PeriodKind::Range => write!(
                f,
                "{}..{}",
                self.start.format("%Y-%m-%d"),
                self.end.format("%Y-%m-%d")
            ),
        }
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_display() {
        assert_eq!(Period::month(2024, 2).unwrap().end, NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
        assert_eq!(Period::quarter(2015, 4).unwrap().to_string(), "2015-Q4");
        assert_eq!(Period::half(2024, 2).unwrap().to_string(), "2024-H2");
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(Period::range(d(2015, 10, 1), d(2015, 12, 31)).unwrap().to_string(), "2015-Q4");
        assert_eq!(Period::range(d(2024, 7, 1), d(2024, 12, 31)).unwrap().to_string(), "2024-H2");
        assert_eq!(
            Period::range(d(2015, 10, 4), d(2015, 12, 3)).unwrap().to_string(),
            "2015-10-04..2015-12-03"
        );
        assert!(Period::range(d(2015, 10, 4), d(2015, 10, 3)).is_none());
    }
}
