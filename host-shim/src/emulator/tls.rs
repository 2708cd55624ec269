//! HTTPS beside HTTP on the same port: a connection whose first byte opens a TLS handshake is
//! served over TLS with a self-signed certificate for 127.0.0.1 and localhost, made at start.
//! Clients that build `https://` URLs themselves (simple-salesforce) then work once told to
//! trust [`Tls::cert_pem`] (`REQUESTS_CA_BUNDLE`, `NODE_EXTRA_CA_CERTS`).

use std::io;
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{crypto, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// The first byte of a TLS record carrying a handshake.
pub const HANDSHAKE: u8 = 0x16;

pub struct Tls {
    pub acceptor: TlsAcceptor,
    /// The certificate, PEM-encoded, for clients to trust.
    pub cert_pem: String,
}

impl Tls {
    pub fn self_signed() -> io::Result<Tls> {
        let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        let certified = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
        let key =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
        let chain = vec![CertificateDer::from(certified.cert.der().to_vec())];
        // An explicit provider: the process default is ambiguous when several are compiled in.
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(io::Error::other)?
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .map_err(io::Error::other)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            cert_pem: certified.cert.pem(),
        })
    }
}
