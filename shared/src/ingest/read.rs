//! An uploaded sales file, read as it streams in, as a header and rows of raw text: CSV (UTF-8,
//! UTF-16 or Windows-1252, any common delimiter) or XLSX, told apart by their first bytes. Reads
//! with hard limits, so no file can make the reader hold more than one record. A CSV is parsed as
//! its bytes arrive; an XLSX, a zip read from its end, is spooled to an unnamed temporary file
//! first.
//!
//! Cells are handed over as the file has them (not trimmed); the mapper trims and converts.
//! XLSX numbers come out as Excel shows them (at most 15 significant digits, no exponent, no
//! `.0`), and XLSX dates as their Excel serial number in the 1900 date system (`45366` is
//! 2024-03-15): the mapper converts serial dates along with the vendor's text date formats.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write as _};
use std::ops::ControlFlow;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use calamine::{DataRef, Reader, SheetType, SheetVisible, Xlsx, XlsxError};
use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use encoding_rs_io::{DecodeReaderBytes, DecodeReaderBytesBuilder};

/// How much of a file is looked at to tell its kind and to guess its delimiter.
const SNIFF_BYTES: usize = 64 * 1024;
/// A zip local file header: every XLSX starts with one.
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// Delimiters tried when none is configured, in order of preference on a tie.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];
/// Days from Excel's 1904 epoch to its 1900 one: every serial date handed over is 1900-based, so
/// the mapper converts one kind.
const EPOCH_1904_OFFSET: f64 = 1462.0;

/// What a file is, judged by its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Csv,
    Xlsx,
}

/// Caps that bound memory and work whatever a file contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Longest CSV record, in decoded bytes of cell text.
    pub max_record_bytes: usize,
    /// Most cells in a file: CSV fields, or XLSX cells as the sheet stores them.
    pub max_cells: u64,
    /// Most bytes an XLSX may unpack to, as its zip directory declares them (zip bombs).
    pub max_xlsx_uncompressed_bytes: u64,
    /// Most columns in one row.
    pub max_columns: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_record_bytes: 1024 * 1024,
            max_cells: 20_000_000,
            max_xlsx_uncompressed_bytes: 1024 * 1024 * 1024,
            max_columns: 1000,
        }
    }
}

/// How to read one vendor's files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// 0-based index of the header row (rows before it are skipped): the spreadsheet row for
    /// XLSX, the line for CSV, so `2` skips two title lines. The header is the first row at or
    /// after it that is not blank.
    pub header_row: usize,
    /// CSV delimiter; `None` guesses among `,` `;` tab and `|` from the first 64 KiB: the one
    /// that splits most rows from the header on into the same number (> 1) of fields.
    pub delimiter: Option<u8>,
    /// XLSX sheet name; `None` takes the first visible worksheet.
    pub sheet: Option<String>,
    pub limits: ReadLimits,
}

/// One data row as the user sees it in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRow {
    /// 1-based row number as a spreadsheet program shows it, or for CSV the line a text editor
    /// shows the record starting on (a record with quoted line breaks has its first line's).
    pub number: u64,
    /// Cell text as in the file, untrimmed; as many cells as the row has, whatever the header.
    pub cells: Vec<String>,
}

/// What was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub kind: FileKind,
    /// The CSV's encoding (`UTF-8`, `UTF-16LE`, `UTF-16BE`, `windows-1252`); `UTF-8` for XLSX.
    pub encoding: &'static str,
    /// The CSV delimiter used, configured or guessed; `None` for XLSX.
    pub delimiter: Option<u8>,
    /// Data rows handed over.
    pub rows: u64,
    /// Bytes read: the file's size, unless the caller stopped early.
    pub bytes: u64,
    /// Time spent waiting for the input's bytes: the download, when the input is a download.
    pub waited: Duration,
}

/// Why a file could not be read. Only [`FileError::Io`] (a local failure, or the download failing
/// midway) is worth a retry; every other one is the file's fault, told in words its uploader
/// understands.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("not a CSV or XLSX file")]
    NotCsvOrXlsx,
    #[error("the file has no row {}: there is no header", .header_row + 1)]
    NoHeader { header_row: usize },
    #[error("row {row} is longer than {}: is this really a CSV file?", size(.limit))]
    RecordTooLong { row: u64, limit: u64 },
    #[error("row {row} has more than {limit} columns")]
    TooManyColumns { row: u64, limit: usize },
    #[error("the file has more than {limit} cells")]
    TooManyCells { limit: u64 },
    #[error("the workbook unpacks to more than {}", size(.limit))]
    XlsxTooLarge { limit: u64 },
    #[error("the workbook could not be read: {0}")]
    BadXlsx(String),
    #[error("the workbook has no sheet named \"{0}\"")]
    NoSheet(String),
    #[error("row {row} is not valid CSV: {reason}")]
    Csv { row: u64, reason: String },
    #[error("the file could not be read")]
    Io(#[from] io::Error),
}

impl FileError {
    /// Stable code for clients and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "file_empty",
            Self::NotCsvOrXlsx => "file_not_csv_or_xlsx",
            Self::NoHeader { .. } => "file_no_header",
            Self::RecordTooLong { .. } => "file_record_too_long",
            Self::TooManyColumns { .. } => "file_too_many_columns",
            Self::TooManyCells { .. } => "file_too_many_cells",
            Self::XlsxTooLarge { .. } => "file_xlsx_too_large",
            Self::BadXlsx(_) => "file_bad_xlsx",
            Self::NoSheet(_) => "file_no_sheet",
            Self::Csv { .. } => "file_bad_csv",
            Self::Io(_) => "file_io",
        }
    }

    /// Whether reading again may succeed: an I/O failure (local, or of the download), not a bad
    /// file.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Io(_))
    }
}

/// `1048576` → `1 MiB`, for messages about limits.
fn size(bytes: &u64) -> String {
    let bytes = *bytes;
    for (unit, name) in [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{} {name}", bytes / unit);
        }
    }
    format!("{bytes} bytes")
}

/// Reads the file from `input`: calls `on_header` once with the header cells, then `on_row` for
/// every data row after the header (blank rows, whose cells are all empty or whitespace, are
/// skipped and not counted). `on_row` may return `ControlFlow::Break(())` to stop early. The row
/// it is lent is refilled for the next one (no allocation per row). What the file is (CSV or
/// XLSX) is told by its first bytes, not its name.
pub fn read(
    input: impl Read,
    options: &ReadOptions,
    on_header: impl FnOnce(&[String]) -> Result<(), FileError>,
    on_row: impl FnMut(&RawRow) -> ControlFlow<()>,
) -> Result<Summary, FileError> {
    let mut input = Metered {
        inner: input,
        bytes: 0,
        waited: Duration::ZERO,
    };
    let mut prefix = Vec::with_capacity(SNIFF_BYTES);
    (&mut input)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut prefix)?;
    let mut sink = RowSink {
        header_row: options.header_row,
        on_header: Some(on_header),
        on_row,
        rows: 0,
    };
    let (kind, encoding, delimiter) = match classify(&prefix)? {
        Detected::Xlsx => {
            let mut file = tempfile::tempfile()?;
            file.write_all(&prefix)?;
            io::copy(&mut input, &mut file)?;
            read_xlsx(file, options, &mut sink)?;
            (FileKind::Xlsx, UTF_8.name(), None)
        }
        Detected::Text { bom } => {
            // UTF-8 is parsed as it is, past its BOM (each field is checked as it becomes a
            // cell); anything else is decoded to UTF-8 first.
            let mut start = io::Cursor::new(prefix);
            if bom == Some(UTF_8) {
                start.set_position(3);
            }
            let text = Text::new(start.chain(&mut input), bom);
            let (encoding, delimiter) = read_csv(text, options, &mut sink)?;
            (FileKind::Csv, encoding.name(), Some(delimiter))
        }
    };
    Ok(Summary {
        kind,
        encoding,
        delimiter,
        rows: sink.finish()?,
        bytes: input.bytes,
        waited: input.waited,
    })
}

/// The input, counting its bytes and the time spent waiting for them.
struct Metered<I> {
    inner: I,
    bytes: u64,
    waited: Duration,
}

impl<I: Read> Read for Metered<I> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let started = Instant::now();
        let n = self.inner.read(out)?;
        self.waited += started.elapsed();
        self.bytes += n as u64;
        Ok(n)
    }
}

enum Detected {
    Xlsx,
    /// Text, with the encoding its byte order mark names, if it has one.
    Text {
        bom: Option<&'static Encoding>,
    },
}

fn classify(prefix: &[u8]) -> Result<Detected, FileError> {
    if prefix.is_empty() {
        return Err(FileError::Empty);
    }
    if prefix.starts_with(ZIP_MAGIC) {
        return Ok(Detected::Xlsx);
    }
    let bom = Encoding::for_bom(prefix).map(|(encoding, _)| encoding);
    let first_is_utf8 = first_non_ascii(prefix).and_then(|at| utf8_at(&prefix[at..]));
    let encoding = bom.unwrap_or(if first_is_utf8 == Some(false) {
        WINDOWS_1252
    } else {
        UTF_8
    });
    let (text, _) = encoding.decode_with_bom_removal(prefix);
    if looks_like_text(&text) {
        Ok(Detected::Text { bom })
    } else {
        Err(FileError::NotCsvOrXlsx)
    }
}

/// Text has no NUL and hardly any control or undecodable characters; binary files are full of
/// them once decoded (Windows-1252 decodes any byte, so decoding alone proves nothing).
fn looks_like_text(text: &str) -> bool {
    let (mut total, mut odd) = (0usize, 0usize);
    for c in text.chars() {
        total += 1;
        match c {
            '\0' => return false,
            // Tab, line breaks, form feed and the DOS end-of-file mark occur in real exports.
            '\t' | '\n' | '\r' | '\x0c' | '\x1a' => {}
            c if c.is_control() || c == char::REPLACEMENT_CHARACTER => odd += 1,
            _ => {}
        }
    }
    odd * 100 <= total
}

/// Where the first non-ASCII byte of `bytes` is, looked for a block at a time.
fn first_non_ascii(bytes: &[u8]) -> Option<usize> {
    const BLOCK: usize = 64;
    let block = bytes.chunks(BLOCK).position(|block| !block.is_ascii())?;
    let at = block * BLOCK;
    bytes[at..]
        .iter()
        .position(|b| !b.is_ascii())
        .map(|i| at + i)
}

/// Whether the non-ASCII character `bytes` starts with is valid UTF-8; `None` when `bytes` ends
/// inside it (the rest may tell).
///
/// That one character decides a file's encoding: Windows-1252 text is almost never valid UTF-8
/// (`é` is a lone `0xE9`), and a UTF-8 file with a corrupt byte further on is still UTF-8 (that
/// byte becomes U+FFFD) rather than mojibake throughout.
fn utf8_at(bytes: &[u8]) -> Option<bool> {
    match std::str::from_utf8(&bytes[..bytes.len().min(4)]) {
        Ok(_) => Some(true),
        Err(e) if e.valid_up_to() > 0 => Some(true),
        Err(e) if e.error_len().is_none() => None,
        Err(_) => Some(false),
    }
}

/// A CSV's bytes as UTF-8 text, its encoding decided on the way. A byte order mark names it.
/// Without one, the bytes are ASCII up to the first non-ASCII character, which decides (see
/// [`utf8_at`]); ASCII is the same in UTF-8 and Windows-1252, so everything before it passes
/// through as it is. The file is read once, as it arrives, however late its first accent.
enum Text<S> {
    /// Nothing but ASCII so far.
    Ascii(S),
    Utf8(Rest<S>),
    Decoded(DecodeReaderBytes<Rest<S>, Vec<u8>>, &'static Encoding),
    /// Only while deciding; a read failing then leaves it here, and every later read fails.
    Deciding,
}

/// Bytes taken from the source while deciding, then the rest of it.
type Rest<S> = io::Chain<io::Cursor<Vec<u8>>, S>;

impl<S: Read> Text<S> {
    fn new(source: S, bom: Option<&'static Encoding>) -> Self {
        let rest = |source| io::Cursor::new(Vec::new()).chain(source);
        match bom {
            None => Self::Ascii(source),
            Some(encoding) if encoding == UTF_8 => Self::Utf8(rest(source)),
            // The decoder drops the BOM it was told about.
            Some(encoding) => Self::Decoded(decoder(encoding).build(rest(source)), encoding),
        }
    }

    fn encoding(&self) -> &'static Encoding {
        match *self {
            Self::Decoded(_, encoding) => encoding,
            _ => UTF_8,
        }
    }

    /// Decides the encoding at the first non-ASCII character, the start of `taken`.
    fn decide(&mut self, mut taken: Vec<u8>) -> io::Result<()> {
        let Self::Ascii(mut source) = std::mem::replace(self, Self::Deciding) else {
            return Ok(());
        };
        let utf8 = loop {
            if let Some(utf8) = utf8_at(&taken) {
                break utf8;
            }
            let mut more = [0u8; 3];
            match source.read(&mut more) {
                // Cut off by the end of the file: not a UTF-8 character.
                Ok(0) => break false,
                Ok(n) => taken.extend_from_slice(&more[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        let rest = io::Cursor::new(taken).chain(source);
        *self = if utf8 {
            Self::Utf8(rest)
        } else {
            // No BOM here: the bytes are mid-file.
            let decoded = decoder(WINDOWS_1252).bom_sniffing(false).build(rest);
            Self::Decoded(decoded, WINDOWS_1252)
        };
        Ok(())
    }
}

fn decoder(encoding: &'static Encoding) -> DecodeReaderBytesBuilder {
    let mut builder = DecodeReaderBytesBuilder::new();
    builder.encoding(Some(encoding));
    builder
}

impl<S: Read> Read for Text<S> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Self::Ascii(source) = self {
            let n = source.read(out)?;
            let Some(at) = first_non_ascii(&out[..n]) else {
                return Ok(n);
            };
            self.decide(out[at..n].to_vec())?;
            if at > 0 {
                return Ok(at);
            }
        }
        match self {
            Self::Utf8(text) => text.read(out),
            Self::Decoded(text, _) => text.read(out),
            Self::Ascii(_) | Self::Deciding => {
                Err(io::Error::other("the file's encoding could not be decided"))
            }
        }
    }
}

/// `value.trim()`, answered without a look at each character when it starts and ends with
/// printable ASCII (almost every cell of a file).
pub(crate) fn trimmed(value: &str) -> &str {
    match (value.as_bytes().first(), value.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => value,
        _ => value.trim(),
    }
}

/// Rows on their way to the caller: title rows before the header row and blank rows dropped,
/// the first remaining row to `on_header`, the rest to `on_row`.
struct RowSink<H, R> {
    header_row: usize,
    on_header: Option<H>,
    on_row: R,
    rows: u64,
}

impl<H, R> RowSink<H, R>
where
    H: FnOnce(&[String]) -> Result<(), FileError>,
    R: FnMut(&RawRow) -> ControlFlow<()>,
{
    fn push(&mut self, row: &RawRow) -> Result<ControlFlow<()>, FileError> {
        let before_header = row.number <= self.header_row as u64;
        if before_header || row.cells.iter().all(|cell| trimmed(cell).is_empty()) {
            return Ok(ControlFlow::Continue(()));
        }
        if let Some(on_header) = self.on_header.take() {
            on_header(&row.cells)?;
            return Ok(ControlFlow::Continue(()));
        }
        self.rows += 1;
        Ok((self.on_row)(row))
    }

    fn finish(self) -> Result<u64, FileError> {
        match self.on_header {
            Some(_) => Err(FileError::NoHeader {
                header_row: self.header_row,
            }),
            None => Ok(self.rows),
        }
    }
}

fn read_csv<S, H, R>(
    mut text: Text<S>,
    options: &ReadOptions,
    sink: &mut RowSink<H, R>,
) -> Result<(&'static Encoding, u8), FileError>
where
    S: Read,
    H: FnOnce(&[String]) -> Result<(), FileError>,
    R: FnMut(&RawRow) -> ControlFlow<()>,
{
    let mut sample = Vec::with_capacity(SNIFF_BYTES);
    (&mut text)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut sample)?;
    if sample.is_empty() {
        return Err(FileError::Empty);
    }
    let delimiter = match options.delimiter {
        Some(delimiter) => delimiter,
        None => guess_delimiter(&sample, sample.len() < SNIFF_BYTES, options),
    };
    let limits = &options.limits;
    let input = BufReader::with_capacity(SNIFF_BYTES, io::Cursor::new(sample).chain(&mut text));
    let mut records = CsvRecords::new(input, delimiter, limits);
    let mut cells: u64 = 0;
    let mut row = RawRow {
        number: 0,
        cells: Vec::new(),
    };
    while let Some(number) = records.next_record()? {
        cells = cells.saturating_add(records.field_count() as u64);
        if cells > limits.max_cells {
            return Err(FileError::TooManyCells {
                limit: limits.max_cells,
            });
        }
        row.number = number;
        records.fill_cells(&mut row.cells);
        if sink.push(&row)?.is_break() {
            break;
        }
    }
    drop(records);
    Ok((text.encoding(), delimiter))
}

/// The delimiter that splits the most sampled rows (from the header row on, blank ones aside)
/// into one same number of fields, more than one; on a tie the one with more fields, then the
/// earlier in [`DELIMITERS`]. A file nothing splits is one column, and `,` is as good as any.
fn guess_delimiter(sample: &[u8], whole_file: bool, options: &ReadOptions) -> u8 {
    let mut best: Option<((usize, usize), u8)> = None;
    for delimiter in DELIMITERS {
        let mut records = CsvRecords::new(sample, delimiter, &options.limits);
        let mut counts = Vec::new();
        // A sample cut off mid-file ends in a cut-off record: it does not count.
        while let Ok(Some(number)) = records.next_record() {
            counts.push((number, records.field_count(), records.is_blank()));
        }
        if !whole_file {
            counts.pop();
        }
        let mut tally = std::collections::BTreeMap::<usize, usize>::new();
        for (number, fields, blank) in counts {
            if number > options.header_row as u64 && !blank {
                *tally.entry(fields).or_default() += 1;
            }
        }
        let score = tally
            .into_iter()
            .filter(|(fields, _)| *fields > 1)
            .map(|(fields, rows)| (rows, fields))
            .max();
        if let Some(score) = score
            && best.is_none_or(|(best, _)| score > best)
        {
            best = Some((score, delimiter));
        }
    }
    best.map_or(b',', |(_, delimiter)| delimiter)
}

/// CSV records from decoded text, on `csv_core` so that each record's first line is exact (line
/// breaks between records are skipped here, where they can be counted) and a record is refused
/// as soon as it outgrows the limits rather than after it has been buffered whole.
struct CsvRecords<I> {
    input: I,
    parser: csv_core::Reader,
    /// The current record's field bytes, back to back; grows up to one byte over the limit.
    fields: Vec<u8>,
    /// Where each field of the current record ends in `fields`.
    ends: Vec<usize>,
    filled: usize,
    count: usize,
    lines: LineCounter,
    max_record_bytes: usize,
    max_columns: usize,
    done: bool,
}

impl<I: BufRead> CsvRecords<I> {
    fn new(input: I, delimiter: u8, limits: &ReadLimits) -> Self {
        Self {
            input,
            parser: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            fields: vec![0; limits.max_record_bytes.saturating_add(1).min(8 * 1024)],
            ends: vec![0; limits.max_columns.saturating_add(1).min(64)],
            filled: 0,
            count: 0,
            lines: LineCounter::default(),
            max_record_bytes: limits.max_record_bytes,
            max_columns: limits.max_columns,
            done: false,
        }
    }

    /// Reads the next record and returns the line it starts on; `None` at the end.
    fn next_record(&mut self) -> Result<Option<u64>, FileError> {
        (self.filled, self.count) = (0, 0);
        if self.done {
            return Ok(None);
        }
        loop {
            let buf = self.input.fill_buf()?;
            let breaks = buf
                .iter()
                .take_while(|b| matches!(b, b'\n' | b'\r'))
                .count();
            let record_ahead = buf.is_empty() || breaks < buf.len();
            self.lines.advance(&buf[..breaks]);
            self.input.consume(breaks);
            if record_ahead {
                break;
            }
        }
        let number = self.lines.line;
        let mut quotes: u64 = 0;
        loop {
            let buf = self.input.fill_buf()?;
            let at_eof = buf.is_empty();
            let (result, read, written, ended) = self.parser.read_record(
                buf,
                &mut self.fields[self.filled..],
                &mut self.ends[self.count..],
            );
            quotes += self.lines.advance(&buf[..read]);
            self.input.consume(read);
            self.filled += written;
            self.count += ended;
            match result {
                csv_core::ReadRecordResult::InputEmpty => {}
                csv_core::ReadRecordResult::OutputFull => {
                    if self.fields.len() > self.max_record_bytes {
                        return Err(self.too_long(number));
                    }
                    let grown = self.fields.len().saturating_mul(2).max(1);
                    self.fields
                        .resize(grown.min(self.max_record_bytes.saturating_add(1)), 0);
                }
                csv_core::ReadRecordResult::OutputEndsFull => {
                    if self.ends.len() > self.max_columns {
                        return Err(FileError::TooManyColumns {
                            row: number,
                            limit: self.max_columns,
                        });
                    }
                    let grown = self.ends.len().saturating_mul(2).max(1);
                    self.ends
                        .resize(grown.min(self.max_columns.saturating_add(1)), 0);
                }
                csv_core::ReadRecordResult::Record => {
                    // The buffers hold one over each limit, so a record can end just over one.
                    if self.count > self.max_columns {
                        return Err(FileError::TooManyColumns {
                            row: number,
                            limit: self.max_columns,
                        });
                    }
                    if self.filled > self.max_record_bytes {
                        return Err(self.too_long(number));
                    }
                    // A record that the end of the file closes, over several lines and with an
                    // odd number of quotes, is an opening quote never closed (a lone `12"`
                    // inside a one-line field is fine, and common in product names).
                    if at_eof && quotes % 2 == 1 && self.lines.line > number {
                        return Err(unclosed_quote(number));
                    }
                    return Ok(Some(number));
                }
                csv_core::ReadRecordResult::End => {
                    self.done = true;
                    return Ok(None);
                }
            }
        }
    }

    /// A record over the limit that already spans lines is a quote left open, not a long line.
    fn too_long(&self, number: u64) -> FileError {
        if self.lines.line > number {
            unclosed_quote(number)
        } else {
            FileError::RecordTooLong {
                row: number,
                limit: self.max_record_bytes as u64,
            }
        }
    }

    fn field_count(&self) -> usize {
        self.count
    }

    fn field_bytes(&self) -> impl Iterator<Item = &[u8]> {
        let ends = self.ends.get(..self.count).unwrap_or_default();
        let starts = std::iter::once(0).chain(ends.iter().copied());
        starts
            .zip(ends.iter().copied())
            .map(|(start, end)| self.fields.get(start..end).unwrap_or_default())
    }

    /// The current record's fields as text into `cells`, reusing its strings; bytes that are
    /// not UTF-8 become U+FFFD.
    fn fill_cells(&self, cells: &mut Vec<String>) {
        cells.truncate(self.count);
        // One check of the whole record (the common case); a field is then a slice of it, unless
        // its ends split a character (bytes invalid on their own), which goes the lossy way.
        let ends = self.ends.get(..self.count).unwrap_or_default();
        let record = self
            .fields
            .get(..ends.last().copied().unwrap_or(0))
            .and_then(|bytes| std::str::from_utf8(bytes).ok());
        let starts = std::iter::once(0).chain(ends.iter().copied());
        for (i, (start, end)) in starts.zip(ends.iter().copied()).enumerate() {
            let text = match record.and_then(|r| r.get(start..end)) {
                Some(text) => std::borrow::Cow::Borrowed(text),
                None => String::from_utf8_lossy(self.fields.get(start..end).unwrap_or_default()),
            };
            match cells.get_mut(i) {
                Some(cell) => {
                    cell.clear();
                    cell.push_str(&text);
                }
                None => cells.push(text.into_owned()),
            }
        }
    }

    fn is_blank(&self) -> bool {
        self.field_bytes()
            .all(|field| field.trim_ascii().is_empty())
    }
}

fn unclosed_quote(row: u64) -> FileError {
    FileError::Csv {
        row,
        reason: "a quote opened in this row is never closed".to_owned(),
    }
}

/// The line a text editor shows for the next byte: `\n`, `\r\n` and a lone `\r` (old Mac
/// exports) each end a line.
struct LineCounter {
    line: u64,
    after_cr: bool,
}

impl Default for LineCounter {
    fn default() -> Self {
        Self {
            line: 1,
            after_cr: false,
        }
    }
}

impl LineCounter {
    /// Moves past `bytes` and returns how many double quotes they hold.
    fn advance(&mut self, bytes: &[u8]) -> u64 {
        let mut quotes = 0;
        // Only line breaks and quotes matter: found by a vectorised search, not byte by byte.
        for at in memchr::memchr3_iter(b'\n', b'\r', b'"', bytes) {
            let before = at.checked_sub(1).and_then(|i| bytes.get(i));
            let after_cr = before.map_or(self.after_cr, |&b| b == b'\r');
            match bytes.get(at) {
                Some(b'"') => quotes += 1,
                Some(b'\n') if after_cr => {}
                _ => self.line += 1,
            }
        }
        if let Some(&last) = bytes.last() {
            self.after_cr = last == b'\r';
        }
        quotes
    }
}

fn read_xlsx<H, R>(
    mut file: File,
    options: &ReadOptions,
    sink: &mut RowSink<H, R>,
) -> Result<(), FileError>
where
    H: FnOnce(&[String]) -> Result<(), FileError>,
    R: FnMut(&RawRow) -> ControlFlow<()>,
{
    let limits = &options.limits;
    check_unpacked_size(&mut file, limits.max_xlsx_uncompressed_bytes)?;
    file.seek(SeekFrom::Start(0))?;
    let mut workbook = Xlsx::new(BufReader::new(file)).map_err(xlsx_error)?;
    let sheet = choose_sheet(&workbook, options.sheet.as_deref())?;
    let epoch_shift = if workbook.has_1904_epoch() {
        EPOCH_1904_OFFSET
    } else {
        0.0
    };
    // Parsing the sheet's XML is most of the work: it runs on a thread of its own, handing over
    // blocks of cells as text, while this thread assembles rows and the caller maps them.
    let (full, filled) = mpsc::sync_channel::<CellBlock>(2);
    let (spent, recycled) = mpsc::channel::<CellBlock>();
    let (workbook, sheet) = (&mut workbook, sheet.as_str());
    std::thread::scope(|scope| {
        // The parser owns the sending end: the assembler's loop ends when the parser does.
        let parser = std::thread::Builder::new()
            .name("xlsx-cells".into())
            .spawn_scoped(scope, move || {
                parse_cells(workbook, sheet, epoch_shift, limits, &full, &recycled)
            })?;
        let assembled = assemble_rows(&filled, &spent, sheet, limits, sink);
        // The parser stops at its next block once the receiving end is gone.
        drop(filled);
        let parsed = match parser.join() {
            Ok(parsed) => parsed,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        // The parser's error explains the assembler's early end (it saw no more cells).
        parsed.and(assembled)
    })
}

/// Cells of a sheet as text with their (row, column), in sheet order; empty cells left out.
#[derive(Default)]
struct CellBlock {
    cells: Vec<(u32, u32, String)>,
    filled: usize,
}

/// Cells per block handed from the parsing thread to the row assembler.
const CELL_BLOCK: usize = 4096;

/// The parsing thread: the sheet's cells, in blocks, until the sheet or the receiver ends.
fn parse_cells<RS: Read + Seek>(
    workbook: &mut Xlsx<RS>,
    sheet: &str,
    epoch_shift: f64,
    limits: &ReadLimits,
    full: &mpsc::SyncSender<CellBlock>,
    recycled: &mpsc::Receiver<CellBlock>,
) -> Result<(), FileError> {
    // Cell by cell rather than `worksheet_range`: a block of cells in memory, not a dense grid
    // that a single far-away cell could make huge.
    let mut reader = workbook.worksheet_cells_reader(sheet).map_err(xlsx_error)?;
    let declared = reader.dimensions();
    let declared_cells = u64::from(declared.end.0.saturating_sub(declared.start.0)) + 1;
    let declared_cells = declared_cells
        .saturating_mul(u64::from(declared.end.1.saturating_sub(declared.start.1)) + 1);
    let too_many_cells = FileError::TooManyCells {
        limit: limits.max_cells,
    };
    if declared_cells > limits.max_cells {
        return Err(too_many_cells);
    }
    let mut seen: u64 = 0;
    let mut block = CellBlock::default();
    while let Some(cell) = reader.next_cell().map_err(xlsx_error)? {
        seen += 1;
        if seen > limits.max_cells {
            return Err(too_many_cells);
        }
        if block.filled == block.cells.len() {
            block.cells.push((0, 0, String::new()));
        }
        let Some((row, column, text)) = block.cells.get_mut(block.filled) else {
            continue;
        };
        cell_text(cell.get_value(), epoch_shift, text);
        if text.is_empty() {
            continue;
        }
        (*row, *column) = cell.get_position();
        block.filled += 1;
        if block.filled == CELL_BLOCK {
            if full.send(block).is_err() {
                return Ok(());
            }
            block = recycled.try_recv().unwrap_or_default();
            block.filled = 0;
        }
    }
    if block.filled > 0 {
        let _ = full.send(block);
    }
    Ok(())
}

/// The assembling thread: the parsed cells as rows, lent to the sink one at a time, their
/// cells refilled in place for the next. Spent blocks go back to the parser.
fn assemble_rows<H, R>(
    filled: &mpsc::Receiver<CellBlock>,
    spent: &mpsc::Sender<CellBlock>,
    sheet: &str,
    limits: &ReadLimits,
    sink: &mut RowSink<H, R>,
) -> Result<(), FileError>
where
    H: FnOnce(&[String]) -> Result<(), FileError>,
    R: FnMut(&RawRow) -> ControlFlow<()>,
{
    let mut row: Option<u32> = None;
    let mut raw = RawRow {
        number: 0,
        cells: Vec::new(),
    };
    for mut block in filled {
        for (r, c, text) in block.cells.iter_mut().take(block.filled) {
            let (r, c) = (*r, *c);
            if row != Some(r) {
                if let Some(done) = row {
                    if r < done {
                        return Err(FileError::BadXlsx(format!(
                            "the rows of sheet \"{sheet}\" are out of order"
                        )));
                    }
                    raw.number = u64::from(done) + 1;
                    trim_unfilled(&mut raw.cells);
                    if sink.push(&raw)?.is_break() {
                        return Ok(());
                    }
                    for cell in &mut raw.cells {
                        cell.clear();
                    }
                }
                row = Some(r);
            }
            // Columns count from A, so cells[i] is column i whichever columns the sheet uses.
            let column = usize::try_from(c).unwrap_or(usize::MAX);
            if column >= limits.max_columns {
                return Err(FileError::TooManyColumns {
                    row: u64::from(r) + 1,
                    limit: limits.max_columns,
                });
            }
            if column >= raw.cells.len() {
                raw.cells.resize(column + 1, String::new());
            }
            if let Some(slot) = raw.cells.get_mut(column) {
                std::mem::swap(slot, text);
            }
        }
        let _ = spent.send(block);
    }
    if let Some(done) = row {
        // The last row: whether the caller wants more no longer matters.
        raw.number = u64::from(done) + 1;
        trim_unfilled(&mut raw.cells);
        let _ = sink.push(&raw)?;
    }
    Ok(())
}

/// Drops the cells after the row's last filled one (left over from a longer row before it).
fn trim_unfilled(cells: &mut Vec<String>) {
    let used = cells
        .iter()
        .rposition(|c| !c.is_empty())
        .map_or(0, |i| i + 1);
    cells.truncate(used);
}

/// Adds up the sizes the zip's central directory declares before anything is unpacked. The zip
/// reader refuses to unpack an entry past its declared size, so the sum is a real bound.
fn check_unpacked_size(file: &mut File, limit: u64) -> Result<(), FileError> {
    let archive = zip::ZipArchive::new(BufReader::new(file)).map_err(zip_error)?;
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index_data(index).map_err(zip_error)?;
        total = total.saturating_add(entry.size());
        if total > limit {
            return Err(FileError::XlsxTooLarge { limit });
        }
    }
    Ok(())
}

/// The named sheet, or the first worksheet a person sees when opening the workbook (hidden
/// sheets tend to hold lookup tables, chart sheets hold no cells).
fn choose_sheet<RS: Read + Seek>(
    workbook: &Xlsx<RS>,
    wanted: Option<&str>,
) -> Result<String, FileError> {
    let sheets = workbook.sheets_metadata();
    if let Some(wanted) = wanted {
        return match sheets.iter().find(|sheet| sheet.name == wanted) {
            Some(sheet) => Ok(sheet.name.clone()),
            None => Err(FileError::NoSheet(wanted.to_owned())),
        };
    }
    let mut worksheets = sheets
        .iter()
        .filter(|sheet| matches!(sheet.typ, SheetType::WorkSheet));
    let first = worksheets.clone().next();
    worksheets
        .find(|sheet| matches!(sheet.visible, SheetVisible::Visible))
        .or(first)
        .map(|sheet| sheet.name.clone())
        .ok_or_else(|| FileError::BadXlsx("it has no worksheet".to_owned()))
}

/// The cell as text into `out` (emptied first).
fn cell_text(value: &DataRef<'_>, epoch_shift: f64, out: &mut String) {
    out.clear();
    match value {
        DataRef::String(text) | DataRef::DateTimeIso(text) | DataRef::DurationIso(text) => {
            out.push_str(text);
        }
        DataRef::SharedString(text) => out.push_str(text),
        DataRef::Int(number) => {
            let _ = write!(out, "{number}");
        }
        DataRef::Float(number) => number_text(*number, out),
        DataRef::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        DataRef::DateTime(date) if date.is_datetime() => {
            number_text(date.as_f64() + epoch_shift, out);
        }
        DataRef::DateTime(duration) => number_text(duration.as_f64(), out),
        DataRef::Error(_) | DataRef::Empty => {}
    }
}

/// Appends a number as Excel shows it: rounded to 15 significant digits (so `0.1 + 0.2` is `0.3`
/// and a 13-digit EAN stays exact), never an exponent, no `.0` on integers.
fn number_text(number: f64, out: &mut String) {
    // Whole numbers under 15 digits (EANs, quantities, years) are shown as they are.
    if number.fract() == 0.0 && number.abs() < 1e15 {
        let _ = write!(out, "{}", number as i64);
        return;
    }
    // The shortest text that reads back as the number (most amounts: `12.5`). At 15 significant
    // digits or fewer it is also the number rounded to 15 digits, as a double is exact to
    // almost 16: no need for the exact (and far slower) rounding below.
    let start = out.len();
    let _ = write!(out, "{number}");
    let shortest = &out[start..];
    let significant = shortest
        .bytes()
        .skip_while(|b| matches!(b, b'-' | b'0' | b'.'))
        .filter(u8::is_ascii_digit)
        .count();
    if shortest.contains('.') && significant <= 15 {
        return;
    }
    out.truncate(start);
    let shown: f64 = format!("{number:.14e}").parse().unwrap_or(number);
    if shown == 0.0 {
        // Also -0.0, which would print as "-0".
        out.push('0');
    } else {
        let _ = write!(out, "{shown}");
    }
}

/// Corrupt data inside the zip surfaces as `InvalidData` or an early end: the file's fault.
fn io_or_bad(error: io::Error) -> FileError {
    match error.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            FileError::BadXlsx(error.to_string())
        }
        _ => FileError::Io(error),
    }
}

fn zip_error(error: zip::result::ZipError) -> FileError {
    match error {
        zip::result::ZipError::Io(error) => io_or_bad(error),
        other => FileError::BadXlsx(other.to_string()),
    }
}

fn xlsx_error(error: XlsxError) -> FileError {
    match error {
        XlsxError::Io(error) => io_or_bad(error),
        XlsxError::Zip(error) => zip_error(error),
        XlsxError::WorksheetNotFound(name) => FileError::NoSheet(name),
        XlsxError::Password => FileError::BadXlsx("it is password-protected".to_owned()),
        other => FileError::BadXlsx(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use tempfile::TempDir;

    fn file(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Everything `read` hands over: header, rows and summary.
    fn read_all(
        path: &Path,
        options: &ReadOptions,
    ) -> Result<(Vec<String>, Vec<RawRow>, Summary), FileError> {
        let mut header = Vec::new();
        let mut rows = Vec::new();
        let summary = read(
            File::open(path)?,
            options,
            |cells| {
                header = cells.to_vec();
                Ok(())
            },
            |row| {
                rows.push(row.clone());
                ControlFlow::Continue(())
            },
        )?;
        Ok((header, rows, summary))
    }

    fn read_default(path: &Path) -> Result<(Vec<String>, Vec<RawRow>, Summary), FileError> {
        read_all(path, &ReadOptions::default())
    }

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|cell| (*cell).to_owned()).collect()
    }

    fn row(number: u64, cells: &[&str]) -> RawRow {
        RawRow {
            number,
            cells: strings(cells),
        }
    }

    #[test]
    fn utf8_without_bom_is_read_as_utf8() {
        // GIVEN a UTF-8 CSV without BOM, non-ASCII in a cell
        let dir = tempfile::tempdir().unwrap();
        let bytes = "EAN,Name\n4006381333931,Crème brûlée \n".as_bytes();
        let path = file(&dir, "sales.csv", bytes);
        // WHEN it is read
        let (header, rows, summary) = read_default(&path).unwrap();
        // THEN the text is intact, untrimmed, and the summary says what was read
        assert_eq!(summary.kind, FileKind::Csv);
        assert_eq!(header, strings(&["EAN", "Name"]));
        assert_eq!(rows, vec![row(2, &["4006381333931", "Crème brûlée "])]);
        assert_eq!(
            summary,
            Summary {
                kind: FileKind::Csv,
                encoding: "UTF-8",
                delimiter: Some(b','),
                rows: 1,
                bytes: bytes.len() as u64,
                waited: summary.waited,
            }
        );
    }

    #[test]
    fn utf8_with_bom_loses_the_bom() {
        // GIVEN a UTF-8 CSV with BOM and CRLF line ends
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            &dir,
            "sales.csv",
            "\u{feff}EAN;Name\r\n1;Müller\r\n".as_bytes(),
        );
        // WHEN it is read
        let (header, rows, summary) = read_default(&path).unwrap();
        // THEN the first header cell does not start with the BOM
        assert_eq!(header, strings(&["EAN", "Name"]));
        assert_eq!(rows, vec![row(2, &["1", "Müller"])]);
        assert_eq!(summary.encoding, "UTF-8");
    }

    #[test]
    fn utf16le_with_bom_is_decoded() {
        // GIVEN a tab-separated UTF-16LE file with BOM, as Excel saves "Unicode text"
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "EAN\tName\r\n1\tÄpfel €\r\n".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let path = file(&dir, "sales.txt", &bytes);
        // WHEN it is read
        let (header, rows, summary) = read_default(&path).unwrap();
        // THEN it is text, decoded, split on tabs
        assert_eq!(summary.kind, FileKind::Csv);
        assert_eq!(header, strings(&["EAN", "Name"]));
        assert_eq!(rows, vec![row(2, &["1", "Äpfel €"])]);
        assert_eq!(summary.encoding, "UTF-16LE");
        assert_eq!(summary.delimiter, Some(b'\t'));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_windows_1252() {
        // GIVEN a legacy export: é as 0xE9, € as 0x80
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir, "sales.csv", b"Name;Price\nCaf\xe9;5 \x80\n");
        // WHEN it is read
        let (header, rows, summary) = read_default(&path).unwrap();
        // THEN the characters are the ones the vendor typed
        assert_eq!(header, strings(&["Name", "Price"]));
        assert_eq!(rows, vec![row(2, &["Café", "5 €"])]);
        assert_eq!(summary.encoding, "windows-1252");
    }

    #[test]
    fn a_late_first_accent_still_decides_the_encoding() {
        // GIVEN a Windows-1252 file whose first non-ASCII byte is far past the sniffed start
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = b"Name;Qty\n".to_vec();
        for _ in 0..10_000 {
            bytes.extend_from_slice(b"Plain;1\n");
        }
        bytes.extend_from_slice(b"Caf\xe9;2\n");
        let path = file(&dir, "sales.csv", &bytes);
        // WHEN it is read
        let (_, rows, summary) = read_default(&path).unwrap();
        // THEN the last row is decoded as Windows-1252, not replaced with U+FFFD
        assert_eq!(summary.encoding, "windows-1252");
        assert_eq!(rows.last(), Some(&row(10_002, &["Café", "2"])));
    }

    /// A download: the bytes arrive in pieces of the sizes given, over and over; then the end,
    /// or, if it breaks off, an error.
    struct Trickle<'a> {
        bytes: &'a [u8],
        sizes: std::iter::Cycle<std::slice::Iter<'a, usize>>,
        breaks_off: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.bytes.is_empty() && self.breaks_off {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
            }
            let n = (*self.sizes.next().unwrap())
                .min(out.len())
                .min(self.bytes.len());
            out[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_file_arriving_in_pieces_reads_as_it_does_whole() {
        // GIVEN files whose encoding is decided late, by a character that pieces can split: a
        // UTF-8 `€` (3 bytes), a Windows-1252 `é`, a UTF-8 lead byte cut off by the file's end,
        // and a UTF-16 file
        let mut ascii = b"Name;Qty\n".to_vec();
        for _ in 0..10_000 {
            ascii.extend_from_slice(b"Plain;1\n");
        }
        let with = |tail: &[u8]| [ascii.as_slice(), tail].concat();
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(
            "Name\tQty\nCafé\t2\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        );
        let cases = [
            (with("Caf\u{20ac};2\n".as_bytes()), "UTF-8", "Caf\u{20ac}"),
            (with(b"Caf\xe9;2\n"), "windows-1252", "Café"),
            (with(b"Caf;2\n\xc3"), "windows-1252", "Ã"),
            (utf16, "UTF-16LE", "Café"),
        ];
        let dir = tempfile::tempdir().unwrap();
        for (bytes, encoding, last) in cases {
            let path = file(&dir, "sales.csv", &bytes);
            let (header, rows, summary) = read_default(&path).unwrap();
            assert_eq!(
                (summary.encoding, rows.last().unwrap().cells[0].as_str()),
                (encoding, last)
            );
            for sizes in [&[1][..], &[2], &[7, 1, 4093], &[65_535, 1, 2]] {
                // WHEN it arrives in pieces
                let mut streamed = (Vec::new(), Vec::new());
                let input = Trickle {
                    bytes: &bytes,
                    sizes: sizes.iter().cycle(),
                    breaks_off: false,
                };
                let summary_streamed = read(
                    input,
                    &ReadOptions::default(),
                    |cells| {
                        streamed.0 = cells.to_vec();
                        Ok(())
                    },
                    |row| {
                        streamed.1.push(row.clone());
                        ControlFlow::Continue(())
                    },
                )
                .unwrap();
                // THEN header, rows and summary are those of the whole file
                assert!(
                    streamed.0 == header && streamed.1 == rows,
                    "{encoding} in pieces of {sizes:?}: last row {:?}",
                    streamed.1.last()
                );
                assert_eq!(
                    Summary {
                        waited: summary.waited,
                        ..summary_streamed
                    },
                    summary
                );
            }
        }
    }

    #[test]
    fn a_download_breaking_off_is_an_io_error_worth_a_retry() {
        // GIVEN downloads breaking off in a CSV's first lines, inside the non-ASCII character that
        // decides its encoding, after it, and in the middle of an XLSX
        let mut csv = b"Name;Qty\n".to_vec();
        for _ in 0..10_000 {
            csv.extend_from_slice(b"Plain;1\n");
        }
        let euro = csv.len() + 3;
        csv.extend_from_slice("Caf\u{20ac};2\nMore;3\n".as_bytes());
        let dir = tempfile::tempdir().unwrap();
        let xlsx = std::fs::read(workbook(&dir)).unwrap();
        let cuts = [
            &csv[..100],
            &csv[..=euro],
            &csv[..csv.len() - 3],
            &xlsx[..xlsx.len() / 2],
        ];
        for cut in cuts {
            // WHEN it is read
            let broken_off = Trickle {
                bytes: cut,
                sizes: [4096].iter().cycle(),
                breaks_off: true,
            };
            let result = read(
                broken_off,
                &ReadOptions::default(),
                |_| Ok(()),
                |_| ControlFlow::Continue(()),
            );
            // THEN it is an I/O error, worth a retry, not a bad file
            match result {
                Err(error @ FileError::Io(_)) => assert!(error.is_retryable()),
                other => panic!("{} bytes: {other:?}", cut.len()),
            }
        }
    }

    #[test]
    fn the_delimiter_is_guessed() {
        // GIVEN the same table with each common delimiter, decimal commas in the `;` one
        let dir = tempfile::tempdir().unwrap();
        let cases: [(u8, &str); 4] = [
            (b',', "EAN,Qty,Price\n1,2,\"1,99\"\n3,4,5\n"),
            (b';', "EAN;Qty;Price\n1;2;1,99\n3;4;5\n"),
            (b'\t', "EAN\tQty\tPrice\n1\t2\t1,99\n3\t4\t5\n"),
            (b'|', "EAN|Qty|Price\n1|2|1,99\n3|4|5\n"),
        ];
        for (delimiter, text) in cases {
            let path = file(&dir, "sales.csv", text.as_bytes());
            // WHEN it is read without a configured delimiter
            let (header, rows, summary) = read_default(&path).unwrap();
            // THEN the delimiter is found and splits every row into three cells
            assert_eq!(summary.delimiter, Some(delimiter), "{text:?}");
            assert_eq!(header, strings(&["EAN", "Qty", "Price"]));
            assert_eq!(
                rows,
                vec![row(2, &["1", "2", "1,99"]), row(3, &["3", "4", "5"])]
            );
        }
    }

    #[test]
    fn a_configured_delimiter_is_used_as_is() {
        // GIVEN a file that would be guessed as `,`
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir, "sales.csv", b"a,b;c\n1,2;3\n");
        let options = ReadOptions {
            delimiter: Some(b';'),
            ..ReadOptions::default()
        };
        // WHEN it is read with `;` configured
        let (header, rows, summary) = read_all(&path, &options).unwrap();
        // THEN `;` splits it
        assert_eq!(header, strings(&["a,b", "c"]));
        assert_eq!(rows, vec![row(2, &["1,2", "3"])]);
        assert_eq!(summary.delimiter, Some(b';'));
    }

    #[test]
    fn a_quoted_line_break_stays_in_its_cell_and_rows_keep_their_lines() {
        // GIVEN a quoted cell over two lines, with a delimiter and an escaped quote in it
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            &dir,
            "sales.csv",
            b"id,note\n1,\"two\nlines, \"\"quoted\"\"\"\n2,after\n",
        );
        // WHEN it is read
        let (_, rows, _) = read_default(&path).unwrap();
        // THEN the record has its first line's number and the next one its own line
        assert_eq!(
            rows,
            vec![
                row(2, &["1", "two\nlines, \"quoted\""]),
                row(4, &["2", "after"])
            ]
        );
    }

    #[test]
    fn row_numbers_follow_crlf_and_lone_cr_line_ends() {
        // GIVEN the same rows with Windows and old Mac line ends, a blank line in each
        let dir = tempfile::tempdir().unwrap();
        for text in ["a,b\r\n1,2\r\n\r\n3,4\r\n", "a,b\r1,2\r\r3,4\r"] {
            let path = file(&dir, "sales.csv", text.as_bytes());
            // WHEN it is read
            let (_, rows, _) = read_default(&path).unwrap();
            // THEN each row has the line an editor shows
            assert_eq!(
                rows,
                vec![row(2, &["1", "2"]), row(4, &["3", "4"])],
                "{text:?}"
            );
        }
    }

    #[test]
    fn lines_and_quotes_are_counted_the_same_however_the_bytes_are_split() {
        // GIVEN bytes with every kind of line end and quotes, split at every place (a CRLF whose
        // halves arrive in two reads is one line end)
        let text = b"\"a\"\r\n\r\rb\n\n\"c\r\n\"\r\"";
        let whole = {
            let mut counter = LineCounter::default();
            let quotes = counter.advance(text);
            (counter.line, quotes)
        };
        assert_eq!(whole, (8, 5));
        for split in 0..=text.len() {
            // WHEN they are counted in two steps
            let mut counter = LineCounter::default();
            let (first, second) = text.split_at(split);
            let quotes = counter.advance(first) + counter.advance(second);
            // THEN lines and quotes are those of the whole
            assert_eq!((counter.line, quotes), whole, "split at {split}");
        }
    }

    #[test]
    fn rows_before_the_header_row_are_skipped() {
        // GIVEN two title lines above the header
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            &dir,
            "sales.csv",
            b"Sales report\nPeriod: March 2024\nEAN;Qty\n1;2\n",
        );
        let options = ReadOptions {
            header_row: 2,
            ..ReadOptions::default()
        };
        // WHEN it is read with header_row = 2
        let (header, rows, summary) = read_all(&path, &options).unwrap();
        // THEN the third line is the header, and the titles did not sway the delimiter
        assert_eq!(header, strings(&["EAN", "Qty"]));
        assert_eq!(rows, vec![row(4, &["1", "2"])]);
        assert_eq!(summary.delimiter, Some(b';'));
    }

    #[test]
    fn blank_rows_are_skipped_and_not_counted() {
        // GIVEN empty lines, a line of bare delimiters and one of whitespace, no final line end
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir, "sales.csv", b"\na,b\n\n1,2\n,\n , \n3,4\n\n5,6");
        // WHEN it is read
        let (header, rows, summary) = read_default(&path).unwrap();
        // THEN only rows with content come through, with their own line numbers
        assert_eq!(header, strings(&["a", "b"]));
        assert_eq!(
            rows,
            vec![
                row(4, &["1", "2"]),
                row(7, &["3", "4"]),
                row(9, &["5", "6"])
            ]
        );
        assert_eq!(summary.rows, 3);
    }

    #[test]
    fn an_empty_file_is_empty() {
        // GIVEN an empty file and one holding only a BOM
        let dir = tempfile::tempdir().unwrap();
        let empty = file(&dir, "empty.csv", b"");
        let bom = file(&dir, "bom.csv", b"\xEF\xBB\xBF");
        // WHEN they are read
        // THEN both are Empty
        assert!(matches!(read_default(&empty), Err(FileError::Empty)));
        assert!(matches!(read_default(&bom), Err(FileError::Empty)));
    }

    #[test]
    fn a_header_alone_is_zero_rows() {
        // GIVEN a header and nothing else
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir, "sales.csv", b"EAN,Qty\n");
        // WHEN it is read
        let (header, rows, summary) = read_default(&path).unwrap();
        // THEN the header comes through and no row
        assert_eq!(header, strings(&["EAN", "Qty"]));
        assert!(rows.is_empty());
        assert_eq!(summary.rows, 0);
    }

    #[test]
    fn a_file_without_the_header_row_has_no_header() {
        // GIVEN two lines, the header expected on the sixth, and a file of blank lines
        let dir = tempfile::tempdir().unwrap();
        let short = file(&dir, "short.csv", b"a,b\n1,2\n");
        let blank = file(&dir, "blank.csv", b"\n\r\n , \n");
        let options = ReadOptions {
            header_row: 5,
            ..ReadOptions::default()
        };
        // WHEN they are read
        // THEN there is no header, in words about row 6 for the first
        let error = read_all(&short, &options).unwrap_err();
        assert!(matches!(error, FileError::NoHeader { header_row: 5 }));
        assert_eq!(
            error.to_string(),
            "the file has no row 6: there is no header"
        );
        assert!(matches!(
            read_default(&blank),
            Err(FileError::NoHeader { header_row: 0 })
        ));
    }

    #[test]
    fn binary_garbage_is_neither_csv_nor_xlsx() {
        // GIVEN a PNG header followed by pseudo-random bytes
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        bytes.extend(XorShift(7).bytes(2000));
        let path = file(&dir, "sales.csv", &bytes);
        // WHEN it is read
        // THEN it is refused as such
        assert!(matches!(read_default(&path), Err(FileError::NotCsvOrXlsx)));
    }

    #[test]
    fn a_huge_line_is_refused_as_too_long() {
        // GIVEN a header and then one 10 MB line
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = b"a,b\n".to_vec();
        bytes.resize(bytes.len() + 10 * 1024 * 1024, b'x');
        bytes.extend_from_slice(b"\n1,2\n");
        let path = file(&dir, "sales.csv", &bytes);
        // WHEN it is read
        let error = read_default(&path).unwrap_err();
        // THEN its row is too long, said in words
        assert!(matches!(error, FileError::RecordTooLong { row: 2, .. }));
        assert_eq!(
            error.to_string(),
            "row 2 is longer than 1 MiB: is this really a CSV file?"
        );
        assert_eq!(error.code(), "file_record_too_long");
    }

    #[test]
    fn a_quote_never_closed_is_malformed_csv() {
        // GIVEN a quote opened on line 2 and never closed, in a short and in a long file
        let dir = tempfile::tempdir().unwrap();
        let short = file(&dir, "short.csv", b"a,b\n1,\"never closed\n2,3\n");
        let mut long = b"a,b\n1,\"never closed\n".to_vec();
        for _ in 0..200_000 {
            long.extend_from_slice(b"2,3\n");
        }
        let long = file(&dir, "long.csv", &long);
        // WHEN they are read
        // THEN both name row 2 and the open quote, not a long line
        for path in [short, long] {
            let error = read_default(&path).unwrap_err();
            assert!(matches!(error, FileError::Csv { row: 2, .. }), "{error:?}");
            assert_eq!(
                error.to_string(),
                "row 2 is not valid CSV: a quote opened in this row is never closed"
            );
        }
    }

    #[test]
    fn an_inch_mark_in_the_last_line_is_fine() {
        // GIVEN a lone quote inside a field on a last line without line end
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir, "sales.csv", b"Product;Qty\nTV 55\" OLED;2");
        // WHEN it is read
        let (_, rows, _) = read_default(&path).unwrap();
        // THEN the quote is text
        assert_eq!(rows, vec![row(2, &["TV 55\" OLED", "2"])]);
    }

    #[test]
    fn a_row_with_more_cells_than_the_header_is_handed_over_as_is() {
        // GIVEN a row longer and one shorter than the header
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir, "sales.csv", b"a,b\n1,2,3\n4\n5,6\n");
        // WHEN it is read
        let (_, rows, _) = read_default(&path).unwrap();
        // THEN each comes with its own cells: the mapper judges them
        assert_eq!(
            rows,
            vec![
                row(2, &["1", "2", "3"]),
                row(3, &["4"]),
                row(4, &["5", "6"])
            ]
        );
    }

    #[test]
    fn the_caller_can_stop_early() {
        // GIVEN three data rows
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir, "sales.csv", b"a,b\n1,2\n3,4\n5,6\n");
        // WHEN the caller breaks on the first
        let mut seen = Vec::new();
        let summary = read(
            File::open(&path).unwrap(),
            &ReadOptions::default(),
            |_| Ok(()),
            |row| {
                seen.push(row.number);
                ControlFlow::Break(())
            },
        )
        .unwrap();
        // THEN no further row is read
        assert_eq!(seen, vec![2]);
        assert_eq!(summary.rows, 1);
    }

    #[test]
    fn a_header_the_caller_refuses_ends_the_read() {
        // GIVEN a caller that refuses every header
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir, "sales.csv", b"a,b\n1,2\n");
        // WHEN the file is read
        let result = read(
            File::open(&path).unwrap(),
            &ReadOptions::default(),
            |_| Err(FileError::NoHeader { header_row: 0 }),
            |_| panic!("no row after a refused header"),
        );
        // THEN its error comes back
        assert!(matches!(result, Err(FileError::NoHeader { .. })));
    }

    #[test]
    fn column_and_cell_limits_hold() {
        // GIVEN a row of four fields and a file of eight cells
        let dir = tempfile::tempdir().unwrap();
        let wide = file(&dir, "wide.csv", b"a,b\n1,2,3,4\n");
        let many = file(&dir, "many.csv", b"a,b\n1,2\n3,4\n5,6\n");
        let limits = ReadLimits {
            max_columns: 3,
            max_cells: 7,
            ..ReadLimits::default()
        };
        let options = ReadOptions {
            limits,
            ..ReadOptions::default()
        };
        // WHEN they are read with at most 3 columns and 7 cells
        // THEN each is refused by its limit
        let wide = read_all(&wide, &options).unwrap_err();
        assert!(matches!(
            wide,
            FileError::TooManyColumns { row: 2, limit: 3 }
        ));
        assert_eq!(wide.to_string(), "row 2 has more than 3 columns");
        let many = read_all(&many, &options).unwrap_err();
        assert!(matches!(many, FileError::TooManyCells { limit: 7 }));
        assert_eq!(many.to_string(), "the file has more than 7 cells");
    }

    /// A workbook as Excel would save it: a title, a blank row, the header on row 3, values of
    /// every kind on row 4, a row starting in column B, and a second sheet.
    fn workbook(dir: &TempDir) -> PathBuf {
        use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
        let path = dir.path().join("sales.xlsx");
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("Sales").unwrap();
        sheet.write_string(0, 0, "Sales report").unwrap();
        for (column, name) in ["EAN", "Product", "Qty", "Price", "Date", "Promo", "Share"]
            .iter()
            .enumerate()
        {
            sheet.write_string(2, column as u16, *name).unwrap();
        }
        sheet.write_number(3, 0, 4006381333931.0).unwrap();
        sheet.write_string(3, 1, "Crème ").unwrap();
        sheet.write_number(3, 2, 13).unwrap();
        sheet.write_number(3, 3, 2.49).unwrap();
        let date = ExcelDateTime::from_ymd(2024, 3, 15).unwrap();
        let date_format = Format::new().set_num_format("yyyy-mm-dd");
        sheet
            .write_datetime_with_format(3, 4, &date, &date_format)
            .unwrap();
        sheet.write_boolean(3, 5, true).unwrap();
        sheet.write_number(3, 6, 0.1 + 0.2).unwrap();
        sheet.write_string(5, 1, "from B").unwrap();
        let other = book.add_worksheet();
        other.set_name("Other").unwrap();
        other.write_string(0, 0, "Only").unwrap();
        other.write_string(1, 0, "x").unwrap();
        book.save(&path).unwrap();
        path
    }

    #[test]
    fn an_xlsx_comes_out_as_the_spreadsheet_shows_it() {
        // GIVEN a workbook with its header on row 3
        let dir = tempfile::tempdir().unwrap();
        let path = workbook(&dir);
        let options = ReadOptions {
            header_row: 2,
            ..ReadOptions::default()
        };
        // WHEN it is read
        let (header, rows, summary) = read_all(&path, &options).unwrap();
        // THEN the numbers are exact without `.0`, the date is its serial, rows keep their numbers
        assert_eq!(summary.kind, FileKind::Xlsx);
        assert_eq!(
            header,
            strings(&["EAN", "Product", "Qty", "Price", "Date", "Promo", "Share"])
        );
        assert_eq!(
            rows,
            vec![
                row(
                    4,
                    &[
                        "4006381333931",
                        "Crème ",
                        "13",
                        "2.49",
                        "45366",
                        "true",
                        "0.3"
                    ]
                ),
                row(6, &["", "from B"]),
            ]
        );
        assert_eq!(summary.kind, FileKind::Xlsx);
        assert_eq!(summary.delimiter, None);
        assert_eq!(summary.rows, 2);
    }

    #[test]
    fn an_xlsx_sheet_is_chosen_by_name() {
        // GIVEN the workbook, read once for its second sheet and once for a missing one
        let dir = tempfile::tempdir().unwrap();
        let path = workbook(&dir);
        let other = ReadOptions {
            sheet: Some("Other".to_owned()),
            ..ReadOptions::default()
        };
        let missing = ReadOptions {
            sheet: Some("Missing".to_owned()),
            ..ReadOptions::default()
        };
        // WHEN they are read
        let (header, rows, _) = read_all(&path, &other).unwrap();
        let error = read_all(&path, &missing).unwrap_err();
        // THEN the named sheet is read, and a missing one is said to be missing
        assert_eq!(header, strings(&["Only"]));
        assert_eq!(rows, vec![row(2, &["x"])]);
        assert!(matches!(&error, FileError::NoSheet(name) if name == "Missing"));
        assert_eq!(error.code(), "file_no_sheet");
    }

    #[test]
    fn a_truncated_xlsx_is_a_bad_workbook() {
        // GIVEN the first half of a real workbook
        let dir = tempfile::tempdir().unwrap();
        let whole = std::fs::read(workbook(&dir)).unwrap();
        let path = file(&dir, "half.xlsx", &whole[..whole.len() / 2]);
        // WHEN it is read
        let error = read_default(&path).unwrap_err();
        // THEN it is read as a workbook but cannot be, and no retry will help
        assert!(matches!(error, FileError::BadXlsx(_)), "{error:?}");
        assert!(
            error
                .to_string()
                .starts_with("the workbook could not be read: ")
        );
        assert!(!error.is_retryable());
    }

    #[test]
    fn an_xlsx_unpacking_past_the_limit_is_refused_before_unpacking() {
        // GIVEN a real workbook and a limit far below what it declares unpacked
        let dir = tempfile::tempdir().unwrap();
        let path = workbook(&dir);
        let options = ReadOptions {
            limits: ReadLimits {
                max_xlsx_uncompressed_bytes: 1024,
                ..ReadLimits::default()
            },
            ..ReadOptions::default()
        };
        // WHEN it is read
        let error = read_all(&path, &options).unwrap_err();
        // THEN it is too large
        assert!(matches!(error, FileError::XlsxTooLarge { limit: 1024 }));
        assert_eq!(error.to_string(), "the workbook unpacks to more than 1 KiB");
    }

    #[test]
    fn an_xlsx_over_the_cell_limit_is_refused() {
        // GIVEN the workbook, whose first sheet declares A1:G6 (42 cells)
        let dir = tempfile::tempdir().unwrap();
        let path = workbook(&dir);
        let options = ReadOptions {
            limits: ReadLimits {
                max_cells: 41,
                ..ReadLimits::default()
            },
            ..ReadOptions::default()
        };
        // WHEN it is read with a limit of 41 cells
        let error = read_all(&path, &options).unwrap_err();
        // THEN it has too many
        assert!(matches!(error, FileError::TooManyCells { limit: 41 }));
    }

    #[test]
    fn a_long_sheet_comes_out_whole_and_in_order_and_can_be_stopped() {
        // GIVEN a sheet of 5,000 rows of three cells (several blocks of parsed cells), one blank
        use rust_xlsxwriter::Workbook;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.xlsx");
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "EAN").unwrap();
        sheet.write_string(0, 2, "Qty").unwrap();
        for r in 1..=5000u32 {
            if r == 2500 {
                continue;
            }
            sheet.write_number(r, 0, f64::from(r)).unwrap();
            sheet.write_string(r, 1, format!("name {r}")).unwrap();
            sheet.write_number(r, 2, f64::from(r) + 0.25).unwrap();
        }
        book.save(&path).unwrap();
        // WHEN it is read whole
        let (header, rows, summary) = read_default(&path).unwrap();
        // THEN every filled row comes out once, in order, with its cells in their columns
        assert_eq!(header, strings(&["EAN", "", "Qty"]));
        assert_eq!(summary.rows, 4999);
        assert_eq!(rows.len(), 4999);
        assert_eq!(rows[0], row(2, &["1", "name 1", "1.25"]));
        assert_eq!(rows[2498], row(2500, &["2499", "name 2499", "2499.25"]));
        assert_eq!(rows[2499], row(2502, &["2501", "name 2501", "2501.25"]));
        assert_eq!(rows[4998], row(5001, &["5000", "name 5000", "5000.25"]));
        // WHEN the reader is told to stop after ten rows THEN it stops there
        let mut seen = 0;
        let summary = read(
            File::open(&path).unwrap(),
            &ReadOptions::default(),
            |_| Ok(()),
            |_| {
                seen += 1;
                if seen == 10 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        )
        .unwrap();
        assert_eq!((seen, summary.rows), (10, 10));
    }

    #[test]
    fn numbers_print_as_excel_shows_them() {
        // GIVEN floats as calamine reads them WHEN they are formatted THEN Excel's text comes out
        let text = |number: f64| {
            let mut out = String::new();
            number_text(number, &mut out);
            out
        };
        assert_eq!(text(13.0), "13");
        assert_eq!(text(4006381333931.0), "4006381333931");
        assert_eq!(text(12.2_f64 + 0.1_f64), "12.3");
        assert_eq!(text(0.1_f64 + 0.2_f64), "0.3");
        assert_eq!(text(-0.0), "0");
        assert_eq!(text(1e20), "100000000000000000000");
        assert_eq!(text(0.000001), "0.000001");
        assert_eq!(text(-1234.56), "-1234.56");
        assert_eq!(text(45366.520833333336), "45366.5208333333");
        assert_eq!(text(0.1234567890123456), "0.123456789012346");
    }

    #[test]
    fn shortest_numbers_are_those_rounded_to_15_digits() {
        // GIVEN doubles of every magnitude WHEN formatted THEN the fast path agrees with rounding
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..100_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let cents = (seed % 10_000_000_000) as f64 / 100.0;
            let scaled = cents / 10f64.powi((seed >> 40) as i32 % 12);
            for number in [cents, scaled, -scaled] {
                let mut fast = String::new();
                number_text(number, &mut fast);
                let rounded: f64 = format!("{number:.14e}").parse().unwrap();
                assert_eq!(fast.parse::<f64>().unwrap(), rounded, "{number:?} → {fast}");
            }
        }
    }

    #[test]
    fn every_error_has_a_distinct_code() {
        // GIVEN one error of each kind
        let errors = [
            FileError::Empty,
            FileError::NotCsvOrXlsx,
            FileError::NoHeader { header_row: 0 },
            FileError::RecordTooLong { row: 1, limit: 1 },
            FileError::TooManyColumns { row: 1, limit: 1 },
            FileError::TooManyCells { limit: 1 },
            FileError::XlsxTooLarge { limit: 1 },
            FileError::BadXlsx(String::new()),
            FileError::NoSheet(String::new()),
            FileError::Csv {
                row: 1,
                reason: String::new(),
            },
            FileError::Io(io::Error::other("disk")),
        ];
        // WHEN their codes are listed
        let codes: std::collections::BTreeSet<&str> = errors.iter().map(FileError::code).collect();
        // THEN no two share one, and only Io is retryable
        assert_eq!(codes.len(), errors.len());
        let retryable: Vec<&str> = errors
            .iter()
            .filter(|e| e.is_retryable())
            .map(FileError::code)
            .collect();
        assert_eq!(retryable, vec!["file_io"]);
    }

    /// Deterministic pseudo-random bytes (xorshift64), so a failing case can be replayed.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    #[test]
    fn no_file_makes_the_reader_panic() {
        // GIVEN 200 files: random bytes, random bytes behind the zip magic, random text made of
        // CSV's special characters, and a real workbook with bytes flipped or cut off
        let dir = tempfile::tempdir().unwrap();
        let workbook = std::fs::read(workbook(&dir)).unwrap();
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let alphabet = b"ab1 ,;\t|\"\r\n\xe9\xc3\xa9\xef\xbb\xbf";
        let options = ReadOptions {
            limits: ReadLimits {
                max_record_bytes: 256,
                max_xlsx_uncompressed_bytes: 1 << 20,
                ..ReadLimits::default()
            },
            ..ReadOptions::default()
        };
        for case in 0..200 {
            let len = rng.below(4096);
            let bytes = match case % 4 {
                0 => rng.bytes(len),
                1 => [ZIP_MAGIC, &rng.bytes(len)].concat(),
                2 => (0..len)
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect(),
                _ => {
                    let mut bytes = workbook.clone();
                    for _ in 0..=rng.below(8) {
                        let at = rng.below(bytes.len());
                        bytes[at] = rng.next() as u8;
                    }
                    bytes.truncate(rng.below(bytes.len()) + bytes.len() / 2);
                    bytes
                }
            };
            let path = file(&dir, &format!("case-{case}"), &bytes);
            // WHEN each is read
            let mut numbers = Vec::new();
            let result = read(
                File::open(&path).unwrap(),
                &options,
                |_| Ok(()),
                |row| {
                    numbers.push(row.number);
                    ControlFlow::Continue(())
                },
            );
            // THEN it returns, with rows in file order and counted right when it succeeds
            assert!(numbers.windows(2).all(|w| w[0] < w[1]), "case {case}");
            match result {
                Ok(summary) => assert_eq!(summary.rows, numbers.len() as u64, "case {case}"),
                Err(FileError::Io(error)) => {
                    panic!("case {case}: a bad file taken for I/O: {error}")
                }
                Err(_) => {}
            }
        }
    }
}
