//! Secrets live in SSM Parameter Store (SecureString) and are fetched on first use, never at init,
//! then kept for the life of the execution environment.

use std::future::Future;

/// A secret could not be read. Carries the parameter name (not a secret) for operators.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret parameter {name} could not be read: {source}")]
    Unavailable {
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("secret parameter {0} is empty")]
    Empty(String),
}

/// Port: where secrets come from.
pub trait SecretStore: Send + Sync {
    fn fetch(&self, name: &str) -> impl Future<Output = Result<String, SecretError>> + Send;
}

/// Reads SecureString parameters from SSM with decryption.
#[derive(Debug, Clone)]
pub struct SsmSecretStore {
    client: crate::aws::Lazy<aws_sdk_ssm::Client>,
}

impl SsmSecretStore {
    /// Parameters read through an SSM client made on its first use.
    pub fn from_sdk(sdk: &crate::aws::SdkConfig) -> Self {
        Self::new(crate::aws::Lazy::new(sdk, crate::aws::ssm))
    }

    pub fn new(client: impl Into<crate::aws::Lazy<aws_sdk_ssm::Client>>) -> Self {
        Self {
            client: client.into(),
        }
    }
}

impl SecretStore for SsmSecretStore {
    async fn fetch(&self, name: &str) -> Result<String, SecretError> {
        let output = self
            .client
            .get()
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| SecretError::Unavailable {
                name: name.to_string(),
                source: Box::new(e),
            })?;
        output
            .parameter
            .and_then(|p| p.value)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| SecretError::Empty(name.to_string()))
    }
}

/// In-memory secrets for unit tests.
#[derive(Debug, Clone, Default)]
pub struct StaticSecretStore {
    values: std::collections::HashMap<String, String>,
}

impl StaticSecretStore {
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.values.insert(name.to_string(), value.to_string());
        self
    }
}

impl SecretStore for StaticSecretStore {
    async fn fetch(&self, name: &str) -> Result<String, SecretError> {
        self.values
            .get(name)
            .cloned()
            .ok_or_else(|| SecretError::Unavailable {
                name: name.to_string(),
                source: "no such parameter".into(),
            })
    }
}
