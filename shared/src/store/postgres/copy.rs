//! Rows in PostgreSQL's binary COPY format, written straight into a byte buffer.
//!
//! The upload processor encodes every raw row of a file here, on its reading thread, and hands
//! the loader whole buffers to send. `tokio_postgres::binary_copy` does the same through a
//! `dyn ToSql` per field, a `Vec` per numeric and a flush every 4 KB: at a million rows that was
//! a third of the processor's CPU. The caller writes the fields in the order and of the types of
//! its `COPY … (columns) FROM STDIN BINARY` statement; the server checks each field's length
//! against its column's type.

use bytes::{BufMut, BytesMut};
use chrono::{Datelike as _, NaiveDate};
use rust_decimal::Decimal;
use uuid::Uuid;

/// What a binary COPY stream starts with: the signature, no flags, no header extension.
pub const HEADER: &[u8; 19] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// What it ends with: a field count of -1.
pub const TRAILER: &[u8; 2] = &(-1i16).to_be_bytes();

/// Encoded rows worth handing the connection at once: per-message costs vanish, and memory
/// stays a few chunks whatever the size of the load.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Starts a row of `fields` fields in `buf`; write exactly that many.
pub fn row(buf: &mut BytesMut, fields: i16) -> Row<'_> {
    buf.put_i16(fields);
    Row { buf }
}

/// One row being written.
pub struct Row<'a> {
    buf: &'a mut BytesMut,
}

impl Row<'_> {
    pub fn null(&mut self) -> &mut Self {
        self.buf.put_i32(-1);
        self
    }

    pub fn int2(&mut self, value: i16) -> &mut Self {
        self.buf.put_i32(2);
        self.buf.put_i16(value);
        self
    }

    pub fn int4(&mut self, value: i32) -> &mut Self {
        self.buf.put_i32(4);
        self.buf.put_i32(value);
        self
    }

    pub fn int8(&mut self, value: i64) -> &mut Self {
        self.buf.put_i32(8);
        self.buf.put_i64(value);
        self
    }

    pub fn uuid(&mut self, value: &Uuid) -> &mut Self {
        self.buf.put_i32(16);
        self.buf.put_slice(value.as_bytes());
        self
    }

    /// `text`, `varchar` or `bpchar` (NULL for `None`).
    pub fn text(&mut self, value: Option<&str>) -> &mut Self {
        let Some(value) = value else {
            return self.null();
        };
        match i32::try_from(value.len()) {
            Ok(len) => {
                self.buf.put_i32(len);
                self.buf.put_slice(value.as_bytes());
            }
            // Over 2 GB: longer than any field a file can hold (and than the server takes).
            Err(_) => self.buf.put_i32(-1),
        }
        self
    }

    /// `date`: days since 2000-01-01.
    pub fn date(&mut self, value: NaiveDate) -> &mut Self {
        /// `NaiveDate::num_days_from_ce` of 2000-01-01.
        const EPOCH_FROM_CE: i32 = 730_120;
        self.int4(value.num_days_from_ce() - EPOCH_FROM_CE)
    }

    /// `numeric` (NULL for `None`), in the form `rust_decimal`'s `ToSql` writes.
    pub fn numeric(&mut self, value: Option<Decimal>) -> &mut Self {
        let Some(value) = value else {
            return self.null();
        };
        let (digits, len, weight, scale) = numeric_digits(value);
        let len16 = u16::try_from(len).unwrap_or(0);
        self.buf.put_i32(8 + 2 * i32::from(len16));
        self.buf.put_u16(len16);
        self.buf.put_i16(weight);
        self.buf.put_u16(if value.is_sign_negative() && len > 0 {
            0x4000
        } else {
            0
        });
        self.buf.put_u16(scale);
        for digit in &digits[..len] {
            self.buf.put_u16(*digit);
        }
        self
    }
}

/// A decimal's base-10000 digits (most significant first, in the first `len`), the weight of the
/// first and the display scale. A decimal's mantissa is under 2^96 (< 10^29): eight groups.
fn numeric_digits(value: Decimal) -> ([u16; 8], usize, i16, u16) {
    let mut digits = [0u16; 8];
    if value.is_zero() {
        return (digits, 0, 0, 0);
    }
    let scale = u16::try_from(value.scale()).unwrap_or(0);
    // Align the decimal point with a group boundary.
    let mut mantissa = value.mantissa().unsigned_abs();
    if scale % 4 != 0 {
        mantissa *= 10u128.pow(u32::from(4 - scale % 4));
    }
    // Groups least significant first, in u64 arithmetic while the rest fits.
    let mut len = 0;
    while mantissa > u128::from(u64::MAX) {
        digits[len] = (mantissa % 10_000) as u16;
        mantissa /= 10_000;
        len += 1;
    }
    let mut rest = mantissa as u64;
    while rest > 0 {
        digits[len] = (rest % 10_000) as u16;
        rest /= 10_000;
        len += 1;
    }
    digits[..len].reverse();
    let fraction_groups = scale.div_ceil(4) as usize;
    let weight = len as i16 - fraction_groups as i16 - 1;
    // Zero groups after the decimal point are dropped (a value under 1 keeps them).
    if weight >= 0 {
        let integer_groups = (weight + 1) as usize;
        while len > integer_groups && digits[len - 1] == 0 {
            len -= 1;
        }
    }
    (digits, len, weight, scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::types::{ToSql, Type};

    fn encoded(value: Decimal) -> Vec<u8> {
        let mut buf = BytesMut::new();
        row(&mut buf, 1).numeric(Some(value));
        buf[2..].to_vec()
    }

    fn reference(value: Decimal) -> Vec<u8> {
        let mut body = BytesMut::new();
        value.to_sql(&Type::NUMERIC, &mut body).unwrap();
        let mut out = (body.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn numerics_are_written_as_rust_decimal_writes_them() {
        // GIVEN decimals of every scale, sign and size, including the extremes
        let mut values = vec![
            Decimal::ZERO,
            Decimal::new(0, 2),
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(1, 28),
            Decimal::new(-1, 28),
            Decimal::new(10_000, 0),
            Decimal::new(100_000_000, 4),
            Decimal::new(12_345_678, 2),
            Decimal::new(-5, 1),
            Decimal::new(50, 2),
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mantissa = i64::try_from(seed >> (4 + seed % 60)).unwrap() - (1 << 20);
            values.push(Decimal::new(mantissa, (seed % 15) as u32));
        }
        // WHEN encoded THEN each is byte for byte what the driver's ToSql writes
        for value in values {
            assert_eq!(encoded(value), reference(value), "{value}");
        }
    }

    #[test]
    fn rows_carry_their_field_count_and_each_field_its_length() {
        let mut buf = BytesMut::new();
        let id = Uuid::from_u128(7);
        row(&mut buf, 5)
            .uuid(&id)
            .int4(-2)
            .text(Some("é"))
            .text(None)
            .date(NaiveDate::from_ymd_opt(2000, 1, 2).unwrap());
        let mut expected = vec![0, 5, 0, 0, 0, 16];
        expected.extend_from_slice(id.as_bytes());
        expected.extend_from_slice(&[0, 0, 0, 4, 255, 255, 255, 254]);
        expected.extend_from_slice(&[0, 0, 0, 2, 0xc3, 0xa9]);
        expected.extend_from_slice(&[255, 255, 255, 255]);
        expected.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 1]);
        assert_eq!(&buf[..], &expected[..]);
    }
}
