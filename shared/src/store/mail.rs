//! Outgoing mail behind a narrow trait, with SES v2 as the real sender, and the welcome email of
//! the provisioning guide.

use std::future::Future;

use secrecy::{ExposeSecret, SecretString};

use crate::platform::aws::LazyClient;

/// A send that did not go through.
#[derive(Debug, thiserror::Error)]
#[error("sending mail failed")]
pub struct MailError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// A message to send.
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// Sends mail; returns the provider's message id.
pub trait Mailer: Send + Sync {
    fn send(&self, message: &Message) -> impl Future<Output = Result<String, MailError>> + Send;
}

/// SES v2 from a verified identity.
#[derive(Clone)]
pub struct SesMailer {
    client: LazyClient<aws_sdk_sesv2::Client>,
    from: String,
}

impl SesMailer {
    /// A mailer whose SES client is built when the first message goes out.
    pub fn new(sdk: &aws_config::SdkConfig, from: impl Into<String>) -> Self {
        Self {
            client: LazyClient::new(sdk, aws_sdk_sesv2::Client::new),
            from: from.into(),
        }
    }
}

impl Mailer for SesMailer {
    async fn send(&self, message: &Message) -> Result<String, MailError> {
        use aws_sdk_sesv2::types::{
            Body, Content, Destination, EmailContent, Message as SesMessage,
        };
        let content = |text: &str| Content::builder().data(text).charset("UTF-8").build();
        let (subject, text) = match (content(&message.subject), content(&message.text)) {
            (Ok(s), Ok(t)) => (s, t),
            (Err(e), _) | (_, Err(e)) => return Err(MailError(Box::new(e))),
        };
        let out = self
            .client
            .get()
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&message.to).build())
            .content(
                EmailContent::builder()
                    .simple(
                        SesMessage::builder()
                            .subject(subject)
                            .body(Body::builder().text(text).build())
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(|e| MailError(Box::new(e)))?;
        Ok(out.message_id.unwrap_or_default())
    }
}

/// The welcome email of the provisioning guide (seed 001, step 7).
pub fn welcome_email(
    to: &str,
    admin_name: &str,
    access_url: &str,
    temporary_password: &SecretString,
) -> Message {
    Message {
        to: to.to_owned(),
        subject: "Welcome to TaskifAI - Your Account is Ready!".into(),
        text: format!(
            "Hi {admin_name},\n\n\
             Your TaskifAI account has been successfully created!\n\n\
             Access your dashboard:\n{access_url}\n\n\
             Login Credentials:\nEmail: {to}\nPassword: {password}\n\n\
             Getting Started:\n\
             1. Log in and change your password\n\
             2. Upload your first sales data file\n\
             3. Explore the AI chat assistant\n\
             4. Configure external dashboards\n\n\
             Need help? Reply to this email.\n\n\
             Welcome aboard!\nThe TaskifAI Team\n",
            password = temporary_password.expose_secret()
        ),
    }
}
