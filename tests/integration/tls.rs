//! TLS to PostgreSQL: the local server refuses plaintext as RDS with `rds.force_ssl` does, and
//! the platform's connector refuses a server that does not speak TLS, one whose certificate
//! does not chain to the configured CA, and one whose certificate names another host.

use std::process::Command;

use shared::store::postgres::tls::{CaSource, DatabaseTls};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_postgres::config::ChannelBinding;

use crate::helpers::{database_admin_url, database_tls};

fn admin_config() -> tokio_postgres::Config {
    database_admin_url().parse().expect("admin URL parses")
}

/// The platform's credentials against another server or name (`host` is what the certificate
/// must name; the connection goes to 127.0.0.1:`port`).
fn admin_config_at(host: &str, port: u16) -> tokio_postgres::Config {
    let admin = admin_config();
    let mut config = tokio_postgres::Config::new();
    config
        .host(host)
        .hostaddr(std::net::Ipv4Addr::LOCALHOST.into())
        .port(port)
        .user(admin.get_user().expect("admin user"))
        .password(admin.get_password().expect("admin password"))
        .dbname(admin.get_dbname().expect("admin database"));
    config
}

/// The refusal's whole error chain (tokio-postgres keeps the TLS cause in `source()`); panics
/// with `what` if the connection was made.
fn refused<T>(result: Result<T, tokio_postgres::Error>, what: &str) -> String {
    let Err(error) = result else {
        panic!("{what}: the connection was made");
    };
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn the_database_refuses_a_plaintext_connection() {
    // GIVEN the platform's own credentials, WHEN they connect without TLS
    let error = refused(
        admin_config().connect(tokio_postgres::NoTls).await,
        "plaintext is refused",
    );
    // THEN the server turns the connection away
    assert!(error.contains("no encryption"), "{}", error);
}

#[tokio::test]
async fn platform_connections_are_tls_with_scram_bound_to_the_channel() {
    // GIVEN the verifying connector, WHEN it connects requiring channel binding
    let mut config = admin_config();
    config.channel_binding(ChannelBinding::Require);
    let (client, connection) = database_tls()
        .connect(config)
        .await
        .expect("a verified TLS connection with SCRAM-SHA-256-PLUS");
    tokio::spawn(connection);
    // THEN the server sees TLS 1.2 or newer
    let row = client
        .query_one(
            "select ssl, version from pg_stat_ssl where pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl");
    assert!(row.get::<_, bool>(0));
    let version: String = row.get(1);
    assert!(version == "TLSv1.3" || version == "TLSv1.2", "{version}");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    // GIVEN a connector trusting a CA that did not sign the server's certificate
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("other-ca.pem");
    let status = Command::new("openssl")
        .args(["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=another CA", "-keyout"])
        .arg(dir.path().join("other-ca.key"))
        .arg("-out")
        .arg(&ca)
        .output()
        .expect("openssl runs");
    assert!(status.status.success(), "{status:?}");
    let other = DatabaseTls::new(CaSource::File(ca)).expect("the other CA loads");
    // WHEN it connects THEN the handshake fails on the certificate, before any password
    let error = refused(
        other.connect(admin_config()).await,
        "an unknown issuer is refused",
    );
    assert!(error.contains("UnknownIssuer"), "{}", error);
}

#[tokio::test]
async fn a_certificate_for_another_host_name_is_refused() {
    // GIVEN the right CA, but the server reached under a name its certificate does not carry
    let port = admin_config().get_ports()[0];
    let config = admin_config_at("db.example.internal", port);
    // WHEN the connector connects THEN the name check fails (verify-full, not verify-ca)
    let error = refused(
        database_tls().connect(config).await,
        "a name mismatch is refused",
    );
    assert!(
        error.contains("not valid for name \"db.example.internal\""),
        "{}",
        error
    );
}

#[tokio::test]
async fn a_server_without_tls_is_refused_before_credentials_are_sent() {
    // GIVEN a server that declines TLS (answers the SSLRequest with 'N')
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut request = [0u8; 8];
        socket.read_exact(&mut request).await.expect("SSLRequest");
        socket.write_all(b"N").await.expect("decline");
        let mut rest = Vec::new();
        let _ = socket.read_to_end(&mut rest).await;
        (request, rest)
    });
    let config = admin_config_at("127.0.0.1", port);
    // WHEN the platform's connector connects
    let error = refused(
        database_tls().connect(config).await,
        "a plaintext-only server is refused",
    );
    // THEN it gives up with a clear error, having sent nothing but the TLS request
    assert!(error.contains("server does not support TLS"), "{}", error);
    let (request, rest) = server.await.expect("server task");
    assert_eq!(request, [0, 0, 0, 8, 4, 210, 22, 47], "the SSLRequest");
    assert!(rest.is_empty(), "sent after the refusal: {rest:?}");
}
