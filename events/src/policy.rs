//! The scoring policy document (domain.md §4) and the built-in `default-v1`.

use serde::{Deserialize, Serialize};

use crate::fields::Sha256;

/// The reserved id of the built-in policy.
pub const DEFAULT_POLICY_ID: &str = "default-v1";
/// SHA-256 of JCS(`default-v1`), as published in domain.md §4.
pub const DEFAULT_POLICY_SHA256: &str =
    "235152374b8e223ee17d9735c0a774e5859de2b9d3c5d9dbb990162ec92fe577";

/// Weights of the three components, 1–100 each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Weights {
    pub work: u64,
    pub commitments: u64,
    pub evaluation: u64,
}

/// Weights of the vote kinds, 0–100 each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct EvaluationWeights {
    pub satisfied: u64,
    pub basically_satisfied: u64,
    pub dissatisfied: u64,
}

/// Grade thresholds in basis points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Thresholds {
    pub excellent: u64,
    pub competent: u64,
    pub basically_competent: u64,
}

/// Deduction per unrectified finding, in basis points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Deductions {
    pub serious: u64,
    pub minor: u64,
}

/// A scoring policy document. Exactly these keys at every level, every value an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Policy {
    pub min_service_days: u64,
    pub weights: Weights,
    pub evaluation_weights: EvaluationWeights,
    pub thresholds_bp: Thresholds,
    pub deductions_bp: Deductions,
    pub low_satisfaction_bp: u64,
    pub excellent_quota_bp: u64,
}

/// A policy rule broken: the key path inside the document and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct PolicyError {
    /// Key path inside the policy document, such as `weights.work`.
    pub field: String,
    /// Why it was refused.
    pub reason: String,
}

impl Policy {
    /// The built-in policy `default-v1`.
    pub const DEFAULT_V1: Policy = Policy {
        min_service_days: 183,
        weights: Weights {
            work: 40,
            commitments: 30,
            evaluation: 30,
        },
        evaluation_weights: EvaluationWeights {
            satisfied: 100,
            basically_satisfied: 60,
            dissatisfied: 0,
        },
        thresholds_bp: Thresholds {
            excellent: 9000,
            competent: 8000,
            basically_competent: 7000,
        },
        deductions_bp: Deductions {
            serious: 500,
            minor: 100,
        },
        low_satisfaction_bp: 7000,
        excellent_quota_bp: 1500,
    };

    /// Checks the ranges of domain.md §4. Deduction amounts have no range of their own there:
    /// like every integer of the contract they are 0 … 2^53 − 1.
    pub fn check(&self) -> Result<(), PolicyError> {
        let err = |field: &str, reason: String| {
            Err(PolicyError {
                field: field.to_string(),
                reason,
            })
        };
        let range = |field: &str, v: u64, lo: u64, hi: u64| -> Result<(), PolicyError> {
            if v < lo || v > hi {
                return err(field, format!("{v} is outside {lo}-{hi}"));
            }
            Ok(())
        };
        range("min_service_days", self.min_service_days, 1, 366)?;
        range("weights.work", self.weights.work, 1, 100)?;
        range("weights.commitments", self.weights.commitments, 1, 100)?;
        range("weights.evaluation", self.weights.evaluation, 1, 100)?;
        range(
            "evaluation_weights.satisfied",
            self.evaluation_weights.satisfied,
            0,
            100,
        )?;
        range(
            "evaluation_weights.basically_satisfied",
            self.evaluation_weights.basically_satisfied,
            0,
            100,
        )?;
        range(
            "evaluation_weights.dissatisfied",
            self.evaluation_weights.dissatisfied,
            0,
            100,
        )?;
        let t = self.thresholds_bp;
        if !(t.excellent <= 10000
            && t.excellent > t.competent
            && t.competent > t.basically_competent)
        {
            return err(
                "thresholds_bp",
                format!(
                    "must satisfy 10000 >= excellent > competent > basically_competent >= 0, got {} {} {}",
                    t.excellent, t.competent, t.basically_competent
                ),
            );
        }
        range(
            "deductions_bp.serious",
            self.deductions_bp.serious,
            0,
            10000,
        )?;
        range("deductions_bp.minor", self.deductions_bp.minor, 0, 10000)?;
        range("low_satisfaction_bp", self.low_satisfaction_bp, 0, 10000)?;
        range("excellent_quota_bp", self.excellent_quota_bp, 0, 10000)?;
        Ok(())
    }

    /// SHA-256 of the document's canonical JSON: the policy's identity in a review.
    pub fn sha256(&self) -> Sha256 {
        Sha256::of(
            crate::canonical::to_jcs(&serde_json::to_value(self).expect("policy serializes"))
                .as_bytes(),
        )
    }

    /// Parses a policy document from JSON text and checks it.
    pub fn from_json(json: &str) -> Result<Policy, PolicyError> {
        let mut de = serde_json::Deserializer::from_str(json);
        let p: Policy = serde_path_to_error::deserialize(&mut de).map_err(|e| PolicyError {
            field: e.path().to_string(),
            reason: e.into_inner().to_string(),
        })?;
        de.end().map_err(|e| PolicyError {
            field: ".".into(),
            reason: e.to_string(),
        })?;
        let raw: serde_json::Value = serde_json::from_str(json).map_err(|e| PolicyError {
            field: ".".into(),
            reason: e.to_string(),
        })?;
        let decoded = serde_json::to_value(p).expect("a policy serializes to JSON");
        if let Some(path) = crate::canonical::array_for_object(&decoded, &raw) {
            return Err(PolicyError {
                field: path.strip_prefix('.').unwrap_or(".").to_string(),
                reason: "must be a JSON object, not an array".into(),
            });
        }
        p.check()?;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_v1_hashes_as_published() {
        assert_eq!(Policy::DEFAULT_V1.sha256().to_hex(), DEFAULT_POLICY_SHA256);
        Policy::DEFAULT_V1.check().unwrap();
    }

    #[test]
    fn invalid_documents_are_refused_naming_the_key() {
        let good = serde_json::to_string(&Policy::DEFAULT_V1).unwrap();
        assert_eq!(Policy::from_json(&good).unwrap(), Policy::DEFAULT_V1);
        let e = Policy::from_json(&good.replace("\"work\":40", "\"work\":0")).unwrap_err();
        assert_eq!(e.field, "weights.work");
        let e = Policy::from_json(&good.replace("\"excellent\":9000", "\"excellent\":7000"))
            .unwrap_err();
        assert_eq!(e.field, "thresholds_bp");
        assert!(Policy::from_json(&good.replace("\"work\":40", "\"work\":40.0")).is_err());
        assert!(
            Policy::from_json(&good.replace("\"work\":40", "\"work\":40,\"extra\":1")).is_err()
        );
        assert!(Policy::from_json(&good.replace("\"min_service_days\":183,", "")).is_err());
        // serde would take the fields in order as an array; a policy is objects throughout.
        let e = Policy::from_json(
            r#"[183,[40,30,30],[100,60,0],[9000,8000,7000],[500,100],7000,1500]"#,
        )
        .unwrap_err();
        assert_eq!(e.field, ".");
        let e = Policy::from_json(&good.replace(
            r#"{"work":40,"commitments":30,"evaluation":30}"#,
            "[40,30,30]",
        ))
        .unwrap_err();
        assert_eq!(e.field, "weights");
    }
}
