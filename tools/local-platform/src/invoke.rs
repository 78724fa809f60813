//! How the local platform calls a function: through the Lambda Invoke API that
//! `cargo lambda watch` serves in front of the real binaries. Tests plug in their own invoker.

use std::future::Future;

use serde_json::Value;

/// An invocation that produced no usable result.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("function {function} could not be reached: {reason}")]
    Unreachable { function: String, reason: String },
    #[error("function {function} failed: {payload}")]
    FunctionError { function: String, payload: String },
}

/// Calls a function by its binary name with a JSON event and returns its JSON result.
pub trait Invoke: Send + Sync + 'static {
    fn invoke(
        &self,
        function: &str,
        event: Value,
    ) -> impl Future<Output = Result<Value, InvokeError>> + Send;
}

/// The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`).
pub struct RuntimeApiInvoker {
    client: reqwest::Client,
    base_url: String,
}

impl RuntimeApiInvoker {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            client: reqwest::Client::new(),
            base_url: base_url.into(),
        }
    }
}

impl Invoke for RuntimeApiInvoker {
    async fn invoke(&self, function: &str, event: Value) -> Result<Value, InvokeError> {
        let url = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.base_url
        );
        let unreachable = |reason: String| InvokeError::Unreachable {
            function: function.to_owned(),
            reason,
        };
        let res = self
            .client
            .post(url)
            .json(&event)
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let failed =
            res.headers().contains_key("x-amz-function-error") || !res.status().is_success();
        let body = res.text().await.map_err(|e| unreachable(e.to_string()))?;
        if failed {
            return Err(InvokeError::FunctionError {
                function: function.to_owned(),
                payload: body,
            });
        }
        serde_json::from_str(&body).map_err(|e| InvokeError::FunctionError {
            function: function.to_owned(),
            payload: format!("result is not JSON ({e}): {body}"),
        })
    }
}

impl<I: Invoke> Invoke for std::sync::Arc<I> {
    fn invoke(
        &self,
        function: &str,
        event: Value,
    ) -> impl Future<Output = Result<Value, InvokeError>> + Send {
        self.as_ref().invoke(function, event)
    }
}
