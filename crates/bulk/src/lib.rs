//! The bulk file formats (`docs/import.md`): CSV with a header row, or a JSON
//! array of objects, with the columns of `ImportKind::columns`. Reading
//! checks the header (unknown columns are an error; columns whose name
//! starts with `_` are notes and ignored, which is how an errors file can be
//! fixed and imported again); writing produces files that read back unchanged.

use std::collections::BTreeMap;
use std::io::Write;
use switchboard_domain::{FlatRow, ImportKind, RowError, SourceRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// By file extension (`.csv`, `.json`).
    pub fn of_path(p: &std::path::Path) -> Option<Format> {
        p.extension().and_then(|e| e.to_str()).and_then(Format::parse)
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// A problem with the file as a whole (or a row the parser cannot read).
#[derive(Debug, Clone, PartialEq)]
pub struct FileError {
    pub row: Option<usize>,
    pub column: Option<String>,
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.row, &self.column) {
            (Some(r), Some(c)) => write!(f, "row {r}, column {c}: {}", self.message),
            (Some(r), None) => write!(f, "row {r}: {}", self.message),
            (None, Some(c)) => write!(f, "column {c}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for FileError {}

fn file_err(row: Option<usize>, column: Option<&str>, message: impl Into<String>) -> FileError {
    FileError { row, column: column.map(str::to_string), message: message.into() }
}

/// Checks a set of column names against the kind.
fn check_columns<'a>(kind: ImportKind, cols: impl Iterator<Item = &'a str>, row: Option<usize>, need_keys: bool) -> Result<(), FileError> {
    let known = kind.columns();
    let mut seen = std::collections::HashSet::new();
    for c in cols {
        if c.starts_with('_') {
            continue;
        }
        if !known.contains(&c) {
            return Err(file_err(row, Some(c), format!("unknown column for {}; the columns are: {}", kind.as_str(), known.join(", "))));
        }
        if !seen.insert(c.to_string()) {
            return Err(file_err(row, Some(c), "column appears twice"));
        }
    }
    if need_keys {
        for k in kind.key_columns() {
            if !seen.contains(*k) {
                return Err(file_err(row, Some(k), "required column is missing"));
            }
        }
    }
    Ok(())
}

/// Reads a whole file into rows.
pub fn read(kind: ImportKind, format: Format, data: &[u8]) -> Result<Vec<SourceRow>, FileError> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    match format {
        Format::Csv => read_csv(kind, data),
        Format::Json => read_json(kind, data),
    }
}

fn read_csv(kind: ImportKind, data: &[u8]) -> Result<Vec<SourceRow>, FileError> {
    let mut rd = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(data);
    let header: Vec<String> = rd
        .headers()
        .map_err(|e| file_err(Some(1), None, format!("cannot read the header row: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header.iter().all(String::is_empty) {
        return Err(file_err(Some(1), None, "the file has no header row"));
    }
    check_columns(kind, header.iter().map(String::as_str), Some(1), true)?;
    let mut rows = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize);
            file_err(line, None, format!("cannot read the row: {e}"))
        })?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(rows.len() + 2);
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cells: BTreeMap<String, String> =
            header.iter().zip(rec.iter()).filter(|(h, _)| !h.starts_with('_')).map(|(h, v)| (h.clone(), v.to_string())).collect();
        rows.push(SourceRow { row: line, cells });
    }
    Ok(rows)
}

fn read_json(kind: ImportKind, data: &[u8]) -> Result<Vec<SourceRow>, FileError> {
    let v: serde_json::Value = serde_json::from_slice(data).map_err(|e| file_err(None, None, format!("not JSON: {e}")))?;
    let serde_json::Value::Array(items) = v else {
        return Err(file_err(None, None, "expected a JSON array of objects"));
    };
    items.into_iter().enumerate().map(|(i, item)| json_row(kind, i + 1, item)).collect()
}

/// One JSON object as a row (its position in the array is its row number).
pub fn json_row(kind: ImportKind, row: usize, item: serde_json::Value) -> Result<SourceRow, FileError> {
    let serde_json::Value::Object(obj) = item else {
        return Err(file_err(Some(row), None, "expected an object"));
    };
    check_columns(kind, obj.keys().map(String::as_str), Some(row), false)?;
    let mut cells = BTreeMap::new();
    for (k, v) in obj {
        if k.starts_with('_') {
            continue;
        }
        use serde_json::Value as V;
        let s = match v {
            V::Null => String::new(),
            V::String(s) => s,
            V::Bool(b) => b.to_string(),
            V::Number(n) => n.to_string(),
            V::Object(m) if k == "attributes" => {
                if m.is_empty() {
                    String::new()
                } else {
                    serde_json::to_string(&m).unwrap_or_default()
                }
            }
            V::Array(a) if a.iter().all(|x| x.is_string()) => a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(";"),
            _ => return Err(file_err(Some(row), Some(&k), "must be a string, number, boolean or null")),
        };
        cells.insert(k, s);
    }
    Ok(SourceRow { row, cells })
}

/// Columns whose values export as JSON booleans or numbers.
const BOOL_COLUMNS: [&str; 4] = ["homeAgent", "active", "acd", "receiveCall"];
const INT_COLUMNS: [&str; 2] = ["wrapUpTime", "proficiency"];

/// Writes rows in the kind's export column order.
pub fn write(kind: ImportKind, format: Format, rows: &[FlatRow], out: impl Write) -> std::io::Result<()> {
    let cols = kind.export_columns();
    match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(&cols)?;
            for r in rows {
                w.write_record(cols.iter().map(|c| r.get(*c).map(String::as_str).unwrap_or("")))?;
            }
            w.flush()
        }
        Format::Json => {
            let mut out = std::io::BufWriter::new(out);
            out.write_all(b"[")?;
            for (i, r) in rows.iter().enumerate() {
                let mut obj = serde_json::Map::new();
                for c in &cols {
                    let cell = r.get(*c).cloned().unwrap_or_default();
                    obj.insert(c.to_string(), json_cell(c, cell));
                }
                out.write_all(if i == 0 { b"\n  " } else { b",\n  " })?;
                serde_json::to_writer(&mut out, &obj)?;
            }
            out.write_all(b"\n]\n")?;
            out.flush()
        }
    }
}

fn json_cell(col: &str, cell: String) -> serde_json::Value {
    use serde_json::Value as V;
    if BOOL_COLUMNS.contains(&col) {
        match cell.as_str() {
            "true" => return V::Bool(true),
            "false" => return V::Bool(false),
            _ => {}
        }
    }
    if INT_COLUMNS.contains(&col) {
        if let Ok(n) = cell.parse::<i64>() {
            return V::from(n);
        }
    }
    if col == "attributes" {
        if cell.is_empty() {
            return V::Object(Default::default());
        }
        if let Ok(v @ V::Object(_)) = serde_json::from_str(&cell) {
            return v;
        }
    }
    V::String(cell)
}

/// The rows that failed, as a CSV with the import's columns (ready to fix
/// and import again) plus `_row`, `_column` and `_error` (ignored on import).
/// Passwords are never written back: a failed row's `password` cell is left empty.
pub fn write_errors(kind: ImportKind, rows: &[SourceRow], errors: &[RowError], out: impl Write) -> std::io::Result<()> {
    let mut used: Vec<&str> = kind.columns().iter().copied().filter(|c| rows.iter().any(|r| r.cells.contains_key(*c))).collect();
    if used.is_empty() {
        used = kind.key_columns().to_vec();
    }
    let mut by_row: BTreeMap<usize, Vec<&RowError>> = BTreeMap::new();
    for e in errors {
        by_row.entry(e.row).or_default().push(e);
    }
    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<&str> = used.clone();
    header.extend(["_row", "_column", "_error"]);
    w.write_record(&header)?;
    for r in rows {
        let Some(errs) = by_row.get(&r.row) else { continue };
        let mut rec: Vec<String> =
            used.iter().map(|c| if *c == "password" { String::new() } else { r.cells.get(*c).cloned().unwrap_or_default() }).collect();
        rec.push(r.row.to_string());
        rec.push(errs.iter().filter_map(|e| e.column.clone()).collect::<Vec<_>>().join(";"));
        rec.push(errs.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; "));
        w.write_record(&rec)?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_header_is_checked() {
        let e = read(ImportKind::Skills, Format::Csv, b"name,colour\nA,red\n").unwrap_err();
        assert_eq!(e.column.as_deref(), Some("colour"));
        let e = read(ImportKind::Skills, Format::Csv, b"description\nx\n").unwrap_err();
        assert_eq!(e.column.as_deref(), Some("name"));
        let rows = read(ImportKind::Skills, Format::Csv, b"\xEF\xBB\xBFname,_note\nA,hi\nB,\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].row, 2);
        assert_eq!(rows[1].row, 3);
        assert!(!rows[0].cells.contains_key("_note"));
    }

    #[test]
    fn json_values_become_cells() {
        let rows = read(
            ImportKind::Agents,
            Format::Json,
            br#"[{"loginId":"a","wrapUpTime":5,"active":false,"attributes":{"x":1},"services":["S1","S2"],"email":null}]"#,
        )
        .unwrap();
        let c = &rows[0].cells;
        assert_eq!(c["wrapUpTime"], "5");
        assert_eq!(c["active"], "false");
        assert_eq!(c["attributes"], r#"{"x":1}"#);
        assert_eq!(c["services"], "S1;S2");
        assert_eq!(c["email"], "");
        assert!(read(ImportKind::Agents, Format::Json, br#"[{"loginId":"a","x":1}]"#).is_err());
    }

    #[test]
    fn written_files_read_back() {
        let row: FlatRow = [("name", "A, \"quoted\""), ("callCenter", "Main"), ("acd", "false")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for f in [Format::Csv, Format::Json] {
            let mut buf = Vec::new();
            write(ImportKind::Services, f, std::slice::from_ref(&row), &mut buf).unwrap();
            let back = read(ImportKind::Services, f, &buf).unwrap();
            assert_eq!(back[0].cells, row, "{f:?}");
        }
    }
}
