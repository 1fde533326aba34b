//! Small value types of the configuration file: durations (`6h`), fractions (`10%`) and
//! byte sizes (`256 MiB`), each parsed from the friendly form a person writes.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A duration written as a number and a unit: `90s`, `30m`, `6h`, `1d`, or combined `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// Parses `6h`, `30m`, `1h30m`, `45s`, `2d`. A bare number is refused, so a unit is never
    /// guessed.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty duration; write e.g. `6h`, `30m` or `1d`".to_owned());
        }
        let mut total: u64 = 0;
        let mut number = String::new();
        for ch in text.chars() {
            if ch.is_ascii_digit() {
                number.push(ch);
                continue;
            }
            let unit = match ch {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                ' ' if number.is_empty() => continue,
                _ => {
                    return Err(format!(
                        "`{text}` is not a duration; write a number and a unit (s, m, h, d), e.g. `6h`"
                    ));
                }
            };
            if number.is_empty() {
                return Err(format!(
                    "`{text}` is not a duration; a unit needs a number before it"
                ));
            }
            let value: u64 = number
                .parse()
                .map_err(|_| format!("`{text}` is too large a duration"))?;
            total = value
                .checked_mul(unit)
                .and_then(|secs| total.checked_add(secs))
                .ok_or_else(|| format!("`{text}` is too large a duration"))?;
            number.clear();
        }
        if !number.is_empty() {
            return Err(format!(
                "`{text}` has no unit; write e.g. `{number}s`, `{number}m` or `{number}h`"
            ));
        }
        Ok(Self(Duration::from_secs(total)))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        if secs == 0 {
            return f.write_str("0s");
        }
        let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
        for (value, unit) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
            if value > 0 {
                write!(f, "{value}{unit}")?;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(de::Error::custom)
    }
}

/// A fraction written as a percentage (`10%`) or a plain fraction (`0.1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fraction(pub f64);

impl Fraction {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let value = if let Some(percent) = text.strip_suffix('%') {
            percent
                .trim()
                .parse::<f64>()
                .map(|p| p / 100.0)
                .map_err(|_| format!("`{text}` is not a percentage; write e.g. `10%`"))?
        } else {
            text.parse::<f64>()
                .map_err(|_| format!("`{text}` is not a percentage; write e.g. `10%`"))?
        };
        Self::checked(value)
    }

    fn checked(value: f64) -> Result<Self, String> {
        if !(0.0..=0.5).contains(&value) || value.is_nan() {
            return Err(format!(
                "{}% is out of range; jitter must be between 0% and 50%",
                value * 100.0
            ));
        }
        Ok(Self(value))
    }
}

impl<'de> Deserialize<'de> for Fraction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FractionVisitor;
        impl Visitor<'_> for FractionVisitor {
            type Value = Fraction;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a percentage such as `10%`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Fraction, E> {
                Fraction::parse(v).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Fraction, E> {
                Fraction::checked(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Fraction, E> {
                Fraction::checked(v as f64).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Fraction, E> {
                Fraction::checked(v as f64).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(FractionVisitor)
    }
}

/// A size in bytes: a plain number, or a number with a unit (`KiB`, `MiB`, `GiB`, `KB`,
/// `MB`, `GB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: u64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a size; write e.g. `256 MiB`"))?;
        let factor: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "KB" | "kB" => 1000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            other => {
                return Err(format!(
                    "unknown size unit `{other}`; use B, KiB, MiB, GiB, KB, MB or GB"
                ));
            }
        };
        number
            .checked_mul(factor)
            .map(Self)
            .ok_or_else(|| format!("`{text}` is too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;
        impl Visitor<'_> for SizeVisitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as `256 MiB` or a number of bytes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
        }
        deserializer.deserialize_any(SizeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let check = |text: &str, expected: Result<u64, &str>| {
            let got = HumanDuration::parse(text).map(|d| d.0.as_secs());
            match expected {
                Ok(secs) => assert_eq!(got, Ok(secs), "{text}"),
                Err(fragment) => {
                    let err = got.expect_err(text);
                    assert!(err.contains(fragment), "{text}: {err}");
                }
            }
        };
        check("6h", Ok(6 * 3600));
        check("1h30m", Ok(5400));
        check("45s", Ok(45));
        check("2d", Ok(172_800));
        check("10", Err("has no unit"));
        check("h", Err("needs a number"));
        check("6x", Err("not a duration"));
        check("", Err("empty"));
        assert_eq!(
            HumanDuration(Duration::from_secs(5400)).to_string(),
            "1h30m"
        );
    }

    #[test]
    fn fractions_and_sizes() {
        assert_eq!(Fraction::parse("10%"), Ok(Fraction(0.1)));
        assert_eq!(Fraction::parse("0.25"), Ok(Fraction(0.25)));
        assert!(
            Fraction::parse("60%")
                .unwrap_err()
                .contains("between 0% and 50%")
        );
        assert_eq!(ByteSize::parse("256 MiB"), Ok(ByteSize(256 << 20)));
        assert_eq!(ByteSize::parse("1000"), Ok(ByteSize(1000)));
        assert!(
            ByteSize::parse("5 PB")
                .unwrap_err()
                .contains("unknown size unit")
        );
    }
}
