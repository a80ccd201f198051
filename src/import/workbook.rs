//! Spreadsheets (xlsx, xlsm, xls, xlsb, ods) read with calamine into typed cells.
//!
//! Excel stores numbers as binary floating point. A numeric cell is turned into an exact
//! decimal once, here, from the shortest text that reproduces the stored number, limited to
//! the 15 significant digits Excel itself keeps and shows. No arithmetic is ever done in
//! floating point.

use std::io::Cursor;
use std::str::FromStr;

use calamine::{Data, Reader, SheetType, SheetVisible, open_workbook_auto_from_rs};
use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::grid::{Cell, Grid, Row, Sheet};

/// Exact decimal of an Excel number (see module docs).
pub fn decimal_from_excel_number(x: f64) -> Option<Decimal> {
    if !x.is_finite() {
        return None;
    }
    let d = Decimal::from_str(&format!("{x}")).ok()?;
    Some(d.round_sf(15).unwrap_or(d).normalize())
}

fn is_1904(dt: &calamine::ExcelDateTime) -> bool {
    // calamine knows the workbook's date system; compare its reading with the 1900 one.
    let as_1900 = calamine::ExcelDateTime::new(
        dt.as_f64(),
        calamine::ExcelDateTimeType::DateTime,
        false,
    );
    dt.to_ymd_hms_milli() != as_1900.to_ymd_hms_milli()
}

fn convert(value: &Data, date_1904: &mut bool) -> Cell {
    match value {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::text(s),
        Data::Int(i) => Cell::Number(Decimal::from(*i)),
        Data::Float(f) => match decimal_from_excel_number(*f) {
            Some(d) => Cell::Number(d),
            None => Cell::Error(format!("number {f} cannot be represented exactly")),
        },
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) if dt.is_datetime() => {
            if is_1904(dt) {
                *date_1904 = true;
            }
            let (y, m, d, ..) = dt.to_ymd_hms_milli();
            match NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d)) {
                Some(date) => Cell::Date(date),
                None => Cell::Error(format!("date serial {} is not a valid date", dt.as_f64())),
            }
        }
        Data::DateTime(dt) => match decimal_from_excel_number(dt.as_f64()) {
            Some(d) => Cell::Number(d),
            None => Cell::Error("duration cannot be represented exactly".into()),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Error(e.to_string()),
    }
}

/// Open a workbook by its extension, so that a damaged file gets the reader's own error
/// message; an unknown extension is tried as each format in turn.
fn open(bytes: Vec<u8>, ext: &str) -> Result<calamine::Sheets<Cursor<Vec<u8>>>, String> {
    use calamine::{Ods, Sheets, Xls, Xlsb, Xlsx, open_workbook_from_rs};
    let rs = Cursor::new(bytes);
    match ext {
        "xlsx" | "xlsm" => open_workbook_from_rs::<Xlsx<_>, _>(rs).map(Sheets::Xlsx).map_err(|e| e.to_string()),
        "xlsb" => open_workbook_from_rs::<Xlsb<_>, _>(rs).map(Sheets::Xlsb).map_err(|e| e.to_string()),
        "xls" => open_workbook_from_rs::<Xls<_>, _>(rs).map(Sheets::Xls).map_err(|e| e.to_string()),
        "ods" => open_workbook_from_rs::<Ods<_>, _>(rs).map(Sheets::Ods).map_err(|e| e.to_string()),
        _ => open_workbook_auto_from_rs(rs).map_err(|e| e.to_string()),
    }
}

/// Read every visible worksheet of a workbook held in memory; `ext` is the file extension.
pub fn read_workbook(bytes: Vec<u8>, ext: &str) -> Result<Grid, String> {
    let mut wb = open(bytes, ext)?;
    let metadata: Vec<calamine::Sheet> = wb.sheets_metadata().to_vec();
    let mut grid = Grid { sheets: Vec::new(), hidden_sheets: Vec::new(), encoding: None, delimiter: None, notes: Vec::new() };
    for meta in metadata {
        if meta.typ != SheetType::WorkSheet {
            grid.notes.push(format!("sheet '{}' is not a worksheet (chart or macro sheet), not imported", meta.name));
            continue;
        }
        if meta.visible != SheetVisible::Visible {
            grid.hidden_sheets.push(meta.name.clone());
            continue;
        }
        let range = wb.worksheet_range(&meta.name).map_err(|e| format!("sheet '{}': {e}", meta.name))?;
        let formulas = wb.worksheet_formula(&meta.name).ok();
        let merged: Vec<calamine::Dimensions> = match &mut wb {
            calamine::Sheets::Xlsx(x) => x.merge_cells_by_sheet_name(&meta.name).unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut date_1904 = false;
        let mut rows = Vec::new();
        if let (Some((r0, c0)), Some((r1, c1))) = (range.start(), range.end()) {
            // Formula cells extend the used area when their value was never cached.
            let (mut r1, mut c1) = (r1, c1);
            if let Some(f) = &formulas
                && let Some((fr1, fc1)) = f.end()
            {
                r1 = r1.max(fr1);
                c1 = c1.max(fc1);
            }
            for r in r0..=r1 {
                let mut cells = Vec::with_capacity((c1 - c0 + 1) as usize);
                for c in 0..=c1 {
                    let value = range.get_value((r, c)).unwrap_or(&Data::Empty);
                    let mut cell = convert(value, &mut date_1904);
                    if cell.is_empty()
                        && let Some(f) = formulas.as_ref().and_then(|f| f.get_value((r, c)))
                        && !f.is_empty()
                    {
                        cell = Cell::FormulaWithoutValue(f.clone());
                    }
                    cells.push(cell);
                }
                rows.push(Row { number: u64::from(r) + 1, cells, unterminated: None });
            }
            // Merged cells hold their value in the top-left cell only; spread it over the
            // region so that a value merged across rows belongs to each of them.
            for dims in &merged {
                let (top, left) = dims.start;
                let Some(first) = rows.iter().position(|row| row.number == u64::from(top) + 1) else {
                    continue;
                };
                let value = rows[first].cell(left as usize).clone();
                for row in rows.iter_mut().filter(|row| {
                    row.number > u64::from(dims.start.0) && row.number <= u64::from(dims.end.0) + 1
                }) {
                    for c in dims.start.1..=dims.end.1 {
                        if let Some(cell) = row.cells.get_mut(c as usize) {
                            *cell = value.clone();
                        }
                    }
                }
            }
        }
        grid.sheets.push(Sheet { name: Some(meta.name.clone()), rows, date_1904 });
    }
    Ok(grid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_numbers_become_the_decimal_excel_shows() {
        assert_eq!(decimal_from_excel_number(0.1 + 0.2).unwrap().to_string(), "0.3");
        assert_eq!(decimal_from_excel_number(1234.5678).unwrap().to_string(), "1234.5678");
        assert_eq!(decimal_from_excel_number(36000291452.0).unwrap().to_string(), "36000291452");
        assert_eq!(decimal_from_excel_number(-0.000123).unwrap().to_string(), "-0.000123");
        assert!(decimal_from_excel_number(f64::NAN).is_none());
    }
}
