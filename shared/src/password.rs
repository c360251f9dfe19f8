//! Strong random passwords from the operating system's CSPRNG-seeded thread generator.

use rand::RngExt;

use crate::secrets::SecretValue;

/// Unambiguous letters and digits plus a few URL-safe symbols: 32 characters ≈ 190 bits.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.~";
pub const PASSWORD_LENGTH: usize = 32;

pub fn generate_password() -> SecretValue {
    let mut rng = rand::rng();
    let value: String = (0..PASSWORD_LENGTH)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    SecretValue::new(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_varied_and_unique() {
        let a = generate_password();
        let b = generate_password();
        assert_eq!(a.expose().len(), PASSWORD_LENGTH);
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().chars().all(|c| ALPHABET.contains(&(c as u8))));
    }
}
