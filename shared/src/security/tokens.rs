//! Signed tokens: EdDSA (Ed25519) JWTs whose header names the signing key (`kid`).
//!
//! The private half of each key lives in a [`KeyRing`], readable only by the functions that
//! sign (tenant `auth`, and provisioning for tenant creation and platform-admin tokens); the
//! public half is published as [`VerifyingKeys`] (on the tenant's registry record), so every
//! other function can check a token but none can make one. Keys rotate (old tokens stay valid)
//! and are revoked (they stop being valid) by `kid`.
//!
//! Verification is strict: the algorithm is pinned to EdDSA before any key is looked up (HS256
//! only where the caller passes a tenant's [`legacy`] keys during their retirement), the `kid`
//! must name a live key, and `exp`, `iat`, `iss` and `aud` are required, with `iss` and `aud`
//! single strings equal to what the caller expects. Claim structs are the caller's.

pub mod legacy;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::de::{DeserializeOwned, Error as _};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

pub use crate::domain::verifying_keys::{KEY_LEN, VerifyingKey, VerifyingKeys};
use crate::security::password::{random_bytes, random_token};

/// Clock skew tolerated on `exp` (and on `iat`/`nbf` in the future) unless the caller says.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 30;
/// Callers cannot stretch the leeway past this.
pub const MAX_LEEWAY_SECONDS: u64 = 300;
/// Tokens longer than this are refused before any parsing: ours are a few hundred bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Attacker-chosen header values are cut to this length before they reach an error (and logs).
const MAX_ECHOED_LEN: usize = 64;

/// The token of an `Authorization: Bearer …` header value; `None` when there is none, it is
/// empty, or it is longer than any token of ours.
pub fn bearer(authorization: Option<&str>) -> Option<&str> {
    authorization
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_LEN)
}

/// Why a token was refused (or could not be issued). Variants are for logs; clients get
/// [`TokenError::code`] only.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed: {reason}")]
    Malformed {
        reason: &'static str,
        #[source]
        source: Option<jsonwebtoken::errors::Error>,
    },
    #[error("token algorithm {0:?} is not accepted")]
    WrongAlgorithm(String),
    #[error("token header has no kid")]
    MissingKid,
    #[error("token kid {0:?} is not in the key ring")]
    UnknownKid(String),
    #[error("token kid {0:?} has been revoked")]
    RevokedKid(String),
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet (nbf or iat in the future)")]
    NotYetValid,
    #[error("token issuer is not the expected one")]
    WrongIssuer,
    #[error("token audience is not the expected one")]
    WrongAudience,
    #[error("token lacks the required claim {0:?}")]
    MissingClaim(String),
    #[error("token claims do not have the expected shape")]
    Claims(#[source] serde_json::Error),
    #[error("cannot issue a token with the revoked key {0:?}")]
    SigningKeyRevoked(String),
    #[error("token signing failed")]
    Signing(#[source] jsonwebtoken::errors::Error),
}

impl TokenError {
    /// The stable client-facing code: `token_expired` for an expired token, `internal_error`
    /// for a failure to issue one (a server fault), `invalid_token` for every other refusal,
    /// so a client learns nothing about which check failed.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Expired => "token_expired",
            Self::Signing(_) | Self::SigningKeyRevoked(_) => "internal_error",
            _ => "invalid_token",
        }
    }

    fn malformed(reason: &'static str) -> Self {
        Self::Malformed {
            reason,
            source: None,
        }
    }
}

/// What a [`Ring`] holds: key material stored (standard base64) under one JSON field, never
/// shown by `Debug`.
pub trait KeyMaterial: Clone + Sized {
    /// The stored field's name.
    const FIELD: &'static str;
    /// Fresh random material.
    fn generate() -> Self;
    /// The material from its stored bytes, or why they are refused (never quoting them).
    fn from_bytes(bytes: Vec<u8>) -> Result<Self, &'static str>;
    /// The bytes to store.
    fn bytes(&self) -> &[u8];
}

/// One key with its id: rotated in, revoked by `kid`.
#[derive(Clone)]
pub struct RingKey<M> {
    pub kid: String,
    material: M,
    pub created_at: DateTime<Utc>,
    pub revoked: bool,
}

impl<M: KeyMaterial> RingKey<M> {
    /// Fresh material, a random 12-character kid, created now.
    pub fn generate() -> Self {
        Self {
            kid: random_token(9),
            material: M::generate(),
            created_at: Utc::now(),
            revoked: false,
        }
    }
}

impl<M: KeyMaterial> std::fmt::Debug for RingKey<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingKey")
            .field("kid", &self.kid)
            .field(M::FIELD, &"[redacted]")
            .field("created_at", &self.created_at)
            .field("revoked", &self.revoked)
            .finish()
    }
}

impl<M: KeyMaterial> Serialize for RingKey<M> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let material = SecretString::from(STANDARD.encode(self.material.bytes()));
        let mut s = serializer.serialize_struct("RingKey", 4)?;
        s.serialize_field("kid", &self.kid)?;
        s.serialize_field(M::FIELD, material.expose_secret())?;
        s.serialize_field("created_at", &self.created_at)?;
        s.serialize_field("revoked", &self.revoked)?;
        s.end()
    }
}

impl<'de, M: KeyMaterial> Deserialize<'de> for RingKey<M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Either kind's field: the one `M` names is read.
        #[derive(Deserialize)]
        struct Stored {
            kid: String,
            private_key: Option<SecretString>,
            secret: Option<SecretString>,
            created_at: DateTime<Utc>,
            #[serde(default)]
            revoked: bool,
        }
        let stored = Stored::deserialize(deserializer)?;
        if stored.kid.is_empty() {
            return Err(D::Error::custom("signing key has an empty kid"));
        }
        let encoded = match M::FIELD {
            "secret" => stored.secret,
            _ => stored.private_key,
        }
        .ok_or_else(|| D::Error::missing_field(M::FIELD))?;
        // The decoder's own message can quote a character of the key: not passed on.
        let bytes = STANDARD
            .decode(encoded.expose_secret())
            .map_err(|_| D::Error::custom("signing key is not standard base64"))?;
        Ok(Self {
            kid: stored.kid,
            material: M::from_bytes(bytes).map_err(D::Error::custom)?,
            created_at: stored.created_at,
            revoked: stored.revoked,
        })
    }
}

/// Every key of one issuer: the newest live one signs, all live ones verify.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound(
    serialize = "RingKey<M>: Serialize",
    deserialize = "RingKey<M>: Deserialize<'de>"
))]
pub struct Ring<M> {
    pub keys: Vec<RingKey<M>>,
}

impl<M: KeyMaterial> std::fmt::Debug for Ring<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring").field("keys", &self.keys).finish()
    }
}

impl<M> Default for Ring<M> {
    fn default() -> Self {
        Self { keys: Vec::new() }
    }
}

impl<M: KeyMaterial> Ring<M> {
    /// A ring with one fresh key.
    pub fn generate() -> Self {
        Self {
            keys: vec![RingKey::generate()],
        }
    }

    /// The key to sign with: the newest that is not revoked (the later one on a tie).
    pub fn current(&self) -> Option<&RingKey<M>> {
        self.keys
            .iter()
            .filter(|k| !k.revoked)
            .max_by_key(|k| k.created_at)
    }

    /// The key named `kid`, revoked or not.
    pub fn find(&self, kid: &str) -> Option<&RingKey<M>> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Adds a fresh key, which becomes [`current`](Self::current); older keys keep verifying
    /// until revoked.
    pub fn rotate(&mut self) -> &RingKey<M> {
        let mut key = RingKey::generate();
        while self.find(&key.kid).is_some() {
            key = RingKey::generate();
        }
        // A clock behind the one that made the newest key must not leave the new key older.
        if let Some(newest) = self.keys.iter().map(|k| k.created_at).max() {
            key.created_at = key.created_at.max(newest);
        }
        let index = self.keys.len();
        self.keys.push(key);
        &self.keys[index]
    }

    /// Marks `kid` revoked: tokens it signed stop verifying. Whether the key was found.
    pub fn revoke(&mut self, kid: &str) -> bool {
        let mut found = false;
        for key in self.keys.iter_mut().filter(|k| k.kid == kid) {
            key.revoked = true;
            found = true;
        }
        found
    }
}

/// An Ed25519 key pair: the 32-byte private seed is what is stored; the signing form and the
/// public key are derived from it on reading.
#[derive(Clone)]
pub struct Ed25519Pair {
    seed: SecretSlice<u8>,
    encoding: EncodingKey,
    public: [u8; KEY_LEN],
}

impl KeyMaterial for Ed25519Pair {
    const FIELD: &'static str = "private_key";

    fn generate() -> Self {
        Self::from_bytes(random_bytes::<KEY_LEN>().to_vec())
            .expect("aws-lc accepts every 32-byte Ed25519 seed")
    }

    fn from_bytes(seed: Vec<u8>) -> Result<Self, &'static str> {
        let seed = SecretSlice::from(seed);
        if seed.expose_secret().len() != KEY_LEN {
            return Err("signing key is not a 32-byte Ed25519 seed");
        }
        let pair = Ed25519KeyPair::from_seed_unchecked(seed.expose_secret())
            .map_err(|_| "signing key seed is refused by the Ed25519 implementation")?;
        let pkcs8 = pair
            .to_pkcs8()
            .map_err(|_| "signing key cannot be encoded as PKCS#8")?;
        let mut public = [0u8; KEY_LEN];
        public.copy_from_slice(pair.public_key().as_ref());
        Ok(Self {
            seed,
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            public,
        })
    }

    fn bytes(&self) -> &[u8] {
        self.seed.expose_secret()
    }
}

/// One Ed25519 key pair with its id. Stored only in a secret that the signing functions alone
/// can read.
pub type SigningKey = RingKey<Ed25519Pair>;

/// Every Ed25519 key pair of one issuer.
pub type KeyRing = Ring<Ed25519Pair>;

impl SigningKey {
    /// The public half, publishable anywhere.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey {
            kid: self.kid.clone(),
            x: URL_SAFE_NO_PAD.encode(self.material.public),
            created_at: self.created_at,
            revoked: self.revoked,
        }
    }
}

impl KeyRing {
    /// The key to sign with when verifiers read `published`: the newest one that is live both
    /// here and there, so no token is ever signed with a key its verifiers do not have yet.
    pub fn current_published(&self, published: &VerifyingKeys) -> Option<&SigningKey> {
        self.keys
            .iter()
            .filter(|k| !k.revoked && published.is_live(&k.kid))
            .max_by_key(|k| k.created_at)
    }

    /// The public halves, to publish.
    pub fn verifying_keys(&self) -> VerifyingKeys {
        VerifyingKeys {
            keys: self.keys.iter().map(SigningKey::verifying_key).collect(),
        }
    }
}

/// What a verified token must say about where it came from and whom it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectations {
    pub issuer: String,
    pub audience: String,
    /// Clock skew tolerated on `exp` (and on `iat`/`nbf`); capped at [`MAX_LEEWAY_SECONDS`].
    pub leeway_seconds: u64,
}

impl Expectations {
    /// Exact `iss` and `aud`, with the default leeway.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
        }
    }
}

/// Seconds since the Unix epoch, for `iat`/`exp`.
pub fn now_ts() -> i64 {
    Utc::now().timestamp()
}

/// Signs `claims` with `key`: header `{"typ":"JWT","alg":"EdDSA","kid":…}`.
pub fn issue<C: Serialize>(key: &SigningKey, claims: &C) -> Result<String, TokenError> {
    if key.revoked {
        return Err(TokenError::SigningKeyRevoked(key.kid.clone()));
    }
    encode(Algorithm::EdDSA, &key.kid, claims, &key.material.encoding)
}

fn encode<C: Serialize>(
    alg: Algorithm,
    kid: &str,
    claims: &C,
    key: &EncodingKey,
) -> Result<String, TokenError> {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).map_err(TokenError::Signing)
}

/// Verifies the EdDSA `token` against `keys` and `expect`, then deserialises its claims as `C`.
pub fn verify<C: DeserializeOwned>(
    token: &str,
    keys: &VerifyingKeys,
    expect: &Expectations,
) -> Result<C, TokenError> {
    verify_accepting(token, keys, None, expect)
}

/// [`verify`], also accepting HS256 tokens signed with `legacy` keys (a tenant whose keys
/// predate EdDSA, until its old tokens have expired).
pub fn verify_accepting<C: DeserializeOwned>(
    token: &str,
    keys: &VerifyingKeys,
    legacy: Option<&legacy::HmacKeys>,
    expect: &Expectations,
) -> Result<C, TokenError> {
    /// The header fields read before any key is chosen.
    #[derive(Deserialize)]
    struct RawHeader {
        alg: String,
        kid: Option<String>,
        crit: Option<Value>,
    }

    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::malformed("token is longer than 8 KiB"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::malformed("not three dot-separated parts"));
    };
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::malformed("header is not base64url"))?;
    let header: RawHeader = serde_json::from_slice(&header)
        .map_err(|_| TokenError::malformed("header is not a JSON object with an alg"))?;

    // The algorithm is ours to choose, not the token's: anything but EdDSA (`none`, HS* with
    // the public key as an HMAC secret, RS*/ES*) is refused before a key is touched; HS256
    // only when the caller hands over a legacy ring.
    let algorithm = match (header.alg.as_str(), legacy) {
        ("EdDSA", _) => Algorithm::EdDSA,
        ("HS256", Some(_)) => Algorithm::HS256,
        (other, _) => return Err(TokenError::WrongAlgorithm(echo(other))),
    };
    // RFC 7515 §4.1.11: extensions marked critical that we do not understand mean rejection.
    if header.crit.is_some() {
        return Err(TokenError::malformed(
            "critical header extensions are not supported",
        ));
    }
    let kid = header.kid.ok_or(TokenError::MissingKid)?;
    let key = match (algorithm, legacy) {
        (Algorithm::HS256, Some(legacy)) => legacy.decoding_key(&kid)?,
        _ => {
            let key = keys
                .find(&kid)
                .ok_or_else(|| TokenError::UnknownKid(echo(&kid)))?;
            if key.revoked {
                return Err(TokenError::RevokedKid(echo(&kid)));
            }
            DecodingKey::from_ed_components(&key.x)
                .map_err(|_| TokenError::malformed("verifying key is not base64url"))?
        }
    };

    let leeway = expect.leeway_seconds.min(MAX_LEEWAY_SECONDS);
    let mut validation = Validation::new(algorithm);
    validation.leeway = leeway;
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.set_issuer(&[&expect.issuer]);
    validation.set_audience(&[&expect.audience]);
    validation.validate_nbf = true;
    let decoded =
        jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(from_jwt)?;
    let claims = decoded.claims;

    // The library accepts an array holding the expected value; ours are single strings.
    if !matches!(claims.get("iss"), Some(Value::String(_))) {
        return Err(TokenError::WrongIssuer);
    }
    if !matches!(claims.get("aud"), Some(Value::String(_))) {
        return Err(TokenError::WrongAudience);
    }
    // The library does not check `iat`: required here, and not from the future.
    let iat = claims
        .get("iat")
        .ok_or_else(|| TokenError::MissingClaim("iat".into()))?
        .as_i64()
        .ok_or_else(|| TokenError::malformed("iat is not an integer"))?;
    if iat > now_ts().saturating_add_unsigned(leeway) {
        return Err(TokenError::NotYetValid);
    }

    serde_json::from_value(Value::Object(claims)).map_err(TokenError::Claims)
}

fn from_jwt(err: jsonwebtoken::errors::Error) -> TokenError {
    match err.kind() {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => TokenError::MissingClaim(claim.clone()),
        ErrorKind::InvalidClaimFormat(_) => TokenError::Malformed {
            reason: "a registered claim has the wrong type",
            source: Some(err),
        },
        _ => TokenError::Malformed {
            reason: "rejected by the JWT decoder",
            source: Some(err),
        },
    }
}

/// An attacker-supplied header value, cut short for errors and logs.
fn echo(value: &str) -> String {
    value.chars().take(MAX_ECHOED_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Claims {
        sub: String,
        iss: String,
        aud: String,
        iat: i64,
        exp: i64,
    }

    const ISS: &str = "https://api.example.test";
    const AUD: &str = "acme";

    fn claims() -> Claims {
        let now = now_ts();
        Claims {
            sub: "user-1".into(),
            iss: ISS.into(),
            aud: AUD.into(),
            iat: now,
            exp: now + 600,
        }
    }

    fn expect() -> Expectations {
        Expectations::new(ISS, AUD)
    }

    fn current(ring: &KeyRing) -> &SigningKey {
        ring.current().expect("the ring has a live key")
    }

    fn b64(json: &Value) -> String {
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    fn verify_claims(token: &str, ring: &KeyRing) -> Result<Claims, TokenError> {
        verify(token, &ring.verifying_keys(), &expect())
    }

    fn verify_value(
        token: &str,
        ring: &KeyRing,
        expect: &Expectations,
    ) -> Result<Value, TokenError> {
        verify(token, &ring.verifying_keys(), expect)
    }

    #[test]
    fn an_issued_token_verifies_and_round_trips_its_claims() {
        // GIVEN a ring and a token signed with its current key
        let ring = KeyRing::generate();
        let token = issue(current(&ring), &claims()).unwrap();

        // THEN the header names the algorithm and the key
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(header.kid.as_deref(), Some(current(&ring).kid.as_str()));
        // AND the claims come back as they went in
        let got = verify_claims(&token, &ring).unwrap();
        assert_eq!(got.sub, "user-1");
        assert_eq!(got.aud, AUD);
    }

    #[test]
    fn a_tampered_payload_fails_the_signature() {
        // GIVEN a valid token whose payload is edited, the signature kept
        let ring = KeyRing::generate();
        let token = issue(current(&ring), &claims()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        payload["sub"] = "admin".into();
        let forged = format!("{}.{}.{}", parts[0], b64(&payload), parts[2]);

        // THEN it is refused as a bad signature
        let err = verify_claims(&forged, &ring).unwrap_err();
        assert!(matches!(err, TokenError::BadSignature), "{err:?}");
        assert_eq!(err.code(), "invalid_token");
    }

    #[test]
    fn a_token_from_another_ring_with_the_same_kid_fails_the_signature() {
        // GIVEN our ring, and a foreign key that reuses our current kid
        let ring = KeyRing::generate();
        let mut foreign = SigningKey::generate();
        foreign.kid = current(&ring).kid.clone();
        let token = issue(&foreign, &claims()).unwrap();

        // THEN the token is refused
        let err = verify_claims(&token, &ring).unwrap_err();
        assert!(matches!(err, TokenError::BadSignature), "{err:?}");
    }

    #[test]
    fn alg_none_is_refused() {
        // GIVEN a hand-built unsigned token naming a real kid
        let ring = KeyRing::generate();
        let header = serde_json::json!({"alg": "none", "typ": "JWT", "kid": current(&ring).kid});
        let payload = serde_json::to_value(claims()).unwrap();
        let token = format!("{}.{}.", b64(&header), b64(&payload));

        // THEN it is refused for its algorithm
        let err = verify_claims(&token, &ring).unwrap_err();
        assert!(
            matches!(&err, TokenError::WrongAlgorithm(alg) if alg == "none"),
            "{err:?}"
        );
        assert_eq!(err.code(), "invalid_token");
        // AND so are its variants: no signature part at all, or a case-changed "None"
        let err = verify_claims(&format!("{}.{}", b64(&header), b64(&payload)), &ring);
        assert!(matches!(err, Err(TokenError::Malformed { .. })), "{err:?}");
        let header = serde_json::json!({"alg": "None", "kid": current(&ring).kid});
        let err = verify_claims(&format!("{}.{}.", b64(&header), b64(&payload)), &ring);
        assert!(matches!(err, Err(TokenError::WrongAlgorithm(_))), "{err:?}");
    }

    #[test]
    fn other_algorithms_are_refused_even_with_the_public_key_as_a_secret() {
        // GIVEN tokens signed under HMAC with the published public key as the secret (the
        // classic key confusion: anyone can read that key)
        let ring = KeyRing::generate();
        let key = current(&ring);
        let public = URL_SAFE_NO_PAD.decode(&key.verifying_key().x).unwrap();
        for alg in [Algorithm::HS256, Algorithm::HS512, Algorithm::HS384] {
            let mut header = Header::new(alg);
            header.kid = Some(key.kid.clone());
            let token =
                jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(&public))
                    .unwrap();

            // THEN they are refused for their algorithm
            let err = verify_claims(&token, &ring).unwrap_err();
            assert!(
                matches!(err, TokenError::WrongAlgorithm(_)),
                "{alg:?}: {err:?}"
            );
        }

        // AND a valid EdDSA token relabelled RS256 is refused too
        let token = issue(key, &claims()).unwrap();
        let (_, rest) = token.split_once('.').unwrap();
        let rs = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": key.kid});
        let err = verify_claims(&format!("{}.{rest}", b64(&rs)), &ring).unwrap_err();
        assert!(
            matches!(&err, TokenError::WrongAlgorithm(a) if a == "RS256"),
            "{err:?}"
        );
    }

    #[test]
    fn expiry_is_checked_with_the_leeway() {
        let ring = KeyRing::generate();
        let key = current(&ring);

        // GIVEN a token that expired two minutes ago
        let mut old = claims();
        old.exp = now_ts() - 120;
        let err = verify_claims(&issue(key, &old).unwrap(), &ring).unwrap_err();
        // THEN it is refused as expired, with its own code
        assert!(matches!(err, TokenError::Expired), "{err:?}");
        assert_eq!(err.code(), "token_expired");

        // GIVEN one that expired ten seconds ago THEN the 30 s leeway still accepts it
        let mut just = claims();
        just.exp = now_ts() - 10;
        assert!(verify_claims(&issue(key, &just).unwrap(), &ring).is_ok());
        // AND with no leeway it is refused
        let strict = Expectations {
            leeway_seconds: 0,
            ..expect()
        };
        let err = verify_value(&issue(key, &just).unwrap(), &ring, &strict).unwrap_err();
        assert!(matches!(err, TokenError::Expired), "{err:?}");
    }

    #[test]
    fn wrong_issuer_or_audience_is_refused() {
        let ring = KeyRing::generate();
        let key = current(&ring);

        let mut c = claims();
        c.iss = "https://evil.example.test".into();
        let err = verify_claims(&issue(key, &c).unwrap(), &ring).unwrap_err();
        assert!(matches!(err, TokenError::WrongIssuer), "{err:?}");

        let mut c = claims();
        c.aud = "other-tenant".into();
        let err = verify_claims(&issue(key, &c).unwrap(), &ring).unwrap_err();
        assert!(matches!(err, TokenError::WrongAudience), "{err:?}");

        // Arrays holding the expected value are not accepted either: ours are single strings.
        let now = now_ts();
        let arrays =
            serde_json::json!({"iss": ISS, "aud": [AUD, "other"], "iat": now, "exp": now + 60});
        let err = verify_value(&issue(key, &arrays).unwrap(), &ring, &expect()).unwrap_err();
        assert!(matches!(err, TokenError::WrongAudience), "{err:?}");
        let arrays = serde_json::json!({"iss": [ISS], "aud": AUD, "iat": now, "exp": now + 60});
        let err = verify_value(&issue(key, &arrays).unwrap(), &ring, &expect()).unwrap_err();
        assert!(matches!(err, TokenError::WrongIssuer), "{err:?}");
    }

    #[test]
    fn registered_claims_are_required() {
        // GIVEN tokens each missing one of exp, iat, iss, aud
        let ring = KeyRing::generate();
        let key = current(&ring);
        let now = now_ts();
        let full = serde_json::json!({"iss": ISS, "aud": AUD, "iat": now, "exp": now + 60});
        for claim in ["exp", "iat", "iss", "aud"] {
            let mut partial = full.clone();
            partial.as_object_mut().unwrap().remove(claim);
            let err = verify_value(&issue(key, &partial).unwrap(), &ring, &expect()).unwrap_err();
            // THEN each is refused, naming the claim
            assert!(
                matches!(&err, TokenError::MissingClaim(c) if c == claim),
                "{claim}: {err:?}"
            );
        }
        // AND an iat from the future is refused
        let mut future = full.clone();
        future["iat"] = (now + 3600).into();
        let err = verify_value(&issue(key, &future).unwrap(), &ring, &expect()).unwrap_err();
        assert!(matches!(err, TokenError::NotYetValid), "{err:?}");
    }

    #[test]
    fn unknown_revoked_or_missing_kids_are_refused() {
        let mut ring = KeyRing::generate();
        let stranger = SigningKey::generate();
        let err = verify_claims(&issue(&stranger, &claims()).unwrap(), &ring).unwrap_err();
        assert!(matches!(err, TokenError::UnknownKid(_)), "{err:?}");

        // A token without a kid, signed with the ring's own key
        let key = current(&ring).clone();
        let no_kid = jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &claims(),
            &key.material.encoding,
        )
        .unwrap();
        let err = verify_claims(&no_kid, &ring).unwrap_err();
        assert!(matches!(err, TokenError::MissingKid), "{err:?}");

        let token = issue(&key, &claims()).unwrap();
        assert!(ring.revoke(&key.kid));
        let err = verify_claims(&token, &ring).unwrap_err();
        assert!(matches!(err, TokenError::RevokedKid(_)), "{err:?}");
        assert!(!ring.revoke("no-such-kid"));
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_until_the_old_key_is_revoked() {
        // GIVEN a token signed with the first key
        let mut ring = KeyRing::generate();
        let old_kid = current(&ring).kid.clone();
        let old_token = issue(current(&ring), &claims()).unwrap();

        // WHEN the ring rotates
        let new_kid = ring.rotate().kid.clone();

        // THEN the new key signs, and both old and new tokens verify
        assert_ne!(new_kid, old_kid);
        assert_eq!(current(&ring).kid, new_kid);
        let new_token = issue(current(&ring), &claims()).unwrap();
        assert!(verify_claims(&old_token, &ring).is_ok());
        assert!(verify_claims(&new_token, &ring).is_ok());

        // WHEN the old key is revoked
        assert!(ring.revoke(&old_kid));

        // THEN only the new token verifies
        let err = verify_claims(&old_token, &ring).unwrap_err();
        assert!(matches!(err, TokenError::RevokedKid(_)), "{err:?}");
        assert!(verify_claims(&new_token, &ring).is_ok());
        // AND a revoked key cannot sign
        let old = ring.find(&old_kid).unwrap();
        assert!(matches!(
            issue(old, &claims()),
            Err(TokenError::SigningKeyRevoked(_))
        ));
    }

    #[test]
    fn the_newest_key_is_current_even_if_the_clock_went_back() {
        let mut ring = KeyRing::generate();
        ring.keys[0].created_at = Utc::now() + chrono::Duration::hours(1);
        let new_kid = ring.rotate().kid.clone();
        assert_eq!(current(&ring).kid, new_kid);
        // An all-revoked ring has no current key.
        for key in &mut ring.keys {
            key.revoked = true;
        }
        assert!(ring.current().is_none());
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let ring = KeyRing::generate();
        let junk = "x".repeat(10 * 1024);
        let junk_dots = "a.".repeat(5 * 1024);
        let bytes: String = (0..10_000u32)
            .filter_map(|i| char::from_u32((i * 7919) % 0x11_0000))
            .collect();
        let cases = [
            "",
            ".",
            "..",
            "a.b",
            "a.b.c",
            "a.b.c.d",
            "eyJ.eyJ.sig",
            "e30.e30.",
            "bnVsbA.bnVsbA.bnVsbA",
            junk.as_str(),
            junk_dots.as_str(),
            bytes.as_str(),
        ];
        for token in cases {
            let err = verify_claims(token, &ring).unwrap_err();
            assert_eq!(err.code(), "invalid_token", "{err:?}");
        }
        // A header with an alg but junk everywhere else
        let header = b64(&serde_json::json!({"alg": "EdDSA", "kid": current(&ring).kid}));
        for token in [
            format!("{header}.!!!.!!!"),
            format!("{header}.e30.AAAA"),
            format!("{header}..",),
        ] {
            assert!(verify_claims(&token, &ring).is_err(), "{token}");
        }
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        // GIVEN a ring whose private keys we know
        let ring = KeyRing::generate();
        let secret = ring.keys[0].material.seed.expose_secret().to_vec();
        let stored = serde_json::to_value(&ring).unwrap();
        let b64_secret = stored["keys"][0]["private_key"]
            .as_str()
            .unwrap()
            .to_owned();

        // THEN neither form of it is in Debug
        for debug in [
            format!("{ring:?}"),
            format!("{:?}", ring.keys[0]),
            format!("{ring:#?}"),
        ] {
            assert!(!debug.contains(&b64_secret), "{debug}");
            assert!(!debug.contains(&format!("{secret:?}")), "{debug}");
            assert!(debug.contains("[redacted]"));
        }
    }

    #[test]
    fn a_ring_round_trips_through_json() {
        // GIVEN a rotated ring with one key revoked
        let mut ring = KeyRing::generate();
        ring.rotate();
        let first = ring.keys[0].kid.clone();
        ring.revoke(&first);
        let token = issue(current(&ring), &claims()).unwrap();

        // WHEN it is stored and read back
        let json = serde_json::to_string(&ring).unwrap();
        let back: KeyRing = serde_json::from_str(&json).unwrap();

        // THEN it has the same shape and verifies the same tokens
        let stored: Value = serde_json::from_str(&json).unwrap();
        let key = &stored["keys"][0];
        for field in ["kid", "private_key", "created_at", "revoked"] {
            assert!(key.get(field).is_some(), "{field} in {key}");
        }
        assert_eq!(back.keys.len(), 2);
        assert!(back.find(&first).unwrap().revoked);
        assert!(verify_claims(&token, &back).is_ok());
    }

    #[test]
    fn stored_keys_with_short_or_bad_private_keys_are_refused() {
        let now = Utc::now();
        let short = serde_json::json!({"kid": "k", "private_key": STANDARD.encode([7u8; 16]), "created_at": now});
        let err = serde_json::from_value::<SigningKey>(short).unwrap_err();
        assert!(err.to_string().contains("32-byte"), "{err}");
        let bad = serde_json::json!({"kid": "k", "private_key": "not base64!", "created_at": now});
        let err = serde_json::from_value::<SigningKey>(bad).unwrap_err();
        assert!(!err.to_string().contains('!'), "{err}");
        let ok = serde_json::json!({"kid": "k", "private_key": STANDARD.encode([7u8; 32]), "created_at": now});
        assert!(!serde_json::from_value::<SigningKey>(ok).unwrap().revoked);
        // AND a published key must be 32 bytes of base64url
        let short = serde_json::json!({"kid": "k", "x": URL_SAFE_NO_PAD.encode([1u8; 31]), "created_at": now});
        assert!(serde_json::from_value::<VerifyingKey>(short).is_err());
    }

    #[test]
    fn the_published_keys_hold_nothing_that_signs() {
        // GIVEN a ring and its published half
        let ring = KeyRing::generate();
        let published = serde_json::to_string(&ring.verifying_keys()).unwrap();
        // THEN the private key is not in it
        let stored = serde_json::to_value(&ring).unwrap();
        let private = stored["keys"][0]["private_key"].as_str().unwrap();
        assert!(!published.contains(private), "{published}");
        let seed = URL_SAFE_NO_PAD.encode(ring.keys[0].material.seed.expose_secret());
        assert!(!published.contains(&seed), "{published}");
        // AND it verifies what the ring signs
        let token = issue(current(&ring), &claims()).unwrap();
        let back: VerifyingKeys = serde_json::from_str(&published).unwrap();
        assert!(verify::<Claims>(&token, &back, &expect()).is_ok());
    }

    #[test]
    fn only_a_published_live_key_signs() {
        // GIVEN a ring rotated after its keys were published
        let mut ring = KeyRing::generate();
        let published = ring.verifying_keys();
        let first = current(&ring).kid.clone();
        ring.rotate();
        // THEN the key verifiers do not know yet does not sign
        assert_eq!(ring.current_published(&published).unwrap().kid, first);
        // AND once it is published, it does
        let mut now_published = published.clone();
        now_published.merge(&ring.verifying_keys());
        assert_eq!(
            ring.current_published(&now_published).unwrap().kid,
            current(&ring).kid
        );
    }

    #[test]
    fn merging_published_keys_keeps_both_rotations_and_every_revocation() {
        // GIVEN two rotations of the same ring made concurrently, one revoking the first key
        let base = KeyRing::generate();
        let first = base.keys[0].kid.clone();
        let (mut a, mut b) = (base.clone(), base.clone());
        a.rotate();
        b.rotate();
        b.revoke(&first);
        // WHEN both are merged into the record, in either order
        for (x, y) in [(&a, &b), (&b, &a)] {
            let mut record = base.verifying_keys();
            record.merge(&x.verifying_keys());
            record.merge(&y.verifying_keys());
            // THEN all three keys are there and the revocation stuck
            assert_eq!(record.keys.len(), 3);
            assert!(!record.is_live(&first));
        }
    }

    #[test]
    fn hs256_verifies_only_against_a_legacy_ring_that_is_passed_in() {
        // GIVEN a pre-EdDSA key and a token it signed
        let old = legacy::HmacKeys {
            keys: vec![legacy::HmacKey::generate()],
        };
        let token = legacy::issue(old.current().unwrap(), &claims()).unwrap();
        let ring = KeyRing::generate();
        // THEN plain verification refuses its algorithm
        let err = verify_claims(&token, &ring).unwrap_err();
        assert!(matches!(err, TokenError::WrongAlgorithm(_)), "{err:?}");
        // AND it verifies when the legacy ring is passed in
        let keys = ring.verifying_keys();
        assert!(verify_accepting::<Claims>(&token, &keys, Some(&old), &expect()).is_ok());
        // AND an EdDSA token still verifies against the published keys alongside it
        let new = issue(current(&ring), &claims()).unwrap();
        assert!(verify_accepting::<Claims>(&new, &keys, Some(&old), &expect()).is_ok());
        // AND a legacy token under an EdDSA kid is not checked against a public key
        let mut relabelled = old.clone();
        relabelled.keys[0].kid = current(&ring).kid.clone();
        let forged = legacy::issue(&relabelled.keys[0], &claims()).unwrap();
        let other = legacy::HmacKeys::default();
        let err = verify_accepting::<Claims>(&forged, &keys, Some(&other), &expect()).unwrap_err();
        assert!(matches!(err, TokenError::UnknownKid(_)), "{err:?}");
    }
}
