//! The JSON line's timestamp, as tracing-subscriber's `SystemTime` writes it: RFC 3339 in UTC
//! with microseconds. The date and time of day change once a second; formatting them for every
//! line (six padded numbers through `write!`) cost a sixth of a decision's line, so each thread
//! keeps the text of the last second it wrote.

use std::cell::RefCell;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

thread_local! {
    /// The last second this thread wrote, and its text.
    static LAST: RefCell<(Option<u64>, String)> = const { RefCell::new((None, String::new())) };
}

/// Writes the time now.
pub fn write_now(w: &mut Writer<'_>) -> fmt::Result {
    if let Ok(d) = SystemTime::now().duration_since(UNIX_EPOCH)
        && let Some(written) = with_second(d.as_secs(), |text| write(w, text, d.subsec_micros()))
    {
        return written;
    }
    // Before 1970 or after 9999: tracing-subscriber's own form, uncached.
    tracing_subscriber::fmt::time::SystemTime.format_time(w)
}

/// `f` of the text of the second `secs` after the epoch, formatted only when this thread's last
/// second was another; `None` outside the years 0000–9999.
fn with_second<R>(secs: u64, f: impl FnOnce(&str) -> R) -> Option<R> {
    LAST.with_borrow_mut(|(at, text)| {
        if *at != Some(secs) {
            *text = second(secs)?;
            *at = Some(secs);
        }
        Some(f(text))
    })
}

/// Writes `second`'s text and `micros` into it, the six digits without `write!`.
fn write(w: &mut impl fmt::Write, second: &str, micros: u32) -> fmt::Result {
    w.write_str(second)?;
    let mut digits = [b'0'; 6];
    let mut rest = micros.min(999_999);
    for d in digits.iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    w.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)?;
    w.write_char('Z')
}

/// `YYYY-MM-DDTHH:MM:SS.` of `secs` after the epoch; `None` outside the years 0000–9999, which
/// tracing-subscriber writes in other widths. Once a second: `format!` is fine here.
fn second(secs: u64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).ok()?).ok()?;
    let year = Some(t.year()).filter(|y| (0..=9999).contains(y))?;
    Some(format!(
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}.",
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

#[cfg(test)]
mod tests {
    use super::{second, with_second, write};

    fn stamp(secs: u64, micros: u32) -> String {
        let mut out = String::new();
        with_second(secs, |text| write(&mut out, text, micros))
            .expect("a second in 0000-9999")
            .expect("written");
        out
    }

    #[test]
    fn writes_rfc_3339_with_microseconds_in_utc() {
        assert_eq!(stamp(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(stamp(951_782_400, 7), "2000-02-29T00:00:00.000007Z");
        assert_eq!(stamp(1_709_251_199, 999_999), "2024-02-29T23:59:59.999999Z");
        assert_eq!(stamp(1_709_251_199, 120_000), "2024-02-29T23:59:59.120000Z");
        assert_eq!(stamp(951_782_400, 7), "2000-02-29T00:00:00.000007Z");
        assert_eq!(stamp(253_402_300_799, 1), "9999-12-31T23:59:59.000001Z");
        assert_eq!(second(253_402_300_800), None, "the year 10000");
    }

    #[test]
    fn now_reads_as_tracing_subscribers_now() {
        use tracing_subscriber::fmt::format::Writer;
        use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
        let shape = |s: &str| {
            s.bytes()
                .map(|b| if b.is_ascii_digit() { b'9' } else { b })
                .collect::<Vec<u8>>()
        };
        // The same minute, unless it turned between the two calls: then again.
        let same_minute = (0..3).any(|_| {
            let (mut ours, mut theirs) = (String::new(), String::new());
            super::write_now(&mut Writer::new(&mut ours)).expect("ours");
            SystemTime
                .format_time(&mut Writer::new(&mut theirs))
                .expect("theirs");
            assert_eq!(shape(&ours), shape(&theirs), "{ours} / {theirs}");
            ours.get(..16) == theirs.get(..16)
        });
        assert!(same_minute);
    }
}
