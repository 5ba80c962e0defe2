//! CSV for spreadsheets (RFC 4180): UTF-8 with a byte-order mark so Excel reads accents right, CRLF
//! line ends, a cell quoted when it holds a comma, a quote, CR or LF (quotes doubled). A cell that
//! a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) gets a leading
//! single quote, so text typed by someone else (an organizer's name, a wording) never executes.

use std::borrow::Cow;

/// The UTF-8 byte-order mark.
pub const BOM: &str = "\u{feff}";

/// Builds a CSV document row by row.
#[derive(Debug, Clone)]
pub struct CsvWriter {
    text: String,
}

impl Default for CsvWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl CsvWriter {
    /// A document that starts with the byte-order mark.
    pub fn new() -> Self {
        Self {
            text: BOM.to_string(),
        }
    }

    /// Appends one row.
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) {
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.text.push(',');
            }
            self.text.push_str(&cell_text(cell.as_ref()));
        }
        self.text.push_str("\r\n");
    }

    pub fn into_string(self) -> String {
        self.text
    }
}

/// One cell as written: defused if a spreadsheet would read it as a formula, then quoted if needed.
pub fn cell_text(value: &str) -> Cow<'_, str> {
    let value: Cow<'_, str> = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    };
    if value.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", value.replace('"', "\"\"")))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_cells_are_written_as_they_are() {
        assert_eq!(cell_text("opt_in"), "opt_in");
        assert_eq!(cell_text(""), "");
        assert_eq!(
            cell_text("Bienvenida a rising, ¿cómo te llamas?"),
            "\"Bienvenida a rising, ¿cómo te llamas?\""
        );
        assert_eq!(
            cell_text("2026-05-14T10:00:00.000Z"),
            "2026-05-14T10:00:00.000Z"
        );
    }

    #[test]
    fn commas_quotes_and_line_breaks_are_quoted_with_quotes_doubled() {
        assert_eq!(cell_text("a,b"), "\"a,b\"");
        assert_eq!(cell_text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell_text("one\ntwo"), "\"one\ntwo\"");
        assert_eq!(cell_text("one\r\ntwo"), "\"one\r\ntwo\"");
    }

    #[test]
    fn cells_a_spreadsheet_would_run_as_formulas_get_a_leading_quote() {
        assert_eq!(
            cell_text("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(cell_text("+1 202"), "'+1 202");
        assert_eq!(cell_text("-2+3"), "'-2+3");
        assert_eq!(cell_text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell_text("\tx"), "'\tx");
        assert_eq!(cell_text("\r=1"), "\"'\r=1\"");
        assert_eq!(cell_text("=1,2"), "\"'=1,2\"", "defused first, then quoted");
        assert_eq!(cell_text("a=b"), "a=b", "only a leading sign matters");
    }

    #[test]
    fn a_document_starts_with_the_bom_and_ends_rows_with_crlf() {
        let mut csv = CsvWriter::new();
        csv.row(&["at", "who"]);
        csv.row(&["2026-05-14", "Dana, organizer"]);
        let text = csv.into_string();
        assert!(text.as_bytes().starts_with(&[0xEF, 0xBB, 0xBF]));
        assert_eq!(
            text.trim_start_matches(BOM),
            "at,who\r\n2026-05-14,\"Dana, organizer\"\r\n"
        );
    }
}
