//! Go `time.Duration` text: parsing (`1h30m`, `1.5s`, `300ms`) and Go's `String()` form
//! (`1h30m0s`, `1.5s`, `300ms`, `0s`), which the reference writes into env vars and
//! pruner arguments.

/// Parses a Go duration string into nanoseconds.
pub fn parse(s: &str) -> Result<i64, String> {
    let err = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {s:?}"))?;
        let (num, tail) = rest.split_at(num_len);
        if num.is_empty() || num == "." {
            return Err(err());
        }
        let value: f64 = num.parse().map_err(|_| err())?;
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            _ => return Err(format!("time: unknown unit {unit:?} in duration {s:?}")),
        };
        total += value * scale;
        rest = next;
    }
    if total > i64::MAX as f64 {
        return Err(err());
    }
    let ns = total.round() as i64;
    Ok(if neg { -ns } else { ns })
}

/// Formats nanoseconds the way Go's `Duration.String` does.
pub fn format(ns: i64) -> String {
    if ns == 0 {
        return "0s".to_string();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // Sub-second: a single unit with a fraction.
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&fraction(u, div));
        out.push_str(unit);
    } else {
        let hours = u / 3_600_000_000_000;
        let minutes = (u / 60_000_000_000) % 60;
        let secs_ns = u % 60_000_000_000;
        if hours > 0 {
            out.push_str(&format!("{hours}h"));
        }
        if hours > 0 || minutes > 0 {
            out.push_str(&format!("{minutes}m"));
        }
        out.push_str(&fraction(secs_ns, 1_000_000_000));
        out.push('s');
    }
    if neg { format!("-{out}") } else { out }
}

/// `v / div` with the fraction's trailing zeros removed.
fn fraction(v: u64, div: u64) -> String {
    let whole = v / div;
    let rem = v % div;
    if rem == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let frac = format!("{rem:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// Parses and re-formats: `60m` becomes `1h0m0s`.
pub fn normalize(s: &str) -> Result<String, String> {
    parse(s).map(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (3_000_000_000, "3s"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (6 * 3_600_000_000_000, "6h0m0s"),
            (5_400_000_000_000, "1h30m0s"),
            (-3_000_000_000, "-3s"),
            (90_061_000_000_000, "25h1m1s"),
        ];
        for (ns, want) in cases {
            assert_eq!(format(ns), want, "{ns}");
        }
    }

    #[test]
    fn parses_like_go() {
        let cases = [
            ("0", 0),
            ("3s", 3_000_000_000),
            ("1.5h", 5_400_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("300ms", 300_000_000),
            ("2us", 2_000),
            ("2µs", 2_000),
            ("10ns", 10),
            ("-1m", -60_000_000_000),
            ("60m", 3_600_000_000_000),
        ];
        for (s, want) in cases {
            assert_eq!(parse(s), Ok(want), "{s}");
        }
        for bad in ["", "5", "h", "1x", "1.2.3s", "--1s"] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
        assert_eq!(normalize("60m").unwrap(), "1h0m0s");
    }
}
