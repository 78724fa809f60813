//! CSV for spreadsheets: a UTF-8 byte-order mark so Excel reads the encoding right, and text
//! cells that cannot run as formulas (OWASP "CSV injection": a cell starting with `=`, `+`, `-`,
//! `@`, tab or carriage return is prefixed with `'`). Names and raw values come from uploaded
//! files, so every text cell goes through [`cell`].

use std::borrow::Cow;

/// Starts every CSV file the platform serves.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// `text` as a cell a spreadsheet shows as text.
pub fn cell(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_and_plain_text_is_untouched() {
        for formula in ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=x", "\r=x"] {
            assert!(cell(formula).starts_with('\''), "{formula:?}");
        }
        for plain in ["Douglas", "4006381333931", "", "a=b", "O'Neil"] {
            assert_eq!(cell(plain), plain);
        }
    }
}
