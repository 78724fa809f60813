// Numbers, amounts and dates in the user's locale; amounts are EUR.

const locale = navigator.languages?.[0] || navigator.language || 'en';
const euro = new Intl.NumberFormat(locale, { style: 'currency', currency: 'EUR' });
const euroShort = new Intl.NumberFormat(locale, { style: 'currency', currency: 'EUR', notation: 'compact', maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat(locale);
const compact = new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 });
const oneDecimal = new Intl.NumberFormat(locale, { maximumFractionDigits: 1, minimumFractionDigits: 1, signDisplay: 'exceptZero' });
const monthName = new Intl.DateTimeFormat(locale, { month: 'short', year: 'numeric', timeZone: 'UTC' });
const stamp = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' });

const missing = '–';

export const money = (v) => (v == null ? missing : euro.format(Number(v)));
export const moneyShort = (v) => (v == null ? missing : euroShort.format(Number(v)));
export const count = (v) => (v == null ? missing : whole.format(Number(v)));
export const countShort = (v) => (v == null ? missing : compact.format(Number(v)));
export const percent = (v) => (v == null ? missing : `${oneDecimal.format(Number(v))} %`);
/** `2025-03` → `Mar 2025`. */
export const month = (m) => (m ? monthName.format(new Date(`${m}-01T00:00:00Z`)) : missing);
export const dateTime = (s) => (s ? stamp.format(new Date(s)) : missing);
export function bytes(n) {
  if (n == null) return missing;
  const units = ['B', 'kB', 'MB', 'GB'];
  let value = Number(n);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: unit ? 1 : 0 }).format(value)} ${units[unit]}`;
}
export function duration(ms) {
  if (ms == null) return missing;
  return ms < 1000 ? `${whole.format(ms)} ms` : `${new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(ms / 1000)} s`;
}
