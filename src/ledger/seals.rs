//! Day seals (API.md §Reconciliation, DESIGN §7): the exact bytes a closed day's seal signs,
//! and the check the verifier makes of every sealed day — the recorded entry count and last
//! hash against the chain's, and the signature against the public key its key id names.
//!
//! Pure: plain values in, findings out (no database; the verifier loads them).

use std::collections::BTreeMap;

use base64::Engine;
use chrono::NaiveDate;
use ring::signature;

use super::chain::GENESIS_HASH;

/// The exact bytes a day's seal signs.
pub fn seal_message(date: NaiveDate, last_entry_hash_hex: &str, entries: i64) -> String {
    format!(
        "onecard-day-seal\n{}\n{last_entry_hash_hex}\n{entries}",
        date.format("%Y-%m-%d")
    )
}

/// A closed day as stored: what its seal says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSeal {
    /// The day.
    pub date: NaiveDate,
    /// Entries recorded at the close.
    pub entries: Option<i64>,
    /// The last entry's hash recorded at the close.
    pub last_entry_hash: Option<Vec<u8>>,
    /// The base64 signature.
    pub seal: Option<String>,
    /// The id of the key that made it (none for a seal from before key ids were recorded).
    pub kid: Option<String>,
}

/// A day as the chain has it: how many entries are dated in it, and the last one's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayTail {
    /// Entries dated in the day.
    pub entries: i64,
    /// The chain hash of the last of them.
    pub last_hash: [u8; 32],
}

/// What the published keys are: raw public keys by key id, and the key that made seals
/// stored without an id (the first registered).
#[derive(Debug, Clone, Default)]
pub struct PublishedKeys {
    /// Raw 32-byte public keys by id.
    pub by_kid: BTreeMap<String, Vec<u8>>,
    /// The id a seal without one was made with.
    pub legacy_kid: Option<String>,
}

/// One sealed day that disagrees, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealProblem {
    /// The day.
    pub date: NaiveDate,
    /// What disagrees, in words.
    pub what: String,
}

/// Checks one sealed day against the chain's figures for it (`None`: no entry dated in it).
pub fn check_seal(
    stored: &StoredSeal,
    chain: Option<&DayTail>,
    keys: &PublishedKeys,
) -> Result<(), String> {
    let (Some(entries), Some(hash)) = (stored.entries, stored.last_entry_hash.as_deref()) else {
        return Err("closed without a recorded entry count or last hash".into());
    };
    let chain = chain.copied().unwrap_or(DayTail {
        entries: 0,
        last_hash: GENESIS_HASH,
    });
    if entries != chain.entries {
        return Err(format!(
            "the seal counts {entries} entries, the chain has {} dated that day",
            chain.entries
        ));
    }
    if hash != chain.last_hash {
        return Err(format!(
            "the sealed last entry hash {} is not the chain's {}",
            hex::encode(hash),
            hex::encode(chain.last_hash)
        ));
    }
    let Some(seal) = stored.seal.as_deref() else {
        return Err("closed without a seal".into());
    };
    let Some(kid) = stored.kid.as_deref().or(keys.legacy_kid.as_deref()) else {
        return Err("the seal names no key, and no signing key is registered".into());
    };
    let Some(public_key) = keys.by_kid.get(kid) else {
        return Err(format!(
            "the seal names key {kid}, which is not a published signing key"
        ));
    };
    let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(seal) else {
        return Err("the seal is not base64".into());
    };
    let message = seal_message(stored.date, &hex::encode(hash), entries);
    signature::UnparsedPublicKey::new(&signature::ED25519, public_key)
        .verify(message.as_bytes(), &sig)
        .map_err(|_| format!("the seal's signature does not verify with key {kid}"))
}

/// Checks every sealed day, in date order; answers how many were checked and each that
/// disagrees (the first is the earliest day).
pub fn check_seals(
    seals: &[StoredSeal],
    chain: &BTreeMap<NaiveDate, DayTail>,
    keys: &PublishedKeys,
) -> (i64, Vec<SealProblem>) {
    let mut ordered: Vec<&StoredSeal> = seals.iter().collect();
    ordered.sort_by_key(|s| s.date);
    let problems = ordered
        .iter()
        .filter_map(|s| {
            check_seal(s, chain.get(&s.date), keys)
                .err()
                .map(|what| SealProblem { date: s.date, what })
        })
        .collect();
    (i64::try_from(ordered.len()).unwrap_or(i64::MAX), problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or_default()
    }

    fn pair() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .unwrap_or_else(|_| panic!("random"));
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap_or_else(|_| panic!("key"))
    }

    fn sealed(key: &Ed25519KeyPair, kid: Option<&str>, d: u32, tail: DayTail) -> StoredSeal {
        let message = seal_message(day(d), &hex::encode(tail.last_hash), tail.entries);
        StoredSeal {
            date: day(d),
            entries: Some(tail.entries),
            last_entry_hash: Some(tail.last_hash.to_vec()),
            seal: Some(
                base64::engine::general_purpose::STANDARD
                    .encode(key.sign(message.as_bytes()).as_ref()),
            ),
            kid: kid.map(str::to_string),
        }
    }

    fn setup() -> (Ed25519KeyPair, Ed25519KeyPair, PublishedKeys, DayTail) {
        let (old, new) = (pair(), pair());
        let keys = PublishedKeys {
            by_kid: [
                ("old".to_string(), old.public_key().as_ref().to_vec()),
                ("new".to_string(), new.public_key().as_ref().to_vec()),
            ]
            .into(),
            legacy_kid: Some("old".into()),
        };
        let tail = DayTail {
            entries: 3,
            last_hash: [7; 32],
        };
        (old, new, keys, tail)
    }

    #[test]
    fn seals_by_old_new_and_unnamed_keys_pass() {
        let (old, new, keys, tail) = setup();
        let chain = BTreeMap::from([(day(1), tail), (day(2), tail), (day(3), tail)]);
        let seals = [
            sealed(&new, Some("new"), 3, tail),
            sealed(&old, Some("old"), 1, tail),
            // Before key ids: the first registered key made it.
            sealed(&old, None, 2, tail),
        ];
        assert_eq!(check_seals(&seals, &chain, &keys), (3, vec![]));
        // An empty day seals zero entries and the genesis hash.
        let empty = DayTail {
            entries: 0,
            last_hash: GENESIS_HASH,
        };
        assert_eq!(
            check_seal(&sealed(&new, Some("new"), 9, empty), None, &keys),
            Ok(())
        );
    }

    #[test]
    fn every_alteration_is_found_and_the_earliest_day_reported_first() {
        let (old, new, keys, tail) = setup();
        let chain = BTreeMap::from([(day(1), tail), (day(2), tail)]);
        let good = sealed(&new, Some("new"), 2, tail);
        let fails = |s: StoredSeal| check_seal(&s, chain.get(&s.date), &keys).unwrap_err();
        let count = fails(StoredSeal {
            entries: Some(4),
            ..good.clone()
        });
        assert!(
            count.contains("counts 4 entries, the chain has 3"),
            "{count}"
        );
        let hash = fails(StoredSeal {
            last_entry_hash: Some(vec![8; 32]),
            ..good.clone()
        });
        assert!(hash.contains("last entry hash"), "{hash}");
        let mut bytes = good.seal.clone().unwrap_or_default().into_bytes();
        bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
        let signature = fails(StoredSeal {
            seal: Some(String::from_utf8(bytes).unwrap_or_default()),
            ..good.clone()
        });
        assert!(
            signature.contains("does not verify with key new"),
            "{signature}"
        );
        // Signed by the old key but naming the new one.
        let wrong_key = fails(StoredSeal {
            kid: Some("new".into()),
            ..sealed(&old, Some("old"), 2, tail)
        });
        assert!(wrong_key.contains("does not verify"), "{wrong_key}");
        let unknown = fails(StoredSeal {
            kid: Some("ffffffffffffffff".into()),
            ..good.clone()
        });
        assert!(unknown.contains("not a published signing key"), "{unknown}");
        let unsealed = fails(StoredSeal {
            seal: None,
            ..good.clone()
        });
        assert!(unsealed.contains("without a seal"), "{unsealed}");
        // A day the chain has changed under (an entry added after the seal).
        let more = BTreeMap::from([(
            day(2),
            DayTail {
                entries: 4,
                last_hash: [9; 32],
            },
        )]);
        assert!(check_seal(&good, more.get(&day(2)), &keys).is_err());
        // Two bad days: the earlier is first.
        let seals = [
            StoredSeal {
                entries: Some(5),
                ..good.clone()
            },
            StoredSeal {
                entries: Some(5),
                ..sealed(&old, Some("old"), 1, tail)
            },
        ];
        let (checked, problems) = check_seals(&seals, &chain, &keys);
        assert_eq!((checked, problems.len()), (2, 2));
        assert_eq!(problems[0].date, day(1));
    }
}
