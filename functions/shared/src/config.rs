//! Configuration comes from the environment, read once at cold start.

#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} must be set")]
pub struct MissingEnv(pub &'static str);

pub fn required(name: &'static str) -> Result<String, MissingEnv> {
    std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or(MissingEnv(name))
}

pub fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The deployment stage (`STAGE`, from the template's `Stage` parameter). In `prod`
/// functions refuse test credentials and emulators; `dev` refuses live ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Dev,
    Prod,
}

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(transparent)]
    Missing(#[from] MissingEnv),
    #[error("STAGE must be dev or prod, not '{0}'")]
    Unknown(String),
}

impl Stage {
    pub fn from_env() -> Result<Self, StageError> {
        match required("STAGE")?.as_str() {
            "dev" => Ok(Self::Dev),
            "prod" => Ok(Self::Prod),
            other => Err(StageError::Unknown(other.to_owned())),
        }
    }
}
