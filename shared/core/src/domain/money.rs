//! Money as integer minor units of a currency: never floating point.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("currency must be a three-letter ISO 4217 code")]
pub struct InvalidCurrency;

impl TryFrom<String> for Currency {
    type Error = InvalidCurrency;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value.len() == 3 && value.chars().all(|c| c.is_ascii_uppercase()) {
            Ok(Self(value))
        } else {
            Err(InvalidCurrency)
        }
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.0
    }
}

impl Currency {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An amount in minor units (KRW has none, so 30000 is ₩30,000).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    pub amount: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// The price of `count` units, or `None` on overflow.
    pub fn times(&self, count: u32) -> Option<Money> {
        self.amount
            .checked_mul(i64::from(count))
            .map(|amount| Money::new(amount, self.currency.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplies_in_minor_units() {
        let krw = Currency::try_from("KRW".to_owned()).expect("valid");
        assert_eq!(
            Money::new(30_000, krw.clone()).times(2),
            Some(Money::new(60_000, krw.clone()))
        );
        assert_eq!(Money::new(i64::MAX, krw).times(2), None);
    }

    #[test]
    fn currency_is_three_upper_letters() {
        assert!(Currency::try_from("krw".to_owned()).is_err());
        assert!(Currency::try_from("KRWW".to_owned()).is_err());
    }
}
