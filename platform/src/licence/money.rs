//! Prices and savings. Amounts are integer hundredths of the currency unit ("minor units");
//! a yearly price is turned into a monthly one only when a figure is shown, so nothing is
//! rounded before it is summed.

use std::collections::BTreeMap;

/// How often a price is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Month,
    Year,
}

impl Period {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "month" | "monthly" => Some(Self::Month),
            "year" | "yearly" | "annual" => Some(Self::Year),
            _ => None,
        }
    }
}

/// A price per seat an administrator set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    /// Hundredths of the currency unit.
    pub(crate) amount_minor: i64,
    /// ISO 4217 code, upper case.
    pub(crate) currency: String,
    pub(crate) period: Period,
}

impl Price {
    /// Checks an admin's input: a decimal amount (`12`, `12.5`, `12.50`; at most two
    /// decimals, at most 1,000,000,000), a three-letter currency, `month` or `year`.
    pub fn parse(amount: &str, currency: &str, period: &str) -> Result<Self, String> {
        let amount_minor = parse_amount(amount)?;
        let currency = currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "Currency {currency:?} is not a three-letter code: use e.g. EUR, USD or GBP."
            ));
        }
        let period = Period::parse(period).ok_or_else(|| {
            format!(
                "Period {:?} is not known: use month or year.",
                period.trim()
            )
        })?;
        Ok(Self {
            amount_minor,
            currency,
            period,
        })
    }

    /// The amount as decimal text, e.g. `12.50`.
    pub(crate) fn amount_text(&self) -> String {
        format!("{}.{:02}", self.amount_minor / 100, self.amount_minor % 100)
    }

    /// The monthly price in 1/1200 of the currency unit (exact for both periods).
    fn monthly_1200ths(&self) -> i128 {
        let amount = i128::from(self.amount_minor);
        match self.period {
            Period::Month => amount * 12,
            Period::Year => amount,
        }
    }

    /// The price per month, for display (rounded to cents).
    pub(crate) fn monthly(&self) -> f64 {
        round_cents(self.monthly_1200ths() as f64 / 1200.0)
    }

    /// `seats` times the monthly price, for display.
    pub(crate) fn monthly_for(&self, seats: u64) -> f64 {
        round_cents(self.monthly_1200ths() as f64 * seats as f64 / 1200.0)
    }
}

fn round_cents(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn parse_amount(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let bad = || {
        format!(
            "Amount {text:?} is not a price: write a number with at most two decimals, e.g. 12 or 7.50."
        )
    };
    let (units, cents) = match text.split_once('.') {
        Some((units, cents)) => (units, cents),
        None => (text, ""),
    };
    if units.is_empty()
        || !units.bytes().all(|b| b.is_ascii_digit())
        || cents.len() > 2
        || !cents.bytes().all(|b| b.is_ascii_digit())
        || units.len() > 10
    {
        return Err(bad());
    }
    let units: i64 = units.parse().map_err(|_| bad())?;
    let cents: i64 = format!("{cents:0<2}").parse().map_err(|_| bad())?;
    let minor = units * 100 + cents;
    if minor > 100_000_000_000 {
        return Err(format!(
            "Amount {text} is more than 1,000,000,000 per seat; check the figure."
        ));
    }
    Ok(minor)
}

/// Sums of money per currency, kept exact until shown.
#[derive(Debug, Clone, Default)]
pub(crate) struct Totals(BTreeMap<String, i128>);

impl Totals {
    /// Adds `seats` at `price` per month.
    pub(crate) fn add(&mut self, price: &Price, seats: u64) {
        *self.0.entry(price.currency.clone()).or_default() +=
            price.monthly_1200ths() * i128::from(seats);
    }

    /// Per currency, per month, rounded to cents.
    pub(crate) fn monthly(&self) -> BTreeMap<String, f64> {
        self.0
            .iter()
            .map(|(c, a)| (c.clone(), round_cents(*a as f64 / 1200.0)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_exactly_or_say_what_is_wrong() {
        type Case<'a> = (
            &'a str,
            &'a str,
            &'a str,
            Result<(i64, &'a str, &'a str), &'a str>,
        );
        let cases: &[Case<'_>] = &[
            ("12", "eur", "month", Ok((1200, "EUR", "month"))),
            ("7.5", "USD", "year", Ok((750, "USD", "year"))),
            (" 0.05 ", "GBP", "monthly", Ok((5, "GBP", "month"))),
            ("1.234", "EUR", "month", Err("at most two decimals")),
            ("-3", "EUR", "month", Err("not a price")),
            ("1e3", "EUR", "month", Err("not a price")),
            ("12", "EURO", "month", Err("three-letter")),
            ("12", "EUR", "week", Err("month or year")),
            ("1000000001", "EUR", "month", Err("more than")),
        ];
        for (amount, currency, period, expected) in cases {
            let got = Price::parse(amount, currency, period);
            match (got, expected) {
                (Ok(price), Ok((minor, cur, per))) => {
                    assert_eq!(
                        (
                            price.amount_minor,
                            price.currency.as_str(),
                            price.period.as_str()
                        ),
                        (*minor, *cur, *per)
                    );
                }
                (Err(error), Err(fragment)) => {
                    assert!(error.contains(fragment), "{amount}: {error}")
                }
                (got, expected) => panic!("{amount}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn savings_sum_per_currency_without_rounding_early() {
        let yearly = Price::parse("100", "EUR", "year").unwrap();
        let monthly = Price::parse("7.50", "EUR", "month").unwrap();
        let dollars = Price::parse("10", "USD", "month").unwrap();
        assert_eq!(yearly.monthly(), 8.33);
        assert_eq!(yearly.amount_text(), "100.00");
        let mut totals = Totals::default();
        totals.add(&yearly, 3); // 25.00
        totals.add(&monthly, 2); // 15.00
        totals.add(&dollars, 0);
        let monthly_totals = totals.monthly();
        assert_eq!(monthly_totals.get("EUR"), Some(&40.0));
        assert_eq!(monthly_totals.get("USD"), Some(&0.0));
    }
}
