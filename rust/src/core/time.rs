//! Time: RFC 7519 NumericDates and the clock. Every time-dependent call takes `now` so tests
//! pass time in; the system clock is only the default.

use std::time::{SystemTime, UNIX_EPOCH};

use super::error::Error;
use super::json::Value;

/// Latest NumericDate accepted: 9999-12-31T23:59:59Z.
pub const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

/// The NumericDate a claim value holds: a finite JSON number from 0 to [`MAX_NUMERIC_DATE`].
/// Strings, booleans and null are refused, unlike PyJWT, which passes numeric strings to `int()`.
#[must_use]
pub fn numeric_date(value: &Value<'_>) -> Option<f64> {
    match *value {
        Value::Num(v) if (0.0..=MAX_NUMERIC_DATE).contains(&v) => Some(v),
        _ => None,
    }
}

/// Seconds since the epoch, from the system clock.
#[must_use]
pub fn system_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Checks a caller's `now`.
pub fn check_now(now: f64) -> Result<f64, Error> {
    if now.is_finite() {
        Ok(now)
    } else {
        Err(Error::Value(format!(
            "now must be a finite number of seconds, not {now}"
        )))
    }
}

/// `floor(v)` of a NumericDate, which fits an `i64` by its range.
#[must_use]
#[allow(clippy::cast_possible_truncation)] // 0 <= v <= MAX_NUMERIC_DATE
pub fn floor_seconds(v: f64) -> i64 {
    v.floor() as i64
}
