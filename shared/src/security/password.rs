//! Passwords: argon2id hashing (OWASP parameters) and verification, a timing-equaliser for
//! unknown accounts, generated passwords, the policy for new ones, and the one source of
//! randomness every other module uses.
//!
//! Hashing costs tens of milliseconds of CPU by design: call it from `spawn_blocking` when other
//! work shares the runtime.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};

/// OWASP password storage cheat sheet, argon2id option 2: 19 MiB of memory, 2 passes, 1 lane.
pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;
/// Salt length in bytes (the argon2 crate's recommendation).
const SALT_LEN: usize = 16;

/// Stored hashes asking for more than this are refused rather than computed: a corrupted or
/// hostile row must not exhaust a Lambda's memory. Raise with the parameters above.
const MAX_STORED_M_COST_KIB: u32 = 65_536;
const MAX_STORED_T_COST: u32 = 8;
const MAX_STORED_P_COST: u32 = 4;

/// Length bounds for new passwords, in characters (Unicode scalar values).
pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 128;

/// Length of [`generate_password`]'s output.
pub const GENERATED_LEN: usize = 20;
/// No `0`/`O`, `1`/`l`/`I`: generated passwords are read off screens and e-mails.
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS: &[u8] = b"23456789";

/// Why a password could not be accepted or hashed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("a password must be at least {MIN_LEN} characters long")]
    TooShort,
    #[error("a password may be at most {MAX_LEN} characters long")]
    TooLong,
    #[error("a password may not be one character repeated")]
    Repetitive,
    #[error("password hashing failed")]
    Hash(#[source] argon2::password_hash::Error),
}

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    let params =
        Params::new(M_COST_KIB, T_COST, P_COST, None).map_err(|e| PasswordError::Hash(e.into()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with argon2id and a fresh random salt; returns the PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), which carries its own parameters.
pub fn hash_password(password: &SecretString) -> Result<String, PasswordError> {
    let salt = SaltString::encode_b64(&random_bytes::<SALT_LEN>()).map_err(PasswordError::Hash)?;
    let hash = hasher()?
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map_err(PasswordError::Hash)?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `phc`. False for a malformed hash, for any
/// algorithm but argon2id and for parameters above the stored-hash caps; never panics.
/// The comparison of outputs is constant-time.
pub fn verify_password(password: &SecretString, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        tracing::warn!("stored password hash is not a PHC string");
        return false;
    };
    if hash.algorithm != Algorithm::Argon2id.ident() {
        tracing::warn!(algorithm = %hash.algorithm, "stored password hash uses another algorithm");
        return false;
    }
    let Ok(params) = Params::try_from(&hash) else {
        tracing::warn!("stored password hash has invalid parameters");
        return false;
    };
    if params.m_cost() > MAX_STORED_M_COST_KIB
        || params.t_cost() > MAX_STORED_T_COST
        || params.p_cost() > MAX_STORED_P_COST
    {
        tracing::warn!("stored password hash asks for more than the allowed cost");
        return false;
    }
    // The parameters come from `hash`; the instance's own are not used for verification.
    Argon2::default()
        .verify_password(password.expose_secret().as_bytes(), &hash)
        .is_ok()
}

/// Spends what a [`verify_password`] against a real hash costs, and discards the answer: call it
/// when the account does not exist, so an unknown e-mail takes as long as a wrong password.
pub fn burn_verification(password: &SecretString) {
    if let Some(phc) = dummy_hash() {
        let _ = std::hint::black_box(verify_password(password, phc));
    }
}

/// [`verify_password`] against `hash`, or [`burn_verification`] when there is none (an unknown
/// account), on the blocking pool: argon2 is CPU-bound and must not stall the async worker.
pub async fn verify_off_thread(password: &SecretString, hash: Option<String>) -> bool {
    let password = SecretString::from(password.expose_secret().to_owned());
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_password(&password, &hash),
        None => {
            burn_verification(&password);
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password made by [`hash_password`]: same algorithm and parameters as every
/// stored hash, so verifying against it costs what a real verification costs.
fn dummy_hash() -> Option<&'static str> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    DUMMY
        .get_or_init(|| hash_password(&SecretString::from(random_token(16))).ok())
        .as_deref()
}

/// A random password of [`GENERATED_LEN`] characters from an unambiguous 57-symbol alphabet
/// (about 116 bits), with at least one lower-case letter, upper-case letter and digit. Uniform
/// over all such passwords: rejection sampling for each symbol, and whole passwords that miss a
/// class are drawn again (about 1 in 13 are).
pub fn generate_password() -> SecretString {
    let alphabet: Vec<u8> = [LOWER, UPPER, DIGITS].concat();
    // Largest multiple of the alphabet size that fits a byte: bytes at or above it are rejected.
    let limit = (256 / alphabet.len() * alphabet.len()) as u16;
    loop {
        // Exact capacity: the boxed str the secret takes over is this allocation, not a copy.
        let mut password = String::with_capacity(GENERATED_LEN);
        while password.len() < GENERATED_LEN {
            for byte in random_bytes::<32>() {
                if u16::from(byte) < limit && password.len() < GENERATED_LEN {
                    password.push(char::from(alphabet[usize::from(byte) % alphabet.len()]));
                }
            }
        }
        let has = |class: &[u8]| password.bytes().any(|b| class.contains(&b));
        if has(LOWER) && has(UPPER) && has(DIGITS) {
            return SecretString::from(password);
        }
    }
}

/// The policy for a password a person chooses (NIST SP 800-63B / OWASP: length is what counts,
/// composition rules are not imposed): 12 to 128 characters, the upper bound keeping hashing cost
/// bounded; any characters, including spaces; not a single character repeated. Passwords are
/// hashed byte for byte, without Unicode normalisation.
pub fn validate_new_password(password: &str) -> Result<(), PasswordError> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(PasswordError::TooShort);
    }
    if len > MAX_LEN {
        return Err(PasswordError::TooLong);
    }
    let mut chars = password.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return Err(PasswordError::Repetitive);
    }
    Ok(())
}

/// `N` bytes from the operating system's CSPRNG.
///
/// # Panics
/// If the OS generator fails. On Linux that is `getrandom(2)` before the kernel's pool is
/// initialised at boot, which a running Lambda is past; there is no safe fallback, so this is
/// treated as fatal rather than threaded through every caller.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    fill_random(&mut bytes);
    bytes
}

/// `bytes` random bytes as URL-safe base64 without padding (`4 * bytes / 3` characters, rounded
/// up): for identifiers, nonces and one-time tokens.
///
/// # Panics
/// As [`random_bytes`].
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    fill_random(&mut buf);
    URL_SAFE_NO_PAD.encode(&buf)
}

fn fill_random(buf: &mut [u8]) {
    if let Err(err) = getrandom::fill(buf) {
        panic!("the operating system's random number generator failed: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s)
    }

    #[test]
    fn a_hash_verifies_its_password_and_no_other() {
        // GIVEN a hashed password
        let phc = hash_password(&secret("correct horse battery staple")).unwrap();

        // THEN it is an argon2id PHC string with the OWASP parameters
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        // AND only the right password verifies
        assert!(verify_password(
            &secret("correct horse battery staple"),
            &phc
        ));
        assert!(!verify_password(
            &secret("correct horse battery stapl"),
            &phc
        ));
        assert!(!verify_password(&secret(""), &phc));
    }

    #[test]
    fn the_same_password_hashes_differently_each_time() {
        let a = hash_password(&secret("same password twice")).unwrap();
        let b = hash_password(&secret("same password twice")).unwrap();
        assert_ne!(a, b, "salts are random");
    }

    #[test]
    fn malformed_or_foreign_hashes_do_not_verify() {
        let pw = secret("whatever password");
        let cases = [
            "",
            "not a hash",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$",
            "$argon2id$v=19$m=19456,t=2,p=1$!!!$!!!",
            // argon2i with otherwise valid shape
            "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3N2ER0OnxaDNzJUoHdg5K6LCPK8bGUyB3yZkGEyxPCo",
            // 4 GiB of memory asked for: refused, not computed
            "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3N2ER0OnxaDNzJUoHdg5K6LCPK8bGUyB3yZkGEyxPCo",
            "$argon2id$v=19$m=19456,t=4294967295,p=1$c29tZXNhbHRzb21lc2FsdA$3N2ER0OnxaDNzJUoHdg5K6LCPK8bGUyB3yZkGEyxPCo",
        ];
        for phc in cases {
            assert!(!verify_password(&pw, phc), "{phc:?}");
        }
    }

    #[test]
    fn burning_a_verification_costs_what_a_verification_costs() {
        // GIVEN a stored hash and the dummy a burnt verification checks against
        let stored = hash_password(&secret("some password or other")).unwrap();
        let dummy = dummy_hash().expect("the dummy hash is made");
        // WHEN both are parsed
        let params = |phc: &str| {
            let hash = PasswordHash::new(phc).unwrap();
            let p = Params::try_from(&hash).unwrap();
            (
                hash.algorithm.to_string(),
                p.m_cost(),
                p.t_cost(),
                p.p_cost(),
            )
        };
        // THEN algorithm and cost parameters are the same (argon2's cost is set by them alone,
        // so an unknown email costs what a wrong password does), and the production ones
        assert_eq!(params(dummy), params(&stored));
        assert_eq!(
            params(dummy),
            ("argon2id".to_owned(), M_COST_KIB, T_COST, P_COST)
        );
        // AND a burnt verification never matches
        assert!(!verify_password(&secret("some password or other"), dummy));
    }

    #[test]
    fn generated_passwords_follow_the_rules() {
        for _ in 0..200 {
            let pw = generate_password();
            let pw = pw.expose_secret();
            assert_eq!(pw.len(), GENERATED_LEN);
            assert!(
                pw.bytes()
                    .all(|b| LOWER.contains(&b) || UPPER.contains(&b) || DIGITS.contains(&b))
            );
            assert!(!pw.contains(['0', 'O', '1', 'l', 'I']), "{pw}");
            assert!(pw.bytes().any(|b| b.is_ascii_lowercase()), "{pw}");
            assert!(pw.bytes().any(|b| b.is_ascii_uppercase()), "{pw}");
            assert!(pw.bytes().any(|b| b.is_ascii_digit()), "{pw}");
            assert!(validate_new_password(pw).is_ok());
        }
    }

    #[test]
    fn generated_passwords_use_the_whole_alphabet() {
        // GIVEN many generated passwords
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..100 {
            seen.extend(generate_password().expose_secret().bytes());
        }
        // THEN every symbol of the alphabet shows up (2000 draws over 57 symbols)
        assert_eq!(seen.len(), LOWER.len() + UPPER.len() + DIGITS.len());
    }

    #[test]
    fn new_passwords_are_checked_for_length_and_repetition() {
        assert!(validate_new_password("twelve chars").is_ok());
        assert!(validate_new_password("ünïcödé pässwörd").is_ok());
        assert!(validate_new_password(&"ab".repeat(64)).is_ok());
        assert!(matches!(
            validate_new_password("elevenchars"),
            Err(PasswordError::TooShort)
        ));
        // 11 characters even though more than 12 bytes
        assert!(matches!(
            validate_new_password("ééééééééééé"),
            Err(PasswordError::TooShort)
        ));
        assert!(matches!(
            validate_new_password(&"ab".repeat(64).replacen('a', "aa", 1)),
            Err(PasswordError::TooLong)
        ));
        assert!(matches!(
            validate_new_password("aaaaaaaaaaaaaaaa"),
            Err(PasswordError::Repetitive)
        ));
    }

    #[test]
    fn random_helpers_give_fresh_values_of_the_right_size() {
        assert_ne!(random_bytes::<16>(), random_bytes::<16>());
        let token = random_token(32);
        assert_eq!(token.len(), 43);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(random_token(9).len(), 12);
        assert_eq!(random_token(0), "");
    }

    /// Cost of one hash and one verification with the production parameters. Informational:
    /// `cargo test -p shared password::tests::cost -- --nocapture --ignored`.
    #[test]
    #[ignore = "timing report, not a check"]
    fn cost_of_hashing_and_verifying() {
        let pw = secret("correct horse battery staple");
        let runs = 5;
        let start = std::time::Instant::now();
        let mut phc = String::new();
        for _ in 0..runs {
            phc = hash_password(&pw).unwrap();
        }
        let hash = start.elapsed() / runs;
        let start = std::time::Instant::now();
        for _ in 0..runs {
            assert!(verify_password(&pw, &phc));
        }
        let verify = start.elapsed() / runs;
        println!("argon2id m={M_COST_KIB} t={T_COST} p={P_COST}: hash {hash:?}, verify {verify:?}");
    }
}
