use time::macros::format_description;
use time::OffsetDateTime;

/// `2026-11-28 21:34 UTC`, the same on the server and in the browser (so hydration matches).
pub fn format_time(unix_ms: i64) -> String {
    let Ok(at) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000) else {
        return String::new();
    };
    at.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_utc_minutes() {
        assert_eq!(
            super::format_time(1_795_901_640_000),
            "2026-11-28 21:34 UTC"
        );
        assert_eq!(super::format_time(0), "1970-01-01 00:00 UTC");
    }
}
