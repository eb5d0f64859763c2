//! Resource quantities (`100m`, `1Gi`, `1.5`) as kube-apiserver reads and writes them:
//! parsed by the grammar of k8s.io/apimachinery/pkg/api/resource, and written back in
//! canonical form (the largest suffix that keeps the number whole: `1024Ki` is `1Mi`,
//! `1.5` is `1500m`, precision beyond milli rounded up).

/// A parsed quantity: `mantissa × 10^exp10 × 2^(10·bin)`, with the suffix family it used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    mantissa: i128,
    exp10: i32,
    bin: u32,
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    BinarySI,
    DecimalSI,
    DecimalExponent,
}

/// The message kube-apiserver gives for a string that is not a quantity.
pub const SYNTAX: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

impl Quantity {
    /// Parses `s`; `Err` with kube-apiserver's message when it is not a quantity.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (negative, rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(num_end);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(SYNTAX.into());
        }
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 30 {
            return Err("quantity is too large".into());
        }
        let mut mantissa: i128 =
            if digits.is_empty() { 0 } else { digits.parse().map_err(|_| SYNTAX)? };
        if negative {
            mantissa = -mantissa;
        }
        let mut exp10 = -(frac_part.len() as i32);
        let (format, bin) = match suffix {
            "" => (Format::DecimalSI, 0),
            "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {
                let k = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
                    .iter()
                    .position(|x| *x == suffix)
                    .unwrap_or(0);
                (Format::BinarySI, k as u32 + 1)
            }
            "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => {
                let e = match suffix {
                    "n" => -9,
                    "u" => -6,
                    "m" => -3,
                    "k" => 3,
                    "M" => 6,
                    "G" => 9,
                    "T" => 12,
                    "P" => 15,
                    _ => 18,
                };
                exp10 += e;
                (Format::DecimalSI, 0)
            }
            _ if suffix.starts_with(['e', 'E']) => {
                let e: i32 = suffix[1..].parse().map_err(|_| SYNTAX)?;
                if !(-1000..=1000).contains(&e) {
                    return Err("quantity is too large".into());
                }
                exp10 += e;
                (Format::DecimalExponent, 0)
            }
            _ => return Err(SYNTAX.into()),
        };
        if !suffix.is_empty() && !suffix.chars().all(|c| "eEinumkKMGTP-+0123456789".contains(c)) {
            return Err(SYNTAX.into());
        }
        Ok(Quantity { mantissa, exp10, bin, format })
    }

    /// The value in units of 10^-3 (milli), rounded up away from zero; `None` on overflow.
    pub fn milli(&self) -> Option<i128> {
        let (m, e) = self.decimal()?;
        let shift = e + 3;
        if shift >= 0 {
            m.checked_mul(10i128.checked_pow(shift as u32)?)
        } else {
            let d = 10i128.checked_pow((-shift) as u32)?;
            Some(div_away(m, d))
        }
    }

    /// `mantissa × 10^exp` with the binary factor folded in.
    fn decimal(&self) -> Option<(i128, i32)> {
        let m = self.mantissa.checked_mul(1i128.checked_shl(10 * self.bin)?)?;
        Some((m, self.exp10))
    }

    /// The canonical string kube-apiserver writes back.
    pub fn canonical(&self) -> String {
        let Some((mut m, mut e)) = self.decimal() else { return "0".into() };
        if e < -3 {
            let d = 10i128.checked_pow((-3 - e) as u32).unwrap_or(i128::MAX);
            m = div_away(m, d);
            e = -3;
        }
        if m == 0 {
            return "0".into();
        }
        if self.format == Format::BinarySI
            && let Some(v) = whole(m, e)
            && v.abs() >= 1024
        {
            let mut k = 0;
            let mut v = v;
            while k < 6 && v % 1024 == 0 {
                v /= 1024;
                k += 1;
            }
            return format!("{v}{}", ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k]);
        }
        while m % 10 == 0 {
            m /= 10;
            e += 1;
        }
        let mut e3 = e.div_euclid(3) * 3;
        if self.format != Format::DecimalExponent {
            e3 = e3.clamp(-3, 18);
        }
        let Some(m) = 10i128.checked_pow((e - e3) as u32).and_then(|p| m.checked_mul(p)) else {
            return format!("{m}e{e}");
        };
        let suffix = match self.format {
            Format::DecimalExponent if e3 == 0 => String::new(),
            Format::DecimalExponent => format!("e{e3}"),
            _ => match e3 {
                -3 => "m",
                0 => "",
                3 => "k",
                6 => "M",
                9 => "G",
                12 => "T",
                15 => "P",
                _ => "E",
            }
            .to_string(),
        };
        format!("{m}{suffix}")
    }
}

fn whole(m: i128, e: i32) -> Option<i128> {
    if e >= 0 {
        m.checked_mul(10i128.checked_pow(e as u32)?)
    } else {
        let d = 10i128.checked_pow((-e) as u32)?;
        (m % d == 0).then_some(m / d)
    }
}

fn div_away(m: i128, d: i128) -> i128 {
    let q = m / d;
    if m % d == 0 { q } else { q + m.signum() }
}

#[cfg(test)]
mod tests {
    use super::Quantity;

    #[test]
    fn canonical_forms_follow_apimachinery() {
        for (given, want) in [
            ("100m", "100m"),
            ("0.1", "100m"),
            ("1.5", "1500m"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("256Mi", "256Mi"),
            ("1024Ki", "1Mi"),
            ("1.5Gi", "1536Mi"),
            ("512", "512"),
            ("0.5Ki", "512"),
            ("100Gi", "100Gi"),
            ("1e3", "1e3"),
            ("0.0001", "1m"),
            ("-1", "-1"),
            ("0", "0"),
            ("10Mi", "10Mi"),
            ("2000m", "2"),
        ] {
            assert_eq!(Quantity::parse(given).unwrap().canonical(), want, "{given}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_quantity() {
        for bad in ["", "abc", "1x", "1..2", "Mi", "1Mii", "--1"] {
            assert!(Quantity::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn milli_values_compare() {
        let q = |s| Quantity::parse(s).unwrap().milli().unwrap();
        assert_eq!(q("1"), 1000);
        assert_eq!(q("100m"), 100);
        assert_eq!(q("1Ki"), 1_024_000);
        assert!(q("2") > q("1500m"));
    }
}
