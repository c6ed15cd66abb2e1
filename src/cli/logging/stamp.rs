//! The JSON line's timestamp, as tracing-subscriber's `SystemTime` writes it: RFC 3339 in UTC
//! with microseconds. The date and time of day change once a second; formatting them for every
//! line (six padded numbers through `write!`) cost a sixth of a decision's line, so each thread
//! keeps the text of the last second it wrote.

use std::cell::Cell;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// `YYYY-MM-DDTHH:MM:SS.`
const SECOND_LEN: usize = 20;

type Second = [u8; SECOND_LEN];

thread_local! {
    static LAST: Cell<Option<(u64, Second)>> = const { Cell::new(None) };
}

/// Writes the time now.
pub fn write_now(w: &mut Writer<'_>) -> fmt::Result {
    if let Ok(d) = SystemTime::now().duration_since(UNIX_EPOCH)
        && let Some(text) = cached_second(d.as_secs())
    {
        return write(w, &text, d.subsec_micros());
    }
    // Before 1970 or after 9999: tracing-subscriber's own form, uncached.
    tracing_subscriber::fmt::time::SystemTime.format_time(w)
}

/// The text of the second `secs` after the epoch: this thread's last one when it is the same.
fn cached_second(secs: u64) -> Option<Second> {
    LAST.with(|last| match last.get() {
        Some((at, text)) if at == secs => Some(text),
        _ => {
            let text = second(secs)?;
            last.set(Some((secs, text)));
            Some(text)
        }
    })
}

/// Writes `second`'s text and `micros` into it.
fn write(w: &mut impl fmt::Write, second: &Second, micros: u32) -> fmt::Result {
    w.write_str(std::str::from_utf8(second).map_err(|_| fmt::Error)?)?;
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
/// tracing-subscriber writes in other widths.
fn second(secs: u64) -> Option<Second> {
    let t = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).ok()?).ok()?;
    let year = u16::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let mut out = [0u8; SECOND_LEN];
    let mut at = 0;
    let mut put = |value: u16, width: usize, then: u8| {
        let mut rest = value;
        for d in out[at..at + width].iter_mut().rev() {
            *d = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        out[at + width] = then;
        at += width + 1;
    };
    put(year, 4, b'-');
    put(u16::from(u8::from(t.month())), 2, b'-');
    put(u16::from(t.day()), 2, b'T');
    put(u16::from(t.hour()), 2, b':');
    put(u16::from(t.minute()), 2, b':');
    put(u16::from(t.second()), 2, b'.');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{cached_second, second, write};

    fn stamp(secs: u64, micros: u32) -> String {
        let mut out = String::new();
        let text = cached_second(secs).expect("a second in 0000-9999");
        write(&mut out, &text, micros).expect("written");
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
