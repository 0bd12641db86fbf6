//! NHS numbers: ten digits, the last a Modulus 11 check digit.

use crate::error::{InvalidValue, echo, string_newtype};

fn parse(input: &str) -> Result<String, InvalidValue> {
    let compact: String = input.chars().filter(|c| *c != ' ' && *c != '-').collect();
    if compact.len() != 10 || !compact.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidValue::new(
            "nhs_number",
            format!("`{}` is not ten digits", echo(input)),
        ));
    }
    let digits: Vec<u32> = compact.bytes().map(|b| u32::from(b - b'0')).collect();
    let expected = check_digit(&digits[..9]).ok_or_else(|| {
        InvalidValue::new(
            "nhs_number",
            format!(
                "`{}` cannot be an NHS number: its first nine digits give no valid check digit",
                echo(input)
            ),
        )
    })?;
    if digits[9] != expected {
        return Err(InvalidValue::new(
            "nhs_number",
            format!("`{}` has a bad check digit (Modulus 11 gives {expected})", echo(input)),
        ));
    }
    Ok(compact)
}

/// The Modulus 11 check digit of the first nine digits, or `None` when the remainder makes the number invalid.
pub fn check_digit(first_nine: &[u32]) -> Option<u32> {
    let sum: u32 = first_nine.iter().zip((2..=10).rev()).map(|(d, w)| d * w).sum();
    match 11 - (sum % 11) {
        11 => Some(0),
        10 => None,
        d => Some(d),
    }
}

string_newtype!(
    /// A valid NHS number, stored as ten digits without spaces.
    NhsNumber,
    parse
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_demo_numbers_are_valid() {
        for n in [
            "9990001375",
            "9990002746",
            "9990004110",
            "9990005486",
            "9990006857",
            "9990008221",
            "9990009597",
            "9990012334",
            "9990013705",
        ] {
            assert!(NhsNumber::parse(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn spaces_are_allowed_and_dropped() {
        assert_eq!(NhsNumber::parse("999 000 1375").unwrap().as_str(), "9990001375");
    }

    #[test]
    fn a_bad_check_digit_is_named() {
        let err = NhsNumber::parse("9990001376").unwrap_err();
        assert_eq!(err.field(), "nhs_number");
        assert!(err.to_string().contains("bad check digit"), "{err}");
    }

    #[test]
    fn wrong_shapes_are_refused() {
        for bad in ["", "123", "99900013750", "999000137a", "abcdefghij"] {
            assert!(NhsNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn remainder_one_has_no_valid_check_digit() {
        // 1*10 = 10, 10 % 11 = 10, 11 - 10 = 1 -> digit 1 valid; find a prefix that gives check 10.
        // 000000002: 2*2 = 4 -> 11 - 4 = 7. 000000010: 1*3=3 -> 8. 100000000: 10 -> 1. 000000001: 2 -> 9.
        // 000000005: 10 -> 11-10 = 1. 000000000 -> 11 -> 0. 010000000: 9 -> 2. 000000100: 4 -> 7.
        // 000000006: 12 % 11 = 1 -> 10: invalid.
        assert_eq!(check_digit(&[0, 0, 0, 0, 0, 0, 0, 0, 6]), None);
        for last in 0..10 {
            assert!(NhsNumber::parse(&format!("000000006{last}")).is_err());
        }
    }

    proptest! {
        #[test]
        fn exactly_one_check_digit_is_accepted(prefix in proptest::collection::vec(0u32..10, 9)) {
            let accepted: Vec<u32> = (0..10)
                .filter(|d| {
                    let s: String = prefix.iter().chain(std::iter::once(d)).map(|d| char::from_digit(*d, 10).unwrap()).collect();
                    NhsNumber::parse(&s).is_ok()
                })
                .collect();
            prop_assert!(accepted.len() <= 1);
            prop_assert_eq!(accepted.first().copied(), check_digit(&prefix));
        }
    }
}
